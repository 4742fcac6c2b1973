//! The `Session` trait on PostgreSQL: the statements seesaw runs (the
//! probe, the advisory lock, the catalog reads, and the role changes).

use super::errors::reason;
use super::op::Op;
use super::session::PgSession;
use crate::db::{role_config, DbError, RoleCopy, Session};
use async_trait::async_trait;
use postgres_protocol::escape::{escape_identifier, escape_literal};
use secrecy::{ExposeSecret, SecretString};
use std::collections::BTreeSet;
use tokio_postgres::error::SqlState;

fn grant_sql(group: &str, role: &str) -> String {
    format!(
        "GRANT {} TO {}",
        escape_identifier(group),
        escape_identifier(role)
    )
}

#[async_trait]
impl Session for PgSession {
    async fn probe(&mut self) -> Result<String, DbError> {
        // A simple query: one round trip, no prepared statement (which a
        // pooler in transaction mode may not keep between messages).
        let messages = self
            .client
            .simple_query("SELECT session_user")
            .await
            .map_err(|e| self.error(Op::Probe, e))?;
        messages
            .iter()
            .find_map(|m| match m {
                tokio_postgres::SimpleQueryMessage::Row(row) => row.get(0).map(str::to_owned),
                _ => None,
            })
            .ok_or_else(|| DbError::Query {
                db: self.db.clone(),
                doing: Op::Probe.describe(),
                reason: "no row came back".into(),
            })
    }

    async fn try_lock(&mut self, key: i64) -> Result<bool, DbError> {
        let row = self
            .client
            .query_one("SELECT pg_try_advisory_lock($1)", &[&key])
            .await
            .map_err(|e| self.error(Op::Lock, e))?;
        Ok(row.get(0))
    }

