//! PostgreSQL through tokio-postgres.
//!
//! Passwords are sent as SCRAM-SHA-256 verifiers computed here, so the
//! plaintext never reaches the server, its log (`log_statement = 'all'`) or
//! `pg_stat_statements`. Identifiers and literals are quoted with
//! postgres-protocol's escaping, never formatted by hand.
//!
//! Here: the connection settings and the login; `errors.rs` classifies
//! the server's failures, `session.rs` holds a logged-in session and
//! `statements.rs` what seesaw runs on it.

mod errors;
mod op;
mod session;
mod statements;

pub(crate) use errors::{login_error, reason};

use super::{tls, Database, DbError, Session};
use crate::config::{DatabaseConfig, TlsMode};
use crate::secret::Credential;
use async_trait::async_trait;
use secrecy::ExposeSecret;
use session::PgSession;
use tokio_postgres::config::SslMode;
use tokio_postgres_rustls::MakeRustlsConnect;

pub struct Postgres {
    config: DatabaseConfig,
    tls: MakeRustlsConnect,
    /// Set seesaw's statement and lock timeouts at login (a startup
    /// parameter PgBouncer refuses, so not through a pooler).
    session_options: bool,
    /// "postgres host:port/db" or "pgbouncer host:port/db".
    name: String,
}

impl Postgres {
    /// Fails only on a TLS setup problem (an unreadable `ca_file`).
    pub fn new(config: &DatabaseConfig) -> Result<Self, DbError> {
        let client = tls::client_config(config.tls, config.ca_file.as_deref()).map_err(|m| {
            DbError::Setup {
                db: describe(config),
                message: m,
            }
        })?;
        Ok(Postgres {
            config: config.clone(),
            tls: MakeRustlsConnect::new(client),
            session_options: true,
            name: describe(config),
        })
    }

    /// Logs in through a pooler (`config` holds its address): the same
    /// logins applications make there, without startup options.
    pub fn behind_pooler(config: &DatabaseConfig, pooler: &str) -> Result<Self, DbError> {
        let mut db = Postgres::new(config)?;
        db.session_options = false;
        db.name = format!("{pooler}/{}", config.dbname);
        Ok(db)
    }
}

fn describe(c: &DatabaseConfig) -> String {
    format!("postgres {}:{}/{}", c.host, c.port, c.dbname)
}

#[async_trait]
impl Database for Postgres {
    fn describe(&self) -> String {
        self.name.clone()
    }

    async fn login(&self, credential: &Credential) -> Result<Box<dyn Session>, DbError> {
        let c = &self.config;
        let mut pg = tokio_postgres::Config::new();
        pg.host(&c.host)
            .port(c.port)
            .dbname(&c.dbname)
            .user(&credential.username)
            .password(credential.password.expose_secret())
            .application_name("seesaw")
            .ssl_mode(match c.tls {
                TlsMode::Disable => SslMode::Disable,
                TlsMode::Require | TlsMode::VerifyFull => SslMode::Require,
            });
        if self.session_options {
            // Bounded waits: a statement blocked on a row lock (an open
            // transaction on the standby's pg_authid row) fails instead of
            // holding the target's lock forever.
            pg.options(format!(
                "-c lock_timeout={}ms -c statement_timeout={}ms",
                c.lock_timeout.as_millis(),
                c.statement_timeout.as_millis()
            ));
        }
        let connect = pg.connect(self.tls.clone());
        // connect_timeout bounds the whole login (TCP, TLS, authentication),
        // so a run against a silent server ends when, and says what, the
        // config says.
        let (client, connection) = tokio::time::timeout(c.connect_timeout, connect)
            .await
            .map_err(|_| DbError::no_answer(self.describe(), c.connect_timeout))?
            .map_err(|e| login_error(self.describe(), &credential.username, e))?;
        let db = self.describe();
        let task = tokio::spawn(async move {
            // Errors here surface on the next query as a closed connection.
            let _ = connection.await;
        });
        Ok(Box::new(PgSession { client, task, db }))
    }
}
