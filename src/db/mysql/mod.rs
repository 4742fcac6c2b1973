//! MariaDB (and, for what can be done without the plaintext, MySQL)
//! through mysql_async, on the same rustls and ring as the rest of seesaw.
//!
//! Accounts are `'user'@'<host part>'` (`%` unless the config names one).
//! Passwords are sent as the hash the account's
//! plugin stores (`mysql_native_password`: `*<SHA1(SHA1)>`; `ed25519`: the
//! public key), never as `IDENTIFIED BY 'pw'` or `PASSWORD('pw')`, which
//! MariaDB writes verbatim to its general log, slow log and binlog. MySQL 8's
//! `caching_sha2_password` would need a client-side SHA-256-crypt hash that
//! seesaw does not compute yet: `engine: mysql` is refused by the admin
//! gate, naming why (docs/mysql.md).

mod grants;
mod hash;

pub(crate) use hash::native as native_hash;

use super::{Database, DbError, RoleCopy, Session};
use crate::config::{DatabaseConfig, Engine, TlsMode};
use crate::secret::Credential;
use async_trait::async_trait;
use grants::Plugin;
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, OptsBuilder, SslOpts};
use secrecy::{ExposeSecret, SecretString};
use std::collections::BTreeSet;
use std::sync::Arc;

pub struct MySql {
    config: Arc<DatabaseConfig>,
    ssl: Option<SslOpts>,
    name: String,
}

impl MySql {
    pub fn new(config: &DatabaseConfig) -> Result<MySql, DbError> {
        crate::install_crypto_provider();
        let name = format!(
            "{} {}:{}/{}",
            config.engine.name(),
            config.host,
            config.port,
            config.dbname
        );
        let ssl = match config.tls {
            TlsMode::Disable => None,
            TlsMode::Require => Some(SslOpts::default().with_danger_accept_invalid_certs(true)),
            TlsMode::VerifyFull => {
                let roots = match &config.ca_file {
                    Some(path) => path.clone().into(),
                    // The system's roots, as everywhere else in seesaw (not
                    // the web PKI list compiled into mysql_async).
                    None => crate::roots::system_pem().into(),
                };
                Some(
                    SslOpts::default()
                        .with_root_certs(vec![roots])
                        .with_disable_built_in_roots(true),
                )
            }
        };
        Ok(MySql {
            config: Arc::new(config.clone()),
            ssl,
            name,
        })
    }

    fn opts(&self, credential: &Credential) -> OptsBuilder {
        let c = &self.config;
        let mut setup = vec![
            format!(
                "SET SESSION lock_wait_timeout = {}",
                c.lock_timeout.as_secs().max(1)
            ),
            // SHOW GRANTS quotes names with backticks only under these
            // (ANSI_QUOTES would print "u"@"%", and parity would see nothing).
            "SET SESSION sql_mode = 'NO_ENGINE_SUBSTITUTION', sql_quote_show_create = 1".into(),
        ];
        if c.engine == Engine::Mariadb {
            setup.push(format!(
                "SET SESSION max_statement_time = {}",
                c.statement_timeout.as_secs().max(1)
            ));
        }
        OptsBuilder::default()
            .ip_or_hostname(c.host.clone())
            .tcp_port(c.port)
            .user(Some(credential.username.clone()))
            .pass(Some(credential.password.expose_secret().to_owned()))
            // No default database: the admin holds no privileges on the
            // application's database, and selecting one it cannot use
            // fails the login. The users' access to it is what parity keeps equal.
            .db_name(None::<String>)
            // Its default reconnects through the local socket after a TCP
            // login to 127.0.0.1: not the applications' path.
            .prefer_socket(false)
            .init(setup)
            .ssl_opts(self.ssl.clone())
    }

