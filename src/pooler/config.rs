//! `database.poolers`: the connection poolers in front of a target's
//! database that cache credentials and must learn each new one.

use crate::config::{AdminLogin, TlsMode};
use serde::Deserialize;
use std::path::PathBuf;

/// One entry of `database.poolers`, keyed by the pooler's kind. PgBouncer
/// is the only kind so far; a misspelt kind is an error naming the known one.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PoolerConfig {
    pub pgbouncer: PgBouncerConfig,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PgBouncerConfig {
    pub host: String,
    #[serde(default = "default_port")]
    pub port: u16,
    /// A user listed in PgBouncer's `admin_users`: seesaw counts the
    /// standby's clients (SHOW CLIENTS) and reloads (RELOAD) with it.
    pub admin: AdminLogin,
    /// The `auth_file` PgBouncer reads, when it uses one: seesaw writes the
    /// standby's new SCRAM verifier into it. Omitted when PgBouncer looks
    /// passwords up with `auth_query` (then nothing is written).
    #[serde(default)]
    pub auth_file: Option<PathBuf>,
    /// The database name clients use through PgBouncer (its `[databases]`
    /// key); `database.dbname` by default.
    #[serde(default)]
    pub dbname: Option<String>,
    /// TLS to PgBouncer; `database.tls` by default.
    #[serde(default)]
    pub tls: Option<TlsMode>,
    /// CA bundle for `tls: verify-full`; `database.ca_file` by default.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
}

fn default_port() -> u16 {
    6432
}

impl PgBouncerConfig {
    /// "pgbouncer 127.0.0.1:6432": names it in messages.
    pub fn describe(&self) -> String {
        format!("pgbouncer {}:{}", self.host, self.port)
    }

    /// The problem with this entry, as (key under the entry, message).
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        if self.host.trim().is_empty() {
            return Err(("host", "expected a host name or address".into()));
        }
        if self.port == 0 {
            return Err(("port", "expected a port between 1 and 65535".into()));
        }
        if self.admin.username.is_empty() {
            return Err((
                "admin.username",
                "expected a user listed in PgBouncer's admin_users".into(),
            ));
        }
        self.admin.validate().map_err(|m| ("admin", m))?;
        if let Some(path) = &self.auth_file {
            if path.as_os_str().is_empty() || path.file_name().is_none() {
                return Err((
                    "auth_file",
                    format!("expected the path of PgBouncer's auth_file, got {path:?}"),
                ));
            }
        }
        Ok(())
    }
}
