//! Steps 1 and 2 of the protocol: lock and observe.

use super::engine::{Engine, Purpose};
use super::observed::Observed;
use crate::db::{lock_key, Session};
use crate::error::Error;
use crate::progress::Progress;
use crate::rotation::Observation;
use crate::secret::Credential;
use crate::store::StoreState;

impl Engine {
    /// The store's state and current credential; the previous version only
    /// `with_previous` (see [`crate::store::SecretStore::read_latest`]).
    pub(super) async fn read_store(
        &self,
        with_previous: bool,
    ) -> Result<(StoreState, Credential), Error> {
        let read = if with_previous {
            self.backends.store.read().await
        } else {
            self.backends.store.read_latest().await
        };
        let state = read.map_err(|source| {
            self.on()
                .store("read the current secret".into(), source, None)
        })?;
        let current = state.current.document.credential().map_err(|e| {
            self.on().inconsistent(format!(
                "{}: current version {}: {e}; expected at least {{\"username\": ..., \
                    \"password\": ...}}",
                self.backends.store.describe(),
                state.current.version
            ))
        })?;
        let users = &self.config.database.users;
        if !users.contains(&current.username) {
            return Err(self.on().inconsistent(format!(
                "{}: the current credential is for {:?}, which is not one of database.users \
                        {:?}; fix the store or the config",
                self.backends.store.describe(),
                current.username,
                users
            )));
        }
        Ok((state, current))
    }

    /// Lock, then observe. The store is read again once the lock is held,
    /// so the decision is made on what the last lock holder left.
    /// Consumers that lag the store are repaired first (step 3) only by a
    /// rotation that holds the lock; otherwise what would be healed is only
    /// reported. A rollback does not require the current credential to
    /// log in (it is for when it does not); under `admin: self` it logs in
    /// with the previous one.
    pub(super) async fn observe(
        &self,
        purpose: Purpose,
        progress: &dyn Progress,
    ) -> Result<Observed, Error> {
        // Only `admin: self` needs the store before the lock: its login is
        // a credential the store holds. Under the lock the store is read
        // again either way; the previous version only when the run can use
        // it (`admin: self` acts with it, a rollback returns to it).
        let with_previous = self.admin.is_none() || purpose == Purpose::Rollback;
        let login = match &self.admin {
            Some(admin) => admin.clone(),
            None => {
                let (first_state, first) = self.read_store(true).await?;
                match purpose {
                    Purpose::Rollback => first_state
                        .previous
                        .as_ref()
                        .and_then(|p| p.document.credential().ok())
                        .ok_or_else(|| {
                            self.on().inconsistent(
                                "rollback under `admin: self` logs in with the store's \
                                previous credential, and there is none"
                                    .into(),
                            )
                        })?,
                    _ => first,
                }
            }
        };
        let mut control = self.control_session(&login).await?;
        let lock_acquired = control
            .try_lock(lock_key(self.name()))
            .await
            .map_err(self.db_error("take the target's advisory lock".into(), None))?;
        match self
            .observe_locked(
                purpose,
                progress,
                &mut control,
                lock_acquired,
                &login,
                with_previous,
            )
            .await
        {
            Ok((state, observation, watcher)) => Ok(Observed {
                state,
                observation,
                control,
                watcher,
            }),
            Err(e) => {
                if lock_acquired {
                    let _ = control.unlock(lock_key(self.name())).await;
                }
                Err(e)
            }
        }
    }