    fn login_error(&self, user: &str, e: mysql_async::Error) -> DbError {
        let db = self.name.clone();
        let reason = e.to_string();
        match &e {
            mysql_async::Error::Server(s) if s.code == 1045 => DbError::LoginFailed {
                db,
                user: user.to_owned(),
                reason: format!("{} (the server says this for a wrong password, an unknown user, a client host the account does not match, and a REQUIRE SSL account logging in without TLS)", s.message),
            },
            mysql_async::Error::Server(s) if s.code == 4151 || s.code == 3118 => {
                DbError::LoginFailed {
                    db,
                    user: user.to_owned(),
                    reason: format!("{} (ALTER USER ... ACCOUNT UNLOCK)", s.message),
                }
            }
            // Too many connections (server-wide or the account's own
            // limit), shutting down, host blocked: not a wrong password.
            mysql_async::Error::Server(s) if matches!(s.code, 1040 | 1203 | 1226 | 1053 | 1129) => {
                DbError::Unreachable { db, reason }
            }
            mysql_async::Error::Server(s) => DbError::LoginFailed {
                db,
                user: user.to_owned(),
                reason: s.message.clone(),
            },
            _ if is_tls(&e) => DbError::Tls { db, reason },
            _ => DbError::Unreachable { db, reason },
        }
    }
}

/// A TLS failure: a certificate rustls rejects, or a server without TLS.
fn is_tls(e: &mysql_async::Error) -> bool {
    let text = e.to_string();
    matches!(e, mysql_async::Error::Io(mysql_async::IoError::Tls(_)))
        || text.contains("certificate")
        || text.contains("SSL")
        || text.contains("TLS")
}

#[async_trait]
impl Database for MySql {
    fn describe(&self) -> String {
        self.name.clone()
    }

    fn users_see_only_themselves(&self) -> bool {
        true
    }

    async fn login(&self, credential: &Credential) -> Result<Box<dyn Session>, DbError> {
        let limit = self.config.connect_timeout * 2;
        let conn = tokio::time::timeout(limit, Conn::new(self.opts(credential)))
            .await
            .map_err(|_| DbError::Unreachable {
                db: self.name.clone(),
                reason: format!("no answer within {}", crate::duration::format(limit)),
            })?
            .map_err(|e| self.login_error(&credential.username, e))?;
        Ok(Box::new(MySession {
            conn,
            db: self.name.clone(),
            config: self.config.clone(),
            user: credential.username.clone(),
        }))
    }
}

struct MySession {
    conn: Conn,
    db: String,
    config: Arc<DatabaseConfig>,
    /// The user this session logged in as.
    user: String,
}

/// The error without `hash`: servers quote the statement near a syntax
/// error (`engine: mariadb` pointed at a MySQL 8 server, say).
fn scrub(e: DbError, hash: &str) -> DbError {
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
fn lock_name(key: i64) -> String {
    format!("seesaw:{:016x}", key as u64)
}

impl MySession {
    /// `user`'s account, quoted: its name and the host part the config gives it.
    fn account(&self, user: &str) -> String {
        grants::account(user, self.config.host_of(user))
    }

    fn error(&self, doing: String, e: mysql_async::Error) -> DbError {
        let db = self.db.clone();
        match &e {
            mysql_async::Error::Server(s) => {
                let hint = match s.code {
                    1044 | 1142 | 1227 | 1370 | 1698 => Some(
                        "see `seesaw setup-sql` for the grants the admin needs (CREATE USER, PROCESS, SELECT on mysql.*, CONNECTION ADMIN for terminate)",
                    ),
                    1095 => Some(
                        "ending another user's connection needs CONNECTION ADMIN (MariaDB 10.5.2+; SUPER before): GRANT CONNECTION ADMIN ON *.* TO the admin, or use standby_sessions: fail | wait",
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
                reason: e.to_string(),
            },
            _ => DbError::Query {
                db,
                doing,
                reason: e.to_string(),
            },
        }
    }

    /// The account's normalised grants and plugin; `None` when the account
    /// does not exist.
    async fn grants_of(
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
                reason: "SHOW GRANTS printed no `GRANT ... ON *.* TO` line in the form seesaw reads (backtick-quoted `user`@`host`); check sql_mode and the server version".into(),
            });
        }
        Ok(Some(grants::normalize(&lines, &account)))
    }

    /// As [`MySession::grants_of`], for an account that must exist.
    async fn existing_grants_of(
        &mut self,
        user: &str,
    ) -> Result<(BTreeSet<String>, Plugin), DbError> {
        self.grants_of(user).await?.ok_or_else(|| DbError::Query {
            db: self.db.clone(),
            doing: format!("read the grants of {}", self.account(user)),
            reason: "the account does not exist".into(),
        })
    }

    async fn run(&mut self, doing: String, sql: String) -> Result<(), DbError> {
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
                    hint: "on MariaDB, SET DEFAULT ROLE ... FOR another account needs UPDATE on `mysql`.* (which is as good as superuser): grant it to the admin, or set the default role as that account (SET DEFAULT ROLE r)".into(),
                },
                other => other,
            }),
        }
    }

    /// `ALTER USER` giving `user` the hash of `password` for `plugin`;
    /// returns the statement and the hash.
    fn identified(plugin: &Plugin, password: &[u8]) -> Result<(String, String), String> {
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
                "the account authenticates with {name}; seesaw sets passwords for mysql_native_password and ed25519 accounts only (sent as their hash)"
            )),
        }
    }
}

