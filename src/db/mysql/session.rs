//! One logged-in MariaDB session: its connection, the account names and
//! errors its statements share, the grants read back, and the hash a
//! password is sent as.

use super::grants::{self, Plugin};
use super::hash;
use crate::config::DatabaseConfig;
use crate::db::DbError;
use mysql_async::prelude::Queryable;
use mysql_async::Conn;
use std::collections::BTreeSet;
use std::sync::Arc;

pub(super) struct MySession {
    pub(super) conn: Conn,
    pub(super) db: String,
    pub(super) config: Arc<DatabaseConfig>,
    /// The user this session logged in as.
    pub(super) user: String,
}

/// The error without `hash`: servers quote the statement near a syntax
/// error (`engine: mariadb` pointed at a MySQL 8 server, say).
pub(super) fn scrub(e: DbError, hash: &str) -> DbError {
    let clean = |text: String| text.replace(hash, "<hash>");
    match e {
        DbError::Query { db, doing, reason } => DbError::Query {
            db,
            doing,
            reason: clean(reason),
        },
        DbError::Denied {
            db,
            doing,
            reason,
            hint,
        } => DbError::Denied {
            db,
            doing,
            reason: clean(reason),
            hint,
        },
        DbError::Lost { db, doing, reason } => DbError::Lost {
            db,
            doing,
            reason: clean(reason),
        },
        other => other,
    }
}

/// The server-wide lock name of a target: within MySQL's 64 characters.
pub(super) fn lock_name(key: i64) -> String {
    format!("seesaw:{:016x}", key as u64)
}

impl MySession {
    /// `user`'s account, quoted: its name and the host part the config gives it.
    pub(super) fn account(&self, user: &str) -> String {
        grants::account(user, self.config.host_of(user))
    }

    pub(super) fn error(&self, doing: String, e: mysql_async::Error) -> DbError {
        let db = self.db.clone();
        match &e {
            // Lock wait timeout: another transaction holds the account.
            mysql_async::Error::Server(s) if s.code == 1205 => DbError::Busy {
                db,
                doing,
                reason: format!(
                    "{} (lock_timeout): another transaction holds the account; let it commit or \
                        roll back, then run again",
                    s.message
                ),
            },
            mysql_async::Error::Server(s) => {
                let hint = match s.code {
                    1044 | 1142 | 1227 | 1370 | 1698 => Some(
                        "see `seesaw setup-sql` for the grants the admin needs (CREATE USER, \
                            PROCESS, SELECT on mysql.*, CONNECTION ADMIN for terminate)",
                    ),
                    1095 => Some(
                        "ending another user's connection needs CONNECTION ADMIN (MariaDB \
                            10.5.2+; SUPER before): GRANT CONNECTION ADMIN ON *.* TO the admin, \
                                or use standby_sessions: fail | wait",
                    ),
                    1290 | 1836 => Some(
                        "the server is read-only (a replica?): point database.host at the primary",
                    ),
                    _ => None,
                };
                match hint {
                    Some(hint) if s.code != 1290 && s.code != 1836 => DbError::Denied {
                        db,
                        doing,
                        reason: s.message.clone(),
                        hint: hint.into(),
                    },
                    Some(hint) => DbError::Query {
                        db,
                        doing,
                        reason: format!("{}; {hint}", s.message),
                    },
                    None => DbError::Query {
                        db,
                        doing,
                        reason: s.message.clone(),
                    },
                }
            }
            mysql_async::Error::Io(_) | mysql_async::Error::Driver(_) => DbError::Lost {
                db,
                doing,
                reason: crate::reason::headline(&e),
            },
            _ => DbError::Query {
                db,
                doing,
                reason: crate::reason::headline(&e),
            },
        }
    }

    /// The account's normalised grants and plugin; `None` when the account
    /// does not exist.
    pub(super) async fn grants_of(
        &mut self,
        user: &str,
    ) -> Result<Option<(BTreeSet<String>, Plugin)>, DbError> {
        let account = self.account(user);
        let lines: Vec<String> = match self.conn.query(format!("SHOW GRANTS FOR {account}")).await {
            Ok(lines) => lines,
            // "There is no such grant defined": no such account.
            Err(mysql_async::Error::Server(s)) if s.code == 1141 => return Ok(None),
            Err(e) => return Err(self.error(format!("read the grants of {account}"), e)),
        };
        if !lines
            .iter()
            .any(|l| l.contains(&format!(" ON *.* TO {account}")))
        {
            // Parity and the plugin are read from these lines: a form
            // seesaw does not recognise must stop it, not look empty.
            return Err(DbError::Query {
                db: self.db.clone(),
                doing: format!("read the grants of {account}"),
                reason: "SHOW GRANTS printed no `GRANT ... ON *.* TO` line in the form seesaw \
                    reads (backtick-quoted `user`@`host`); check sql_mode and the server \
                        version"
                    .into(),
            });
        }
        Ok(Some(grants::normalize(&lines, &account)))
    }

    /// As [`MySession::grants_of`], for an account that must exist.
    pub(super) async fn existing_grants_of(
        &mut self,
        user: &str,
    ) -> Result<(BTreeSet<String>, Plugin), DbError> {
        self.grants_of(user).await?.ok_or_else(|| DbError::Query {
            db: self.db.clone(),
            doing: format!("read the grants of {}", self.account(user)),
            reason: "the account does not exist".into(),
        })
    }

    pub(super) async fn run(&mut self, doing: String, sql: String) -> Result<(), DbError> {
        let default_role = sql.starts_with("SET DEFAULT ROLE ");
        match self.conn.query_drop(sql).await {
            Ok(()) => Ok(()),
            Err(e) => Err(match self.error(doing, e) {
                DbError::Denied {
                    db, doing, reason, ..
                } if default_role => DbError::Denied {
                    db,
                    doing,
                    reason,
                    hint: "on MariaDB, SET DEFAULT ROLE ... FOR another account needs UPDATE on \
                        `mysql`.* (which is as good as superuser): grant it to the admin, or set \
                            the default role as that account (SET DEFAULT ROLE r)"
                        .into(),
                },
                other => other,
            }),
        }
    }

    /// `ALTER USER` giving `user` the hash of `password` for `plugin`;
    /// returns the statement and the hash.
    pub(super) fn identified(plugin: &Plugin, password: &[u8]) -> Result<(String, String), String> {
        match plugin {
            Plugin::Native => {
                let h = hash::native(password);
                Ok((format!("IDENTIFIED BY PASSWORD '{h}'"), h))
            }
            Plugin::Ed25519 => {
                let h = hash::ed25519(password);
                Ok((format!("IDENTIFIED VIA ed25519 USING '{h}'"), h))
            }
            Plugin::Other(name) => Err(format!(
                "the account authenticates with {name}; seesaw sets passwords for \
                    mysql_native_password and ed25519 accounts only (sent as their hash)"
            )),
        }
    }
}
