//! Databases: what the protocol asks of the engine that holds the roles.
//!
//! [`Database::login`] opens a [`Session`] as some credential; everything
//! else happens on a session, so the same calls serve the admin login, the
//! `admin: self` login and the verification of a new password.

mod kept;
#[cfg(feature = "mysql")]
mod mysql;
mod postgres;
mod role_config;
mod tls;

pub use self::kept::Keeper;
#[cfg(feature = "mysql")]
pub(crate) use self::mysql::native_hash as mysql_native_hash;
#[cfg(feature = "mysql")]
pub use self::mysql::MySql;
pub use self::postgres::Postgres;
pub(crate) use self::postgres::{login_error, reason as postgres_reason};
pub(crate) use self::tls::client_config as tls_client_config;

use crate::secret::Credential;
use async_trait::async_trait;
use secrecy::SecretString;
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;

#[async_trait]
pub trait Database: Send + Sync {
    /// "postgres 127.0.0.1:5432/app": names the database in messages.
    fn describe(&self) -> String;
    /// Logs in as `credential` with the host and TLS settings applications use.
    async fn login(&self, credential: &Credential) -> Result<Box<dyn Session>, DbError>;
    /// True when a user without privileges sees only its own sessions and
    /// grants (MariaDB/MySQL without PROCESS and SELECT on mysql.*), so that
    /// under `admin: self` only the standby itself can tell whether it is in
    /// use. PostgreSQL shows every session's user and every role to anyone.
    fn users_see_only_themselves(&self) -> bool {
        false
    }
}

/// One open connection. Dropping it closes the connection and releases any
/// advisory lock it holds.
#[async_trait]
pub trait Session: Send {
    /// A trivial query proving the login works; returns the session user.
    async fn probe(&mut self) -> Result<String, DbError>;
    /// Takes the session-scoped lock `key` if free; never waits.
    async fn try_lock(&mut self, key: i64) -> Result<bool, DbError>;
    /// True while this session still holds the lock `key` (checked right
    /// before publishing: a session that was terminated or lost with a
    /// server restart no longer holds it, and another run may be acting).
    async fn lock_held(&mut self, key: i64) -> Result<bool, DbError>;
    /// Releases the lock `key` now. Closing the session releases it too,
    /// but only once the server notices, which a run right after may beat.
    async fn unlock(&mut self, key: i64) -> Result<(), DbError>;
    async fn role_exists(&mut self, role: &str) -> Result<bool, DbError>;
    /// The server process ids of the sessions logged in as `role`, in
    /// every database of the server (visible to any role: `usename` is not
    /// hidden from non-superusers). Ids, not a count: a pooler's own server
    /// connections are told apart by them.
    async fn sessions_of(&mut self, role: &str) -> Result<BTreeSet<i64>, DbError>;
    /// Ends the sessions of `role`; returns how many were ended.
    async fn terminate_sessions_of(&mut self, role: &str) -> Result<u64, DbError>;
    /// The roles `role` is a direct member of.
    async fn memberships(&mut self, role: &str) -> Result<BTreeSet<String>, DbError>;
    /// Why this session's user cannot set `role`'s password (the grant it
    /// lacks, as the statement that gives it), or `None` when it can.
    async fn cannot_set_password_of(&mut self, _role: &str) -> Result<Option<String>, DbError> {
        Ok(None)
    }
    async fn grant_membership(&mut self, group: &str, role: &str) -> Result<(), DbError>;
    async fn revoke_membership(&mut self, group: &str, role: &str) -> Result<(), DbError>;
    /// Sets `role`'s password. Engines send a verifier, never the
    /// plaintext, and return it: what the server now stores, which a
    /// pooler that checks passwords itself (PgBouncer's auth_file) must
    /// hold byte for byte.
    async fn set_password(
        &mut self,
        role: &str,
        password: &SecretString,
    ) -> Result<SecretString, DbError>;
    /// Creates `role` able to log in, with no password yet, the direct
    /// memberships and the `ALTER ROLE ... SET` settings of `like`, in one
    /// transaction: the role exists complete or not at all (the Lambda's
    /// `<user>_clone` convention).
    async fn create_login_role_like(&mut self, role: &str, like: &str)
        -> Result<RoleCopy, DbError>;
}