#[async_trait]
impl Session for MySession {
    async fn probe(&mut self) -> Result<String, DbError> {
        // The account the server matched (`user@host`): an anonymous
        // account that shadows `'u'@'%'` shows up here as `@localhost`.
        let who: Option<String> = self
            .conn
            .query_first("SELECT CURRENT_USER()")
            .await
            .map_err(|e| self.error("run the probe query".into(), e))?;
        let who = who.unwrap_or_default();
        Ok(who
            .rsplit_once('@')
            .map(|(u, _)| u.to_owned())
            .unwrap_or(who))
    }

    async fn try_lock(&mut self, key: i64) -> Result<bool, DbError> {
        let got: Option<Option<i64>> = self
            .conn
            .query_first(format!("SELECT GET_LOCK('{}', 0)", lock_name(key)))
            .await
            .map_err(|e| self.error("take the target's lock (GET_LOCK)".into(), e))?;
        match got.flatten() {
            Some(1) => Ok(true),
            Some(_) => Ok(false),
            None => Err(DbError::Query {
                db: self.db.clone(),
                doing: "take the target's lock (GET_LOCK)".into(),
                reason: "GET_LOCK returned NULL (Galera clusters reject GET_LOCK; seesaw needs it)"
                    .into(),
            }),
        }
    }

    async fn lock_held(&mut self, key: i64) -> Result<bool, DbError> {
        let held: Option<Option<i64>> = self
            .conn
            .query_first(format!(
                "SELECT IS_USED_LOCK('{}') = CONNECTION_ID()",
                lock_name(key)
            ))
            .await
            .map_err(|e| self.error("check the target's lock".into(), e))?;
        Ok(held.flatten() == Some(1))
    }

    async fn unlock(&mut self, key: i64) -> Result<(), DbError> {
        self.run(
            "release the target's lock".into(),
            format!("DO RELEASE_LOCK('{}')", lock_name(key)),
        )
        .await
    }

    async fn role_exists(&mut self, role: &str) -> Result<bool, DbError> {
        let n: Option<i64> = self
            .conn
            .exec_first(
                "SELECT COUNT(*) FROM mysql.user WHERE User = ? AND Host = ?",
                (role, self.config.host_of(role)),
            )
            .await
            .map_err(|e| self.error(format!("look up account {}", self.account(role)), e))?;
        Ok(n.unwrap_or(0) > 0)
    }

