//! The engine's steps on the connection poolers (PgBouncer): counting the
//! standby's clients, writing its verifier and reloading, logging in
//! through each. The order is the protocol's: the database first, then the
//! poolers, then the proof through them, then publish (docs/poolers.md).

use super::engine::Engine;
use super::outcome::Outcome;
use crate::db::Session;
use crate::error::Error;
use crate::progress::Progress;
use crate::secret::Credential;
use secrecy::SecretString;
use std::time::{Duration, Instant};

/// How long a login through a pooler is retried while the pooler refuses
/// it as transient. PgBouncer rejects every new client of a user for
/// `server_login_retry` (15 s by default) after one failed server login,
/// which a stale client of the standby may have caused just before; two
/// intervals and a margin cover it.
const THROUGH_POOLER_PATIENCE: Duration = Duration::from_secs(35);

impl Engine {
    /// Everything that may still hold `role`'s credential: its sessions in
    /// the database that are not a pooler's own server connections (those
    /// stay valid after a password change), plus the poolers' clients of it.
    pub(super) async fn standby_in_use(
        &self,
        control: &mut Box<dyn Session>,
        role: &str,
    ) -> Result<u64, Error> {
        let (pids, looked) = tokio::join!(
            control.sessions_of(role),
            self.backends.poolers.look(role, None)
        );
        let pids = pids.map_err(self.db_error(format!("count sessions of {role:?}"), None))?;
        if let Some(unanswered) = looked.unanswered.into_iter().next() {
            return Err(self.db_error(
                format!("count the clients of {role:?} on the poolers"),
                None,
            )(unanswered));
        }
        let in_db = pids.difference(&looked.server_pids).count() as u64;
        Ok(in_db + looked.views.iter().map(|v| v.clients).sum::<u64>())
    }

    /// Writes `role`'s verifier into every auth_file (each file once) and
    /// reloads every pooler. A RELOAD's reply says nothing about the file,
    /// so the verify step logs in through each pooler afterwards.
    pub(super) async fn update_poolers(
        &self,
        role: &str,
        verifier: &SecretString,
    ) -> Result<Outcome, Error> {
        let mut written = Vec::new();
        for pooler in self.backends.poolers.file_writers() {
            let wrote = pooler.write_secret(role, verifier).await.map_err(
                self.db_error(
                    format!(
                        "write {role:?}'s verifier for \
                    {}",
                        pooler.describe()
                    ),
                    Some(
                        "the database already holds the new password, which nothing uses yet; fix \
                        the file's access and run again (the rotation resumes)"
                            .into(),
                    ),
                ),
            )?;
            if let (Some(w), Some(path)) = (wrote, pooler.auth_file()) {
                written.push(format!(
                    "{} {role:?} in {}",
                    match w {
                        crate::pooler::auth_file::Written::Replaced => "replaced",
                        crate::pooler::auth_file::Written::Added => "added",
                    },
                    path.display()
                ));
            }
        }
        let reloads =
            futures::future::join_all(self.backends.poolers.list.iter().map(|p| p.reload())).await;
        for (pooler, reloaded) in self.backends.poolers.list.iter().zip(reloads) {
            reloaded.map_err(self.db_error(
                format!("reload {}", pooler.describe()),
                Some("the new verifier is written but this PgBouncer may still hold the old one; \
                    run again (the rotation resumes and reloads it)".into()),
            ))?;
        }
        Ok(Outcome::PoolersUpdated {
            written,
            reloaded: self.backends.poolers.list.len(),
        })
    }

    /// Logs in as `cred` through every pooler, as applications will.
    pub(super) async fn verify_through_poolers(
        &self,
        cred: &Credential,
        progress: &dyn Progress,
    ) -> Result<(), Error> {
        for pooler in &self.backends.poolers.list {
            let doing = format!(
                "verify that {:?} logs in through {} with the new credential",
                cred.username,
                pooler.describe()
            );
            let started = Instant::now();
            loop {
                let attempt = async {
                    let mut session = pooler.through().login(cred).await?;
                    session.probe().await
                };
                // Bounded: a full pool makes PgBouncer hold the query for
                // its query_wait_timeout (120 s, or forever).
                let db = &self.config.database;
                let bound = (db.connect_timeout * 2 + db.statement_timeout)
                    .min(THROUGH_POOLER_PATIENCE.saturating_sub(started.elapsed()))
                    .max(Duration::from_secs(1));
                let attempt = tokio::time::timeout(bound, attempt)
                    .await
                    .unwrap_or_else(|_| {
                        Err(crate::db::DbError::Unreachable {
                            db: pooler.describe(),
                            reason: format!(
                                "no answer to the login and probe within {}s (is its pool full?)",
                                bound.as_secs()
                            ),
                        })
                    });
                let error = match attempt {
                    Ok(user) if user == cred.username => break,
                    Ok(user) => {
                        return Err(self.on().inconsistent(format!(
                            "{doing}: logged in as {user:?}; the pooler's \
                                [databases] entry forces another user, and seesaw cannot rotate \
                                    behind it"
                        )))
                    }
                    Err(e) => e,
                };
                let waited = started.elapsed();
                if !error.is_transient()
                    || waited >= THROUGH_POOLER_PATIENCE
                    || progress.cancelled()
                {
                    return Err(self.db_error(doing, None)(error));
                }
                progress.waiting(
                    self.name(),
                    &format!(
                        "{} refuses the login for now ({}); retrying ({}s of {}s)",
                        pooler.describe(),
                        error.kind(),
                        waited.as_secs(),
                        THROUGH_POOLER_PATIENCE.as_secs()
                    ),
                );
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
        Ok(())
    }
}
