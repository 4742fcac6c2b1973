//! The steps of a plan, one function each: what each does to the
//! database, the store and the consumers. The order and the decisions are
//! `rotation`'s; the engine dispatches (`Engine::step`).

use super::engine::Engine;
use super::observed::Observed;
use super::outcome::{Outcome, RunState, Staged};
use crate::consumers::SyncReason;
use crate::db::Session;
use crate::error::Error;
use crate::progress::Progress;
use crate::rotation::{self, Action, Actor, Plan, Step};
use crate::secret::Credential;
use crate::store::PublishRequest;
use std::time::{Duration, Instant};

impl Engine {
    /// Runs one step over what earlier steps left in the run's state; returns
    /// what it did, for the driver to carry on.
    pub(super) async fn step(
        &self,
        step: &Step,
        plan: &Plan,
        seen: &mut Observed,
        run: &RunState,
        progress: &dyn Progress,
    ) -> Result<Outcome, Error> {
        let mut own = None;
        match step {
            Step::WaitForSessions { role, timeout } => {
                self.wait_for_sessions(step, role, *timeout, seen, progress)
                    .await
            }
            Step::TerminateSessions { role, by } => {
                let session = self.actor(*by, seen, &mut own).await?;
                let count = session
                    .terminate_sessions_of(role)
                    .await
                    .map_err(self.db_error(format!("end sessions of {role:?}"), None))?;
                Ok(Outcome::SessionsEnded { count })
            }
            Step::CreateStandby { role, like } => {
                let copied = seen
                    .control
                    .create_login_role_like(role, like)
                    .await
                    .map_err(self.db_error(format!("create {role:?} like {like:?}"), None))?;
                Ok(Outcome::StandbyCreated {
                    memberships: copied.memberships,
                    settings: copied.settings,
                })
            }
            Step::GrantMembership { role, group } => {
                seen.control
                    .grant_membership(group, role)
                    .await
                    .map_err(self.db_error(format!("grant {group:?} to {role:?}"), None))?;
                Ok(Outcome::MembershipGranted {
                    group: group.clone(),
                })
            }
            Step::RevokeMembership { role, group } => {
                seen.control
                    .revoke_membership(group, role)
                    .await
                    .map_err(self.db_error(format!("revoke {group:?} from {role:?}"), None))?;
                Ok(Outcome::MembershipRevoked {
                    group: group.clone(),
                })
            }
            Step::Stage { username, replaces } => {
                self.stage(username, replaces, plan, seen, run).await
            }
            Step::SetPassword { role, by } => {
                self.set_password(role, *by, seen, run, &mut own).await
            }
            Step::UpdatePoolers { role } => {
                let verifier = run.verifier().ok_or_else(|| self.no_credential_for(role))?;
                self.update_poolers(role, verifier).await
            }
            Step::Verify { role } => self.verify(role, plan, seen, run, progress).await,
            Step::Publish { username, replaces } => {
                self.publish(username, replaces, seen, run).await
            }
            Step::Propagate { username } => self.propagate(username, plan, run, progress).await,
        }
    }

