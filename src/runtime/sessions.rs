//! The database sessions the engine works through: the control session
//! (the admin, or the active user under `admin: self`), the standby's own
//! watching session, the session a step acts with, and the proofs that a
//! credential logs in and that the target's lock is still held.

use super::engine::Engine;
use super::observed::Observed;
use crate::db::{lock_key, Session};
use crate::error::Error;
use crate::rotation::Actor;
use crate::secret::Credential;
use crate::store::StoreState;

impl Engine {
    /// The session that takes the lock and reads the catalog: the admin, or
    /// under `admin: self` the active user.
    pub(super) async fn control_session(
        &self,
        current: &Credential,
    ) -> Result<Box<dyn Session>, Error> {
        let (who, hint) = match &self.admin {
            Some(admin) => (admin, self.admin_hint()),
            None => (
                current,
                Some(
                    "with `admin: self` seesaw logs in as the active user; check the store's \
                    current credential"
                        .into(),
                ),
            ),
        };
        self.backends.database.login(who).await.map_err(|source| {
            // The password hint only helps when the password was refused.
            let hint = hint.filter(|_| matches!(source, crate::db::DbError::LoginFailed { .. }));
            let doing = format!(
                "log in as {} {:?}",
                if self.admin.is_some() {
                    "admin"
                } else {
                    "active user"
                },
                who.username
            );
            self.on().database(doing, source, hint)
        })
    }

    fn admin_hint(&self) -> Option<String> {
        use crate::config::{AdminConfig, AdminLogin};
        match &self.config.database.admin {
            AdminConfig::Login(AdminLogin {
                password_env: Some(var),
                ..
            }) => Some(format!(
                "Check the admin password in ${var} and database.admin.username"
            )),
            AdminConfig::Login(AdminLogin {
                password_file: Some(p),
                ..
            }) => Some(format!(
                "Check the admin password in {} and database.admin.username",
                p.display()
            )),
            _ => None,
        }
    }

    /// Proves a credential logs in as the role it names.
    pub(super) async fn prove_login(
        &self,
        cred: &Credential,
        doing: String,
        hint: Option<String>,
    ) -> Result<(), Error> {
        let wrap = |source| self.on().database(doing.clone(), source, hint.clone());
        let mut session = self.backends.database.login(cred).await.map_err(wrap)?;
        let user = session.probe().await.map_err(wrap)?;
        if user != cred.username {
            return Err(self.on().inconsistent(format!(
                "{doing}: logged in as {user:?}, expected {:?}",
                cred.username
            )));
        }
        Ok(())
    }

    /// The session that sees the standby's sessions and grants: `None` for
    /// the control session (an admin sees them, and so does any PostgreSQL
    /// user). Under `admin: self` on an engine whose users see only
    /// themselves (MariaDB), it is the standby itself, logged in with the
    /// credential the store keeps for it: the previous version, or the
    /// pending one once a resumed rotation has set it.
    pub(super) async fn standby_watcher(
        &self,
        state: &StoreState,
        standby: &str,
    ) -> Result<Option<Box<dyn Session>>, Error> {
        if self.admin.is_some() || !self.backends.database.users_see_only_themselves() {
            return Ok(None);
        }
        let doing = format!(
            "log in as standby {standby:?} to see its sessions and grants (with `admin: self` on \
                {} only the standby sees them)",
            self.config.database.engine.name()
        );
        let kept = [state.previous.as_ref(), state.pending.as_ref()];
        let mut refused = None;
        for version in kept.into_iter().flatten() {
            let Ok(credential) = version.document.credential() else {
                continue;
            };
            if credential.username != standby {
                continue;
            }
            match self.backends.database.login(&credential).await {
                Ok(session) => return Ok(Some(session)),
                Err(e @ crate::db::DbError::LoginFailed { .. }) => refused = Some(e),
                Err(e) => return Err(self.db_error(doing, None)(e)),
            }
        }
        let hint = "`admin: self` needs the standby's working credential in the store's previous \
            version; write it there (seesaw setup-sql shows the document)"
            .to_owned();
        Err(match refused {
            Some(source) => self.on().database(doing, source, Some(hint)),
            None => self.on().inconsistent(format!("cannot {doing}: {hint}")),
        })
    }

    /// The hint when the current credential does not log in: an outage is
    /// not a mismatch, and rollback is offered only when the previous
    /// credential is proven to work.
    pub(super) async fn mismatch_hint(&self) -> String {
        // Read afresh: the observation may not have read the previous version.
        let previous = self
            .backends
            .store
            .read()
            .await
            .ok()
            .and_then(|s| s.previous);
        let previous_works = match previous.map(|p| p.document.credential()) {
            Some(Ok(c)) => self.prove_login(&c, String::new(), None).await.is_ok(),
            _ => false,
        };
        if previous_works {
            format!(
                "seesaw will not act on a store that does not match the database. The \
                previous version logs in: `seesaw rollback {}` restores it",
                self.name()
            )
        } else {
            "seesaw will not act on a store that does not match the database. The previous \
                version does not log in either: set the active user's password to the stored one \
                    (ALTER ROLE ... PASSWORD) and run again"
                .into()
        }
    }

    /// The session that acts on the standby: the admin's control session,
    /// or under `admin: self` the standby's watching session if there is
    /// one, else a fresh login as the standby with the password kept in the
    /// store's previous version.
    pub(super) async fn actor<'s>(
        &self,
        by: Actor,
        seen: &'s mut Observed,
        own: &'s mut Option<Box<dyn Session>>,
    ) -> Result<&'s mut Box<dyn Session>, Error> {
        match by {
            Actor::Admin => Ok(&mut seen.control),
            // The standby's own session, already open to watch it (so a
            // terminate does not end it as one of the standby's sessions).
            Actor::Itself if seen.watcher.is_some() => Ok(seen.watch()),
            Actor::Itself => {
                // A resumed rotation whose password is already set (and is
                // set again for the poolers) logs in with that one: the
                // previous password no longer works.
                let set = seen.observation.pending.as_ref().is_some_and(|p| p.logs_in);
                let version = if set {
                    seen.state.pending.as_ref()
                } else {
                    seen.state.previous.as_ref()
                };
                let previous = version.map(|p| p.document.credential());
                let cred = match previous {
                    Some(Ok(c)) => c,
                    _ => {
                        return Err(self.on().inconsistent(
                            "`admin: self` needs the standby's credential in the \
                                store's previous version, and it is missing or incomplete"
                                .into(),
                        ))
                    }
                };
                let session = match self.backends.database.login(&cred).await {
                    Ok(s) => s,
                    Err(source) => {
                        let state = self.probe_state().await;
                        return Err(self.on().database(
                            format!(
                                "log in as standby {:?} with its previous password (admin: self)",
                                cred.username
                            ),
                            source,
                            Some(state),
                        ));
                    }
                };
                Ok(own.insert(session))
            }
        }
    }

    /// Proves the control session still holds the target's advisory lock,
    /// right before publishing. A session that was terminated, or lost to
    /// a server restart or a network reset, no longer holds it: another run
    /// may be rotating, so this one stops without publishing.
    pub(super) async fn still_locked(&self, seen: &mut Observed) -> Result<(), Error> {
        let why = match seen.control.lock_held(lock_key(self.name())).await {
            Ok(true) => return Ok(()),
            Ok(false) => "the session no longer holds it".to_owned(),
            Err(e) => format!("the session holding it is gone ({})", e.kind()),
        };
        let state = self
            .probe_state_since(Some(&seen.state.current.version))
            .await;
        Err(self.on().lock_lost(why, state))
    }
}