    async fn role_exists(&mut self, role: &str) -> Result<bool, DbError> {
        let row = self
            .client
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)",
                &[&role],
            )
            .await
            .map_err(|e| self.error(Op::LookUpRole(role), e))?;
        Ok(row.get(0))
    }

    async fn sessions_of(&mut self, role: &str) -> Result<BTreeSet<i64>, DbError> {
        let rows = self
            .client
            .query(
                "SELECT pid FROM pg_stat_activity \
                 WHERE usename = $1 AND pid <> pg_backend_pid()",
                &[&role],
            )
            .await
            .map_err(|e| self.error(Op::CountSessions(role), e))?;
        Ok(rows.iter().map(|r| i64::from(r.get::<_, i32>(0))).collect())
    }

    async fn terminate_sessions_of(&mut self, role: &str) -> Result<u64, DbError> {
        self.act_as_session_user().await?;
        let row = self
            .client
            .query_one(
                // MATERIALIZED: the role filter must run before
                // pg_terminate_backend sees a pid; in one WHERE clause the
                // planner may call it on every session of the server.
                "WITH s AS MATERIALIZED (SELECT pid FROM pg_stat_activity \
                 WHERE usename = $1 AND pid <> pg_backend_pid()) \
                 SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM s",
                &[&role],
            )
            .await
            .map_err(|e| self.error(Op::EndSessions(role), e))?;
        Ok(row.get::<_, i64>(0).max(0) as u64)
    }

    async fn cannot_set_password_of(&mut self, role: &str) -> Result<Option<String>, DbError> {
        // Up to 15, CREATEROLE may alter any role but a superuser; from 16
        // on it also needs ADMIN OPTION on the role (which a role's creator
        // gets implicitly).
        let row = self
            .client
            .query_one(
                "SELECT session_user::text, r.rolsuper, r.rolcreaterole,                  \
                    current_setting('server_version_num')::int >= 160000,                  \
                        pg_has_role(session_user, (SELECT oid FROM pg_roles WHERE rolname = $1), \
                            'MEMBER WITH ADMIN OPTION')                  FROM pg_roles r WHERE \
                                r.rolname = session_user",
                &[&role],
            )
            .await
            .map_err(|e| self.error(Op::ReadAlterPrivileges(role), e))?;
        let (me, superuser, createrole, v16, admin_option): (
            String,
            bool,
            bool,
            bool,
            Option<bool>,
        ) = (row.get(0), row.get(1), row.get(2), row.get(3), row.get(4));
        let (me_sql, role_sql) = (escape_identifier(&me), escape_identifier(role));
        Ok(if superuser {
            None
        } else if !createrole {
            Some(format!(
                "{me:?} lacks CREATEROLE, which changing {role:?}'s password needs; as a \
                    superuser: ALTER ROLE {me_sql} CREATEROLE"
            ))
        } else if v16 && admin_option == Some(false) {
            Some(format!(
                "on PostgreSQL 16 and later {me:?} needs ADMIN OPTION on {role:?} to change its \
                    password; as a superuser: GRANT {role_sql} TO {me_sql} WITH ADMIN OPTION, \
                        INHERIT FALSE, SET FALSE (`seesaw setup-sql` emits it)"
            ))
        } else {
            None
        })
    }

    async fn memberships(&mut self, role: &str) -> Result<BTreeSet<String>, DbError> {
        let rows = self
            .client
            .query(
                "SELECT g.rolname::text FROM pg_auth_members m \
                 JOIN pg_roles g ON g.oid = m.roleid \
                 JOIN pg_roles u ON u.oid = m.member WHERE u.rolname = $1",
                &[&role],
            )
            .await
            .map_err(|e| self.error(Op::ReadMemberships(role), e))?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    async fn grant_membership(&mut self, group: &str, role: &str) -> Result<(), DbError> {
        self.client
            .batch_execute(&grant_sql(group, role))
            .await
            .map_err(|e| self.error(Op::Grant { group, role }, e))
    }

    async fn revoke_membership(&mut self, group: &str, role: &str) -> Result<(), DbError> {
        let op = Op::Revoke { group, role };
        // PostgreSQL 16+ records who granted a membership, and a plain
        // REVOKE removes only the current user's grant (the others stay,
        // with a mere warning). So revoke each recorded grant by name, then
        // check that the membership is really gone.
        let grantors = self
            .client
            .query(
                "SELECT DISTINCT gr.rolname::text FROM pg_auth_members m \
                 JOIN pg_roles g ON g.oid = m.roleid JOIN pg_roles u ON u.oid = m.member \
                 JOIN pg_roles gr ON gr.oid = m.grantor \
                 WHERE g.rolname = $1 AND u.rolname = $2 AND \
                     current_setting('server_version_num')::int >= 160000",
                &[&group, &role],
            )
            .await
            .map_err(|e| self.error(op, e))?;
        let grantors: Vec<String> = grantors.iter().map(|r| r.get(0)).collect();
        let revoke = format!(
            "REVOKE {} FROM {}",
            escape_identifier(group),
            escape_identifier(role)
        );
        let statements: Vec<String> = if grantors.is_empty() {
            vec![revoke]
        } else {
            grantors
                .iter()
                .map(|g| format!("{revoke} GRANTED BY {}", escape_identifier(g)))
                .collect()
        };
        let superuser_fix = || {
            format!(
                "a grant made by another role (PostgreSQL 16+) can be revoked only by that role \
                    or a superuser; as a superuser run: {}",
                statements.join("; ")
            )
        };
        for sql in &statements {
            if let Err(e) = self.client.batch_execute(sql).await {
                return Err(match e.code() {
                    Some(c) if *c == SqlState::INSUFFICIENT_PRIVILEGE => DbError::Denied {
                        db: self.db.clone(),
                        doing: op.describe(),
                        reason: reason(&e),
                        hint: superuser_fix(),
                    },
                    _ => self.error(op, e),
                });
            }
        }
        if self.memberships(role).await?.contains(group) {
            return Err(DbError::Denied {
                db: self.db.clone(),
                doing: op.describe(),
                reason: format!(
                    "the membership was granted by {} and the admin cannot revoke another role's \
                        grant",
                    grantors.join(", ")
                ),
                hint: superuser_fix(),
            });
        }
        Ok(())
    }

    async fn set_password(
        &mut self,
        role: &str,
        password: &SecretString,
    ) -> Result<SecretString, DbError> {
        // The verifier is salted and iterated: what the server stores, and
        // all that it (and its log) ever sees.
        let verifier = SecretString::from(postgres_protocol::password::scram_sha_256(
            password.expose_secret().as_bytes(),
        ));
        self.act_as_session_user().await?;
        let sql = format!(
            "ALTER ROLE {} PASSWORD {}",
            escape_identifier(role),
            escape_literal(verifier.expose_secret())
        );
        match self.client.batch_execute(&sql).await {
            Ok(()) => Ok(verifier),
            Err(e) if e.code() == Some(&SqlState::LOCK_NOT_AVAILABLE) => {
                let blockers = self.open_transactions().await;
                Err(DbError::Busy {
                    db: self.db.clone(),
                    doing: Op::SetPassword(role).describe(),
                    reason: format!(
                        "{} (lock_timeout): another transaction holds {role:?}'s row in \
                            pg_authid. Open transactions now: {blockers}. Let it commit or roll \
                                back (or end it with pg_terminate_backend), then run again",
                        reason(&e)
                    ),
                })
            }
            Err(e) => Err(self.error(Op::SetPassword(role), e)),
        }
    }

    async fn unlock(&mut self, key: i64) -> Result<(), DbError> {
        // A simple query: one round trip, no prepare (the key is a number).
        self.client
            .simple_query(&format!("SELECT pg_advisory_unlock({key})"))
            .await
            .map_err(|e| self.error(Op::Unlock, e))?;
        Ok(())
    }

    async fn lock_held(&mut self, key: i64) -> Result<bool, DbError> {
        // Asked of the lock manager itself, in one simple query with the
        // functions observe already used (a first look at pg_locks or
        // pg_lock_status() on a fresh session costs a millisecond or two of
        // catalog loading, a tenth of a rotation). Session-level advisory
        // locks are re-entrant: if this backend holds the lock, the try
        // succeeds and the unlock takes the extra hold back; if another
        // backend holds it, the try fails. This backend never releases it
        // before the run ends, so "free" cannot happen while it lives; a
        // backend that is gone fails the query.
        let messages = self
            .client
            .simple_query(&format!(
                "SELECT pg_try_advisory_lock({key}) AND pg_advisory_unlock({key})"
            ))
            .await
            .map_err(|e| self.error(Op::CheckLock, e))?;
        Ok(messages.iter().any(|m| {
            matches!(m, tokio_postgres::SimpleQueryMessage::Row(row) if row.get(0) == Some("t"))
        }))
    }

    async fn create_login_role_like(
        &mut self,
        role: &str,
        like: &str,
    ) -> Result<RoleCopy, DbError> {
        let memberships = self.memberships(like).await?;
        let rows = self
            .client
            .query(
                "SELECT d.datname::text, unnest(s.setconfig) FROM pg_db_role_setting s \
                 JOIN pg_roles r ON r.oid = s.setrole \
                 LEFT JOIN pg_database d ON d.oid = s.setdatabase WHERE r.rolname = $1",
                &[&like],
            )
            .await
            .map_err(|e| self.error(Op::ReadSettings(like), e))?;
        let mut settings = Vec::new();
        for row in &rows {
            let database: Option<&str> = row.get(0);
            let entry: &str = row.get(1);
            let op = Op::CopySetting {
                name: entry.split('=').next().unwrap_or_default(),
                from: like,
                to: role,
            };
            let sql = role_config::alter_role_set(role, database, entry).map_err(|reason| {
                DbError::Query {
                    db: self.db.clone(),
                    doing: op.describe(),
                    reason,
                }
            })?;
            settings.push((sql, op));
        }
        // No password yet (it cannot log in until one is set): the caller
        // sets it next, as a verifier, like any standby's.
        let mut statements = vec![(
            format!("CREATE ROLE {} LOGIN", escape_identifier(role)),
            Op::CreateRole(role),
        )];
        for group in &memberships {
            statements.push((grant_sql(group, role), Op::Grant { group, role }));
        }
        statements.extend(settings);
        self.act_as_session_user().await?;
        self.client
            .batch_execute("BEGIN")
            .await
            .map_err(|e| self.error(Op::Begin, e))?;
        for (sql, op) in &statements {
            if let Err(e) = self.client.batch_execute(sql).await {
                let error = self.error(*op, e);
                let _ = self.client.batch_execute("ROLLBACK").await;
                return Err(error);
            }
        }
        self.client
            .batch_execute("COMMIT")
            .await
            .map_err(|e| self.error(Op::CommitCreation(role), e))?;
        Ok(RoleCopy {
            memberships: memberships.len(),
            settings: rows.len(),
        })
    }
}
