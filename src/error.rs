//! The one error type of seesaw's commands, with its exit code and a
//! fixed `kind` word for metrics (never the message, which is unbounded).

use crate::config::ConfigError;
use crate::db::DbError;
use crate::rotation::Gate;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("target {target:?}: {doing}: {source}{}", hint_suffix(hint))]
    Store {
        target: String,
        doing: String,
        #[source]
        source: StoreError,
        hint: Option<String>,
    },
    #[error(
        "target {target:?}: {}{source}{}",
        doing_prefix(doing, source),
        hint_suffix(hint)
    )]
    Database {
        target: String,
        doing: String,
        #[source]
        source: DbError,
        hint: Option<String>,
    },
    #[error("target {target:?}: {doing}: {source}")]
    Consumers {
        target: String,
        doing: String,
        #[source]
        source: crate::consumers::ConsumerError,
    },
    /// The store, the config and the database disagree in a way seesaw will
    /// not guess about.
    #[error("target {target:?}: {message}")]
    Inconsistent { target: String, message: String },
    /// A gate stopped the rotation; nothing was changed.
    #[error("target {target:?}: {} blocked: {}", action, gates.iter().map(|g| format!("[{}] \
        {}", g.name, g.detail)).collect::<Vec<_>>().join("; "))]
    Blocked {
        target: String,
        action: &'static str,
        gates: Vec<Gate>,
        /// The standby's sessions when it was last counted (the daemon's
        /// `seesaw_standby_sessions` stays current while blocked).
        standby_sessions: u64,
    },
    /// The target's advisory lock was lost before publishing (the session
    /// was terminated, the server restarted, the network reset): another
    /// run may be acting, so nothing was published.
    #[error(
        "target {target:?}: the target's advisory lock was lost before publishing ({why}); \
        nothing was published. {state}"
    )]
    LockLost {
        target: String,
        why: String,
        state: String,
    },
    /// Stopped between steps (shutdown, or a fault injected by a test).
    /// The protocol is safe to resume: the next run completes the target.
    #[error(
        "target {target:?}: stopped after step {step}: {reason}; the active credential is \
        unchanged unless `publish` completed, and the next run continues"
    )]
    Interrupted {
        target: String,
        step: &'static str,
        reason: String,
    },
}

/// Query and permission errors already say what was being done.
fn doing_prefix(doing: &str, source: &DbError) -> String {
    match source {
        DbError::Query { .. }
        | DbError::Denied { .. }
        | DbError::Lost { .. }
        | DbError::Busy { .. } => String::new(),
        _ => format!("{doing}: "),
    }
}

fn hint_suffix(hint: &Option<String>) -> String {
    hint.as_ref().map(|h| format!(". {h}")).unwrap_or_default()
}

impl Error {
    /// 0 done, 1 failure, 2 usage or config error, 3 gate blocked.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Config(_) => 2,
            Error::Blocked { .. } => 3,
            _ => 1,
        }
    }

    /// Worth retrying soon with backoff (the daemon uses this).
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Store { source, .. } => source.is_transient(),
            Error::Database { source, .. } => source.is_transient(),
            Error::Consumers { source, .. } => source.is_transient(),
            // Stopped part-way (shutdown, a Lambda's time running out):
            // every step checks before it acts, so running again resumes.
            Error::Interrupted { .. } => true,
            // The next run resumes the pending version under a fresh lock.
            Error::LockLost { .. } => true,
            _ => false,
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Error::Config(_) => "config",
            Error::Store { source, .. } => match source {
                StoreError::Conflict { .. } => "store_conflict",
                StoreError::Transient { .. } => "store_transient",
                StoreError::Denied { .. } => "store_denied",
                _ => "store",
            },
            Error::Database { source, .. } => match source {
                DbError::Unreachable { .. } => "db_unreachable",
                DbError::Lost { .. } => "db_connection_lost",
                DbError::LoginFailed { .. } => "db_login_failed",
                DbError::Tls { .. } => "db_tls",
                DbError::Denied { .. } => "db_denied",
                DbError::Busy { .. } => "db_busy",
                _ => "database",
            },
            Error::Consumers { source, .. } => source.kind(),
            Error::Inconsistent { .. } => "inconsistent",
            Error::Blocked { .. } => "blocked",
            Error::Interrupted { .. } => "interrupted",
            Error::LockLost { .. } => "lock_lost",
        }
    }
}

/// The target an error is about, named once: the driver builds its errors
/// as `self.on().store(doing, source, hint)`, so no call site can name a
/// different target or forget it.
#[derive(Clone, Copy)]
pub struct On<'a>(pub &'a str);

impl On<'_> {
    pub fn inconsistent(self, message: String) -> Error {
        Error::Inconsistent {
            target: self.0.into(),
            message,
        }
    }

    pub fn store(self, doing: String, source: StoreError, hint: Option<String>) -> Error {
        Error::Store {
            target: self.0.into(),
            doing,
            source,
            hint,
        }
    }

    pub fn database(self, doing: String, source: DbError, hint: Option<String>) -> Error {
        Error::Database {
            target: self.0.into(),
            doing,
            source,
            hint,
        }
    }

    pub fn consumers(self, doing: String, source: crate::consumers::ConsumerError) -> Error {
        Error::Consumers {
            target: self.0.into(),
            doing,
            source,
        }
    }

    pub fn interrupted(self, step: &'static str, reason: String) -> Error {
        Error::Interrupted {
            target: self.0.into(),
            step,
            reason,
        }
    }

    pub fn blocked(self, action: &'static str, gates: Vec<Gate>, standby_sessions: u64) -> Error {
        Error::Blocked {
            target: self.0.into(),
            action,
            gates,
            standby_sessions,
        }
    }

    pub fn lock_lost(self, why: String, state: String) -> Error {
        Error::LockLost {
            target: self.0.into(),
            why,
            state,
        }
    }
}