    /// Waits, bounded by `timeout`, until nothing holds the standby's
    /// credential (its sessions, the poolers' clients of it).
    async fn wait_for_sessions(
        &self,
        step: &Step,
        role: &str,
        timeout: Duration,
        seen: &mut Observed,
        progress: &dyn Progress,
    ) -> Result<Outcome, Error> {
        let started = Instant::now();
        let mut reported: Option<(u64, Instant)> = None;
        loop {
            let n = self.standby_in_use(seen.watch(), role).await?;
            if n == 0 {
                return Ok(Outcome::SessionsClosed {
                    waited: started.elapsed(),
                });
            }
            if progress.cancelled() {
                return Err(self.on().interrupted(
                    step.name(),
                    "stopped while waiting for the standby's sessions (the run was \
                        cancelled: shutdown, or its deadline came); the next run resumes"
                        .into(),
                ));
            }
            if started.elapsed() >= timeout {
                let gate = rotation::Gate {
                    name: rotation::GateName::StandbySessions,
                    verdict: rotation::Verdict::Blocked,
                    detail: format!(
                        "{role:?} still has {n} session{} after waiting {}; find them in \
                            pg_stat_activity (and with SHOW CLIENTS on the poolers, if any) or \
                                raise standby_wait_timeout",
                        if n == 1 { "" } else { "s" },
                        crate::duration::format(timeout)
                    ),
                };
                return Err(self.on().blocked("rotation", vec![gate], n));
            }
            // Said when the count changes, else every 10 s: a
            // five-minute wait is a few lines, not six hundred.
            if reported.is_none_or(|(m, at): (u64, Instant)| {
                m != n || at.elapsed() >= Duration::from_secs(10)
            }) {
                progress.waiting(
                    self.name(),
                    &format!(
                        "{role:?} has {n} open session(s); waiting ({}s of {})",
                        started.elapsed().as_secs(),
                        crate::duration::format(timeout)
                    ),
                );
                reported = Some((n, Instant::now()));
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    /// Writes the standby's new credential (a rollback: the previous one)
    /// as the store's pending version, before the database changes.
    async fn stage(
        &self,
        username: &str,
        replaces: &str,
        plan: &Plan,
        seen: &mut Observed,
        run: &RunState,
    ) -> Result<Outcome, Error> {
        let (document, credential) = match plan.action {
            Action::Rotate => {
                let password = self.config.password.generate();
                let credential = Credential::new(username.to_owned(), password);
                let document =
                    self.complete(&seen.state.current.document.with_credential(&credential));
                (document, credential)
            }
            Action::Rollback => {
                let previous = seen
                    .state
                    .previous
                    .as_ref()
                    .ok_or_else(|| self.no_credential_for(username))?;
                let credential = previous
                    .document
                    .credential()
                    .map_err(|_| self.no_credential_for(username))?;
                (previous.document.clone(), credential)
            }
        };
        let version = self
            .backends
            .store
            .stage(PublishRequest {
                document: &document,
                replaces,
                token: &run.token,
            })
            .await
            .map_err(|source| {
                self.on().store(
                    match plan.action {
                        Action::Rotate => format!("write {username:?}'s new credential as pending"),
                        Action::Rollback => {
                            format!("write {username:?}'s previous credential as pending")
                        }
                    },
                    source,
                    Some("nothing was changed in the database".into()),
                )
            })?;
        Ok(Outcome::Staged(Staged {
            credential,
            document,
            version,
        }))
    }

    /// Gives the standby exactly the staged password.
    async fn set_password(
        &self,
        role: &str,
        by: Actor,
        seen: &mut Observed,
        run: &RunState,
        own: &mut Option<Box<dyn Session>>,
    ) -> Result<Outcome, Error> {
        let staged = run
            .staged()
            .filter(|p| p.credential.username == role)
            .ok_or_else(|| self.no_credential_for(role))?;
        let password = staged.credential.password.clone();
        let session = self.actor(by, seen, own).await?;
        let verifier = session
            .set_password(role, &password)
            .await
            .map_err(self.db_error(format!("set the password of standby {role:?}"), None))?;
        Ok(Outcome::PasswordSet {
            verifier,
            postgres: self.config.database.engine == crate::config::Engine::Postgres,
        })
    }

    /// Proves the new credential logs in, directly and through every pooler.
    async fn verify(
        &self,
        role: &str,
        plan: &Plan,
        seen: &mut Observed,
        run: &RunState,
        progress: &dyn Progress,
    ) -> Result<Outcome, Error> {
        let cred = match plan.action {
            Action::Rotate => run.staged().map(|p| p.credential.clone()),
            Action::Rollback => seen
                .state
                .previous
                .as_ref()
                .and_then(|p| p.document.credential().ok()),
        }
        .filter(|c| c.username == role)
        .ok_or_else(|| self.no_credential_for(role))?;
        self.prove_login(
            &cred,
            match plan.action {
                Action::Rotate => format!("verify that {role:?} logs in with the new credential"),
                Action::Rollback => {
                    format!("verify that {role:?} still logs in with its previous credential")
                }
            },
            None,
        )
        .await?;
        if self.backends.poolers.is_empty() {
            return Ok(Outcome::Verified { poolers: 0 });
        }
        self.verify_through_poolers(&cred, progress)
            .await
            .map_err(|e| match e {
                Error::Database {
                    target,
                    doing,
                    source,
                    hint: None,
                } => Error::Database {
                    target,
                    doing,
                    source,
                    hint: Some(
                        "the database accepts this password but the pooler does not: \
                        nothing was published, and applications keep the current credential. \
                            Check that database.poolers matches the pooler (auth_file or \
                                auth_query) and its log, then run again"
                            .into(),
                    ),
                },
                other => other,
            })?;
        Ok(Outcome::Verified {
            poolers: self.backends.poolers.list.len(),
        })
    }

    /// Makes the staged version current, if this run still holds the lock.
    async fn publish(
        &self,
        username: &str,
        replaces: &str,
        seen: &mut Observed,
        run: &RunState,
    ) -> Result<Outcome, Error> {
        // Staged by this run (or resumed): a rotation's new
        // credential, or a rollback's previous one.
        let staged = run
            .staged()
            .filter(|p| p.credential.username == username)
            .ok_or_else(|| self.no_credential_for(username))?;
        self.still_locked(seen).await?;
        let version = self.backends.store.promote(&staged.version, replaces).await;
        let version = match version {
            Ok(v) => v,
            Err(source) => {
                let state = self.probe_state().await;
                return Err(self.on().store(
                    format!("publish {username:?} as the current credential"),
                    source,
                    Some(state),
                ));
            }
        };
        Ok(Outcome::Published {
            document: staged.document.clone(),
            version,
        })
    }

    /// Writes the published credential into the consumers.
    async fn propagate(
        &self,
        username: &str,
        plan: &Plan,
        run: &RunState,
        progress: &dyn Progress,
    ) -> Result<Outcome, Error> {
        let (Some(consumers), Some((document, version))) =
            (&self.backends.consumers, run.published())
        else {
            return Err(self.no_credential_for(username));
        };
        let reason = match plan.action {
            Action::Rotate => SyncReason::Rotation,
            Action::Rollback => SyncReason::Rollback,
        };
        let done = consumers
            .sync(self.name(), document, version, reason, false, progress)
            .await
            .map_err(|source| {
                self.on().consumers(
                    format!(
                        "propagate version {version} ({username:?}); it is published and \
                    the next run heals the consumers"
                    ),
                    source,
                )
            })?;
        Ok(Outcome::Propagated(done))
    }
}
