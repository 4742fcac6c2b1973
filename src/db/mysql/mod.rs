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
//!
//! Here: the connection settings and the login; `session.rs` holds a
//! logged-in session, `statements.rs` what seesaw runs on it, `grants.rs`
//! and `hash.rs` the grants and hashes those statements are built from.

mod grants;
mod hash;
mod session;
mod statements;

pub(crate) use hash::native as native_hash;

use super::{Database, DbError, Session};
use crate::config::{DatabaseConfig, Engine, TlsMode};
use crate::secret::Credential;
use async_trait::async_trait;
use mysql_async::{Conn, OptsBuilder, SslOpts};
use secrecy::ExposeSecret;
use session::MySession;
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
        let reason = crate::reason::headline(&e);
        match &e {
            mysql_async::Error::Server(s) if s.code == 1045 => DbError::LoginFailed {
                db,
                user: user.to_owned(),
                reason: format!(
                    "{} (the server says this for a wrong password, an unknown user, \
                    a client host the account does not match, and a REQUIRE SSL account logging \
                        in without TLS)",
                    s.message
                ),
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
    let text = crate::reason::headline(e);
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
        // connect_timeout bounds the whole login, as for PostgreSQL.
        let limit = self.config.connect_timeout;
        let conn = tokio::time::timeout(limit, Conn::new(self.opts(credential)))
            .await
            .map_err(|_| DbError::no_answer(self.name.clone(), limit))?
            .map_err(|e| self.login_error(&credential.username, e))?;
        Ok(Box::new(MySession {
            conn,
            db: self.name.clone(),
            config: self.config.clone(),
            user: credential.username.clone(),
        }))
    }
}