    /// The connections of every account named `role`, whatever its host
    /// part: the process list shows the user name, not the account matched.
    /// (Other accounts of the name are refused by the admin gate.)
    async fn sessions_of(&mut self, role: &str) -> Result<BTreeSet<i64>, DbError> {
        let ids: Vec<u64> = self
            .conn
            .exec(
                // BINARY: the column's collation is case- and accent-
                // insensitive, and `APP_B` is another account.
                "SELECT ID FROM information_schema.PROCESSLIST WHERE BINARY USER = ? AND ID <> CONNECTION_ID()",
                (role,),
            )
            .await
            .map_err(|e| self.error(format!("count sessions of {role:?}"), e))?;
        Ok(ids.into_iter().map(|id| id as i64).collect())
    }

    async fn terminate_sessions_of(&mut self, role: &str) -> Result<u64, DbError> {
        let ids = self.sessions_of(role).await?;
        let mut ended = 0;
        for id in ids {
            match self.conn.query_drop(format!("KILL CONNECTION {id}")).await {
                Ok(()) => ended += 1,
                // Ended meanwhile.
                Err(mysql_async::Error::Server(s)) if s.code == 1094 => ended += 1,
                Err(e) => return Err(self.error(format!("end session {id} of {role:?}"), e)),
            }
        }
        Ok(ended)
    }

    async fn memberships(&mut self, role: &str) -> Result<BTreeSet<String>, DbError> {
        // As for a PostgreSQL role that does not exist: nothing.
        Ok(self
            .grants_of(role)
            .await?
            .map(|(set, _)| set)
            .unwrap_or_default())
    }

    async fn cannot_set_password_of(&mut self, role: &str) -> Result<Option<String>, DbError> {
        if self.config.engine == Engine::Mysql {
            return Ok(Some("engine: mysql: seesaw cannot yet set a MySQL 8 password without sending it in plaintext (caching_sha2_password needs a client-side SHA-256-crypt hash, which seesaw does not compute, and no MySQL 8 server was available to test one); see docs/mysql.md. MariaDB is supported (engine: mariadb)".into()));
        }
        // Clients that match another host part of the same user (say
        // 'app_b'@'10.0.%' beside 'app_b'@'%') authenticate against that account, which seesaw
        // does not rotate: they would keep the old password.
        let hosts: Vec<String> = self
            .conn
            .exec(
                "SELECT Host FROM mysql.user WHERE User = ? AND Host <> ?",
                (role, self.config.host_of(role)),
            )
            .await
            .map_err(|e| self.error(format!("look up the accounts of {role:?}"), e))?;
        if !hosts.is_empty() {
            let others: Vec<String> = hosts.iter().map(|h| grants::account(role, h)).collect();
            return Ok(Some(format!(
                "{role:?} also exists as {}: clients from those hosts authenticate against them, and seesaw rotates {} only, so they would be locked out at the next rotation. Drop those accounts (or rename them), then run again",
                others.join(", "),
                self.account(role)
            )));
        }
        let lines: Vec<String> = self
            .conn
            .query("SHOW GRANTS FOR CURRENT_USER()")
            .await
            .map_err(|e| self.error("read the admin's grants".into(), e))?;
        let who: Option<String> = self
            .conn
            .query_first("SELECT CURRENT_USER()")
            .await
            .map_err(|e| self.error("read the admin's account".into(), e))?;
        let who = who.unwrap_or_default();
        let (user, host) = who.rsplit_once('@').unwrap_or((who.as_str(), "%"));
        let admin = grants::account(user, host);
        let global: Vec<&String> = lines.iter().filter(|l| l.contains(" ON *.* TO ")).collect();
        let has = |privilege: &str| {
            global.iter().any(|l| {
                l.starts_with("GRANT ALL PRIVILEGES ON *.*")
                    || l.split(" ON *.* TO ").next().is_some_and(|p| {
                        p.split(", ")
                            .any(|x| x.trim_start_matches("GRANT ") == privilege)
                    })
            })
        };
        let mut missing = Vec::new();
        if !has("CREATE USER") {
            missing.push(format!("GRANT CREATE USER ON *.* TO {admin}"));
        }
        if !has("PROCESS") {
            missing.push(format!("GRANT PROCESS ON *.* TO {admin} (without it the server hides other users' sessions, and the standby gate would see none)"));
        }
        let reads_mysql = has("SELECT")
            || lines
                .iter()
                .any(|l| l.starts_with("GRANT SELECT") && l.contains(" ON `mysql`.* TO "));
        if !reads_mysql {
            missing.push(format!(
                "GRANT SELECT ON `mysql`.* TO {admin} (to read the accounts and their grants)"
            ));
        }
        Ok((!missing.is_empty()).then(|| {
            format!(
                "the admin {admin} lacks what a rotation needs: {}",
                missing.join("; ")
            )
        }))
    }