/// What [`Session::create_login_role_like`] copied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoleCopy {
    pub memberships: usize,
    pub settings: usize,
}

/// The advisory-lock key of a target: a stable hash of its name, the same
/// in every mode and process, namespaced so it does not collide with an
/// application's own advisory locks by accident.
pub fn lock_key(target: &str) -> i64 {
    let digest = Sha256::digest(format!("seesaw/target/{target}").as_bytes());
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(bytes)
}

/// The engine `config` names.
pub fn open(config: &crate::config::DatabaseConfig) -> Result<Box<dyn Database>, DbError> {
    use crate::config::Engine;
    match config.engine {
        Engine::Postgres => Ok(Box::new(Postgres::new(config)?)),
        #[cfg(feature = "mysql")]
        Engine::Mariadb | Engine::Mysql => Ok(Box::new(MySql::new(config)?)),
        #[cfg(not(feature = "mysql"))]
        Engine::Mariadb | Engine::Mysql => Err(DbError::Setup {
            db: format!("{} {}:{}", config.engine.name(), config.host, config.port),
            message: "this seesaw was built without MySQL/MariaDB support (cargo feature `mysql`)"
                .into(),
        }),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("{db}: cannot connect: {reason}")]
    Unreachable { db: String, reason: String },
    /// An established session ended under us: the server restarted or shut
    /// down, the session was terminated, the network dropped.
    #[error(
        "{db}: the connection was lost while trying to {doing} ({reason}); the server may be \
        restarting, or the session was ended"
    )]
    Lost {
        db: String,
        doing: String,
        reason: String,
    },
    #[error(
        "{db}: TLS: {reason}; check database.tls and database.ca_file (the server's \
        certificate must chain to that CA and name database.host)"
    )]
    Tls { db: String, reason: String },
    #[error("{db}: login as {user:?} failed: {reason}")]
    LoginFailed {
        db: String,
        user: String,
        reason: String,
    },
    #[error("{db}: {doing}: permission denied ({reason}); {hint}")]
    Denied {
        db: String,
        doing: String,
        reason: String,
        hint: String,
    },
    #[error("{db}: {doing}: {reason}")]
    Query {
        db: String,
        doing: String,
        reason: String,
    },
    /// A statement waited `lock_timeout` for a lock another transaction
    /// holds, and nothing was changed: worth retrying once it lets go.
    #[error("{db}: {doing}: {reason}")]
    Busy {
        db: String,
        doing: String,
        reason: String,
    },
    #[error("{db}: {message}")]
    Setup { db: String, message: String },
}

impl DbError {
    /// An unreachable server may come back; a refused login or a denied
    /// statement will not without a change by a person.
    /// A login that did not complete within `database.connect_timeout`.
    pub fn no_answer(db: String, limit: std::time::Duration) -> DbError {
        DbError::Unreachable {
            db,
            reason: format!(
                "no answer within {} (database.connect_timeout)",
                crate::duration::format(limit)
            ),
        }
    }

    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            DbError::Unreachable { .. } | DbError::Lost { .. } | DbError::Busy { .. }
        )
    }

    pub fn kind(&self) -> &'static str {
        match self {
            DbError::Unreachable { .. } => "unreachable",
            DbError::Lost { .. } => "connection_lost",
            DbError::LoginFailed { .. } => "login_failed",
            DbError::Tls { .. } => "tls",
            DbError::Denied { .. } => "denied",
            DbError::Query { .. } => "query",
            DbError::Busy { .. } => "busy",
            DbError::Setup { .. } => "setup",
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn lock_key_is_stable_and_distinct() {
        assert_eq!(super::lock_key("demo"), super::lock_key("demo"));
        assert_ne!(super::lock_key("demo"), super::lock_key("demo2"));
    }
}
