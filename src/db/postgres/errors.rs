//! PostgreSQL's failures as `DbError`s: a login refused, unreachable or
//! failing TLS; an outage told from a refusal; the server's own reason; and
//! the grant to suggest when a statement is denied.

use crate::db::DbError;
use tokio_postgres::error::SqlState;

/// A failed login, classified: refused, unreachable, or TLS.
pub(crate) fn login_error(db: String, user: &str, e: tokio_postgres::Error) -> DbError {
    let reason = reason(&e);
    // PgBouncer raises its own errors with SQLSTATE 08P01, which would
    // otherwise read as an outage; these need a person, not a retry.
    const REFUSALS: [&str; 5] = [
        "authentication failed",
        "not allowed",
        "no such database",
        "no such user",
        "SSL required",
    ];
    if REFUSALS.iter().any(|r| reason.contains(r)) {
        return DbError::LoginFailed {
            db,
            user: user.to_owned(),
            reason,
        };
    }
    match e.code() {
        Some(code)
            if *code == SqlState::INVALID_PASSWORD
                || *code == SqlState::INVALID_AUTHORIZATION_SPECIFICATION
                || *code == SqlState::INVALID_CATALOG_NAME =>
        {
            DbError::LoginFailed {
                db,
                user: user.to_owned(),
                reason,
            }
        }
        Some(code) if *code == SqlState::TOO_MANY_CONNECTIONS || is_outage(code) => {
            DbError::Unreachable { db, reason }
        }
        Some(_) => DbError::LoginFailed {
            db,
            user: user.to_owned(),
            reason,
        },
        // tokio-postgres reports TLS failures (no TLS on the server, a
        // certificate rustls rejects) as client errors without a code.
        None if reason.contains("TLS") || reason.contains("certificate") => {
            DbError::Tls { db, reason }
        }
        None => DbError::Unreachable { db, reason },
    }
}

/// The server going away or coming back: connection exceptions (class 08)
/// and operator intervention (class 57: shutdown, crash, still starting).
/// Worth retrying; nothing a person has to fix.
pub(super) fn is_outage(code: &SqlState) -> bool {
    code.code().starts_with("08") || code.code().starts_with("57")
}

/// The server's message when there is one (it never echoes a password:
/// seesaw sends verifiers), else the client error's own words with the OS
/// error or TLS failure under it, never the text of what it could not
/// parse.
pub(crate) fn reason(e: &tokio_postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        return crate::reason::service_message(db.message());
    }
    crate::reason::headline(e)
}
