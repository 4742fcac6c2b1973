//! One logged-in PostgreSQL session: its client and connection task, and
//! the helpers its statements share (acting as the login role, errors
//! with their hints, the open transactions a lock timeout names).

use super::errors::{is_outage, reason};
use super::op::Op;
use crate::db::DbError;
use tokio_postgres::error::SqlState;

pub(super) struct PgSession {
    pub(super) client: tokio_postgres::Client,
    pub(super) task: tokio::task::JoinHandle<()>,
    pub(super) db: String,
}

impl Drop for PgSession {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl PgSession {
    /// The sessions with an open write transaction, for a lock-timeout
    /// message: "pid 123 (user alice, application psql, idle in
    /// transaction)". Best effort: a failure says so.
    pub(super) async fn open_transactions(&mut self) -> String {
        let rows = self
            .client
            .query(
                "SELECT pid, coalesce(usename::text, ''), coalesce(application_name, ''), \
                    coalesce(state, '') FROM pg_stat_activity WHERE backend_xid IS NOT NULL AND \
                        pid <> pg_backend_pid() ORDER BY xact_start LIMIT 5",
                &[],
            )
            .await;
        match rows {
            Ok(rows) if rows.is_empty() => "none visible".into(),
            Ok(rows) => rows
                .iter()
                .map(|r| {
                    // Only what the server knows: an empty state (another
                    // user's, hidden) is left out, not shown as a blank.
                    let mut about = vec![
                        format!("user {:?}", r.get::<_, String>(1)),
                        format!("application {:?}", r.get::<_, String>(2)),
                    ];
                    let state = r.get::<_, String>(3);
                    if !state.is_empty() {
                        about.push(state);
                    }
                    format!("pid {} ({})", r.get::<_, i32>(0), about.join(", "))
                })
                .collect::<Vec<_>>()
                .join(", "),
            Err(e) => format!("unknown ({})", reason(&e)),
        }
    }

    /// Login roles set up as recommended switch to the owner role on login
    /// (`ALTER ROLE x SET role = owner`); privileges are then checked
    /// against the owner. Acting on its own role (`admin: self`) needs the
    /// login role itself back.
    pub(super) async fn act_as_session_user(&mut self) -> Result<(), DbError> {
        self.client
            .batch_execute("SET ROLE NONE")
            .await
            .map_err(|e| self.error(Op::ResetRole, e))
    }

    pub(super) fn error(&self, op: Op<'_>, e: tokio_postgres::Error) -> DbError {
        let reason = reason(&e);
        let doing = op.describe();
        let db = self.db.clone();
        match e.code() {
            Some(c) if *c == SqlState::INSUFFICIENT_PRIVILEGE => DbError::Denied {
                db,
                doing,
                reason,
                hint: op.hint(),
            },
            Some(c) if *c == SqlState::UNDEFINED_OBJECT => DbError::Query {
                db,
                doing,
                reason: format!("{reason}; create the role first (see `seesaw setup-sql`)"),
            },
            None if e.is_closed() => DbError::Lost { db, doing, reason },
            Some(c) if is_outage(c) => DbError::Lost { db, doing, reason },
            _ => DbError::Query { db, doing, reason },
        }
    }
}