    async fn grant_membership(&mut self, group: &str, role: &str) -> Result<(), DbError> {
        let sql = grants::grant(group, &self.account(role));
        self.run(format!("give {role:?} {group}"), sql).await
    }

    async fn revoke_membership(&mut self, group: &str, role: &str) -> Result<(), DbError> {
        let sql = grants::revoke(group, &self.account(role));
        self.run(format!("take {group} from {role:?}"), sql).await
    }

    async fn set_password(
        &mut self,
        role: &str,
        password: &SecretString,
    ) -> Result<SecretString, DbError> {
        let account = self.account(role);
        let (_, plugin) = self.existing_grants_of(role).await?;
        let (clause, stored) = MySession::identified(&plugin, password.expose_secret().as_bytes())
            .map_err(|message| DbError::Setup {
                db: self.db.clone(),
                message: format!("{account}: {message}"),
            })?;
        // `admin: self`: ALTER USER needs CREATE USER even for one's own
        // account, SET PASSWORD needs nothing, and takes the hash of the
        // account's own plugin (both native and ed25519, MariaDB 10.4+).
        let sql = if role == self.user {
            format!("SET PASSWORD = '{stored}'")
        } else {
            format!("ALTER USER {account} {clause}")
        };
        self.run(format!("set the password of {account}"), sql)
            .await
            .map_err(|e| scrub(e, &stored))?;
        Ok(SecretString::from(stored))
    }

    async fn create_login_role_like(
        &mut self,
        role: &str,
        like: &str,
    ) -> Result<RoleCopy, DbError> {
        // Account statements commit one by one: the account is created
        // locked with a hash of random bytes nobody knows (an account
        // without one would accept an empty password), gets the grants,
        // and is unlocked last. A failure on the way drops it again.
        let (lines, plugin) = self.existing_grants_of(like).await?;
        let account = self.account(role);
        let unknowable: [u8; 32] = crate::password::os_random();
        let (clause, stored) =
            MySession::identified(&plugin, &unknowable).map_err(|message| DbError::Setup {
                db: self.db.clone(),
                message: format!("{}: {message}", self.account(like)),
            })?;
        self.run(
            format!("create {account} like {like:?}"),
            format!("CREATE USER {account} {clause} ACCOUNT LOCK"),
        )
        .await
        .map_err(|e| scrub(e, &stored))?;
        let mut copied = 0;
        let mut result = Ok(());
        for line in &lines {
            result = self
                .run(
                    format!("give {account} {line}"),
                    grants::grant(line, &account),
                )
                .await;
            if result.is_err() {
                break;
            }
            copied += 1;
        }
        if result.is_ok() {
            result = self
                .run(
                    format!("unlock {account}"),
                    format!("ALTER USER {account} ACCOUNT UNLOCK"),
                )
                .await;
        }
        if let Err(e) = result {
            let _ = self.conn.query_drop(format!("DROP USER {account}")).await;
            return Err(e);
        }
        Ok(RoleCopy {
            memberships: copied,
            settings: 0,
        })
    }
}