    /// Observe's part under the lock (or without it, when another holds
    /// it: then nothing is changed and the plan says so).
    async fn observe_locked(
        &self,
        purpose: Purpose,
        progress: &dyn Progress,
        control: &mut Box<dyn Session>,
        lock_acquired: bool,
        login: &Credential,
        with_previous: bool,
    ) -> Result<(StoreState, Observation, Option<Box<dyn Session>>), Error> {
        let db_err = |doing: &str| self.db_error(doing.to_owned(), None);
        let (state, current) = self.read_store(with_previous).await?;
        let proven = self.admin.is_none() && current.username == login.username;
        let users = self.config.database.users.clone();
        let standby = crate::rotation::standby_of(&users, &current.username);
        let mut watcher = self.standby_watcher(&state, standby).await?;
        // The proof that the current credential logs in is a fresh login;
        // it runs while the control session reads the catalog (and the
        // pending credential is tried), so a run waits for the slower of
        // the two, not their sum. Nothing here changes anything.
        let prove = async {
            if purpose == Purpose::Rollback || proven {
                return Ok(());
            }
            let doing = format!(
                "log in with the store's current credential ({:?}, version {})",
                current.username, state.current.version
            );
            self.prove_login(&current, doing, None).await
        };
        let catalog = async {
            // The standby's own session logged in: it exists.
            let standby_exists = match &watcher {
                Some(_) => true,
                None => control
                    .role_exists(standby)
                    .await
                    .map_err(db_err("look up the standby role"))?,
            };
            let active_memberships = control
                .memberships(&current.username)
                .await
                .map_err(db_err("read the active user's memberships"))?;
            let watch = watcher.as_mut().unwrap_or(&mut *control);
            let standby_pids = watch
                .sessions_of(standby)
                .await
                .map_err(db_err("count the standby's sessions"))?;
            let standby_memberships = watch
                .memberships(standby)
                .await
                .map_err(db_err("read the standby's memberships"))?;
            // Under `admin: self` a user always changes its own password.
            let admin_cannot = match (&self.admin, standby_exists) {
                (Some(_), true) => control
                    .cannot_set_password_of(standby)
                    .await
                    .map_err(db_err("read the admin's privileges"))?,
                _ => None,
            };
            let pending = match &state.pending {
                None => None,
                Some(p) => Some(
                    self.view_pending(
                        p,
                        &state.current.document,
                        &current.username,
                        standby_exists,
                    )
                    .await,
                ),
            };
            Ok::<_, Error>((
                standby_exists,
                standby_pids,
                active_memberships,
                standby_memberships,
                admin_cannot,
                pending,
            ))
        };
        // The poolers are asked at the same time: their clients of the
        // standby, their own server connections, whether seesaw can use them.
        let poolers = self.backends.poolers.look(standby, Some(&users));
        // A rollback publishes the previous credential: whether it logs in
        // is part of what its plan (and every preview of it) decides on.
        let previous_proof = async {
            let Some(previous) = state
                .previous
                .as_ref()
                .filter(|_| purpose == Purpose::Rollback)
            else {
                return Ok(None);
            };
            let Ok(credential) = previous.document.credential() else {
                return Ok(Some(false));
            };
            let doing = format!(
                "log in with the store's previous credential ({:?}, version {})",
                credential.username, previous.version
            );
            match self.prove_login(&credential, doing, None).await {
                Ok(()) => Ok(Some(true)),
                Err(Error::Database {
                    source: crate::db::DbError::LoginFailed { .. },
                    ..
                })
                | Err(Error::Inconsistent { .. }) => Ok(Some(false)),
                Err(e) => Err(e),
            }
        };
        // The preflight tries every write to the consumers, changing nothing.
        let writes = self.preflight(purpose, &state, standby);
        let (proof, catalog, poolers, previous_logs_in, writes) =
            tokio::join!(prove, catalog, poolers, previous_proof, writes);
        let previous_logs_in = previous_logs_in?;
        match proof {
            Ok(()) => {}
            // Refused: the store and the database disagree. Anything else
            // (an outage, a shutdown) is not a mismatch and says so through
            // its own error.
            Err(Error::Database {
                target,
                doing,
                source: source @ crate::db::DbError::LoginFailed { .. },
                ..
            }) => {
                return Err(Error::Database {
                    target,
                    doing,
                    source,
                    hint: Some(self.mismatch_hint().await),
                })
            }
            Err(e) => return Err(e),
        }
        let (
            standby_exists,
            standby_pids,
            active_memberships,
            standby_memberships,
            admin_cannot,
            pending,
        ) = catalog?;
        let previous = state.previous.as_ref().and_then(|p| {
            p.document
                .username()
                .ok()
                .map(|u| (u.to_owned(), p.version.clone()))
        });
        let heal = purpose == Purpose::Rotate && lock_acquired;
        let consumers = match (&self.backends.consumers, writes?) {
            (Some(c), Some(writes)) => Some(
                self.view_consumers(c.as_ref(), &state, heal, writes, progress)
                    .await?,
            ),
            _ => None,
        };
        let observation = Observation {
            target: self.name().to_owned(),
            users,
            active: current.username.clone(),
            current_version: state.current.version.clone(),
            previous,
            previous_logs_in,
            lock_acquired,
            standby_exists,
            // A pooler's idle server connections of the standby are not
            // applications: they stay logged in after the change.
            standby_sessions: standby_pids.difference(&poolers.server_pids).count() as u64,
            active_memberships,
            standby_memberships,
            admin_cannot,
            consumers,
            pending,
            poolers: poolers.views,
        };
        Ok((state, observation, watcher))
    }
}
