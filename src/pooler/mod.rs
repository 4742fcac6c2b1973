//! Connection poolers in front of a target's database (PgBouncer): they
//! hold clients the database cannot see and may cache the users' secrets,
//! so a rotation counts their clients in the standby gate, writes the new
//! verifier where they read it (auth_file) and reloads them, and logs in
//! through each before publishing. See docs/poolers.md.

pub mod auth_file;
mod config;
mod pgbouncer;

pub use self::config::{PgBouncerConfig, PoolerConfig};
pub use self::pgbouncer::{PgBouncer, UserLook};

use crate::config::DatabaseConfig;
use crate::rotation::PoolerView;
use std::collections::BTreeSet;

/// The poolers of one target.
#[derive(Default)]
pub struct Poolers {
    pub list: Vec<PgBouncer>,
}

/// What the poolers say about the standby, gathered concurrently.
#[derive(Debug, Default)]
pub struct Looked {
    pub views: Vec<PoolerView>,
    /// Backend pids that are the poolers' own server connections.
    pub server_pids: BTreeSet<i64>,
    /// The poolers whose admin console did not answer, with why: their
    /// clients are unknown, not zero.
    pub unanswered: Vec<crate::db::DbError>,
}

impl Poolers {
    /// Builds the poolers `database.poolers` names; reads each admin
    /// password. The error is (key, message).
    pub fn from_config(
        database: &DatabaseConfig,
        env: &crate::environment::Environment,
    ) -> Result<Poolers, (String, String)> {
        let mut list = Vec::new();
        for (i, entry) in database.poolers.iter().enumerate() {
            let config = &entry.pgbouncer;
            let key = |k: &str| format!("database.poolers[{i}].pgbouncer.{k}");
            let admin = config
                .admin
                .read(&format!("the admin password of {}", config.describe()), env)
                .map_err(|(k, m)| (key(&format!("admin.{k}")), m))?;
            let pooler =
                PgBouncer::new(config, database, admin).map_err(|e| (key("tls"), e.to_string()))?;
            list.push(pooler);
        }
        Ok(Poolers { list })
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// Some pooler reads an auth_file seesaw writes.
    pub fn have_files(&self) -> bool {
        self.list.iter().any(|p| p.auth_file().is_some())
    }

    /// Each pooler's mode and clients of `user`; with `files`, also
    /// whether its auth_file is ready for a rotation of those users (a
    /// probe file is created beside it: done once per observation, not on
    /// every poll of a wait). Never fails: what cannot be read is the
    /// view's `problem`.
    pub async fn look(&self, user: &str, files: Option<&[String; 2]>) -> Looked {
        let looks = futures::future::join_all(self.list.iter().map(|p| p.look(user))).await;
        let mut looked = Looked::default();
        for (i, (pooler, look)) in self.list.iter().zip(looks).enumerate() {
            let mut view = PoolerView {
                name: pooler.describe(),
                mode: pooler.mode(),
                version: String::new(),
                clients: 0,
                file: String::new(),
                problem: None,
            };
            match look {
                Ok(l) => {
                    view.version = l.version;
                    view.clients = l.clients;
                    looked.server_pids.extend(l.server_pids);
                    if let (None, Some(live), Some(users)) =
                        (pooler.auth_file(), &l.auth_file, files)
                    {
                        view.problem = unwritten_entries(live, users, i);
                    }
                }
                Err(e) => {
                    view.problem = Some(format!("cannot use its admin console: {e}"));
                    looked.unanswered.push(e);
                }
            }
            let Some(users) = files else {
                looked.views.push(view);
                continue;
            };
            match pooler.auth_file_state(users) {
                Ok(note) => view.file = note,
                Err(why) => {
                    let problem = format!("cannot write its auth_file: {why}");
                    view.problem = Some(match view.problem.take() {
                        Some(p) => format!("{p}; {problem}"),
                        None => problem,
                    });
                }
            }
            looked.views.push(view);
        }
        looked
    }

    /// The poolers reading a file, one per distinct file (two PgBouncers
    /// on one host may share one): each file is written once.
    pub fn file_writers(&self) -> Vec<&PgBouncer> {
        let mut seen = BTreeSet::new();
        self.list
            .iter()
            .filter(|p| match p.auth_file() {
                Some(path) => {
                    seen.insert(std::fs::canonicalize(path).unwrap_or(path.to_path_buf()))
                }
                None => false,
            })
            .collect()
    }
}

/// Configured for auth_query, but PgBouncer's own auth_file (SHOW CONFIG)
/// lists a user of the pair: PgBouncer checks that user against the file,
/// which seesaw was not told to write, so the new password would be
/// refused there. Found before anything changes. A file seesaw cannot
/// read says nothing either way.
fn unwritten_entries(live: &str, users: &[String; 2], i: usize) -> Option<String> {
    let path = std::path::Path::new(live);
    let listed: Vec<&String> = users
        .iter()
        .filter(|u| auth_file::has_entry(path, u).unwrap_or(false))
        .collect();
    (!listed.is_empty()).then(|| {
        format!(
            "PgBouncer checks {listed:?} against its auth_file {live} (SHOW CONFIG), which \
                seesaw is not told to write: the new password would be refused there. Set \
                    database.poolers[{i}].pgbouncer.auth_file: {live}, or remove those lines to \
                        let auth_query look the users up"
        )
    })
}
