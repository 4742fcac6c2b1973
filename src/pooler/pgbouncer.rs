//! One PgBouncer: its admin console (the `pgbouncer` database, simple
//! query protocol only), its auth_file, and logins through it.

use super::auth_file;
use super::config::PgBouncerConfig;
use crate::config::DatabaseConfig;
use crate::db::{Database, DbError, Postgres};
use crate::secret::Credential;
use secrecy::{ExposeSecret, SecretString};
use std::collections::BTreeSet;
use tokio_postgres::SimpleQueryMessage;
use tokio_postgres_rustls::MakeRustlsConnect;

pub struct PgBouncer {
    config: PgBouncerConfig,
    admin: Credential,
    tls: MakeRustlsConnect,
    tls_mode: crate::config::TlsMode,
    connect_timeout: std::time::Duration,
    /// Logins through this PgBouncer, as applications make them.
    through: Postgres,
    /// The target's database server: only PgBouncer's connections to it
    /// are its sessions there.
    server: (String, u16),
}

/// What the admin console says about one user, read in one connection.
#[derive(Debug, Clone, Default)]
pub struct UserLook {
    /// "1.18.0".
    pub version: String,
    /// Client connections of the user (SHOW CLIENTS: active, waiting or
    /// idle in session mode): each still holds the credential it logged in
    /// with, invisible to the database once its server connection is gone.
    pub clients: u64,
    /// Backend pids of the server connections PgBouncer holds for the user
    /// (SHOW SERVERS): the database sees them as the user's sessions, but
    /// they are PgBouncer's and stay valid after a password change.
    pub server_pids: BTreeSet<i64>,
    /// The auth_file PgBouncer itself reads (SHOW CONFIG), if it has one:
    /// with auth_query too, a user listed there is checked against the
    /// file, not looked up.
    pub auth_file: Option<String>,
}

impl PgBouncer {
    pub fn new(
        config: &PgBouncerConfig,
        database: &DatabaseConfig,
        admin: Credential,
    ) -> Result<PgBouncer, DbError> {
        let mut endpoint = database.clone();
        endpoint.host = config.host.clone();
        endpoint.port = config.port;
        if let Some(db) = &config.dbname {
            endpoint.dbname = db.clone();
        }
        if let Some(tls) = config.tls {
            endpoint.tls = tls;
        }
        if config.ca_file.is_some() {
            endpoint.ca_file = config.ca_file.clone();
        }
        let name = config.describe();
        let tls = crate::db::tls_client_config(endpoint.tls, endpoint.ca_file.as_deref()).map_err(
            |message| DbError::Setup {
                db: name.clone(),
                message,
            },
        )?;
        Ok(PgBouncer {
            through: Postgres::behind_pooler(&endpoint, &name)?,
            config: config.clone(),
            admin,
            tls: MakeRustlsConnect::new(tls),
            tls_mode: endpoint.tls,
            connect_timeout: endpoint.connect_timeout,
            server: (database.host.clone(), database.port),
        })
    }

    pub fn describe(&self) -> String {
        self.config.describe()
    }

    pub fn auth_file(&self) -> Option<&std::path::Path> {
        self.config.auth_file.as_deref()
    }

    /// "auth_file /etc/pgbouncer/userlist.txt" or "auth_query".
    pub fn mode(&self) -> String {
        match self.auth_file() {
            Some(path) => format!("auth_file {}", path.display()),
            None => "auth_query".into(),
        }
    }

    /// Logins through this PgBouncer.
    pub fn through(&self) -> &dyn Database {
        &self.through
    }

    /// The version, clients and server connections of `user`.
    pub async fn look(&self, user: &str) -> Result<UserLook, DbError> {
        let console = self.console().await?;
        let version = self.show(&console, "SHOW VERSION").await?;
        let clients = self.show(&console, "SHOW CLIENTS").await?;
        let servers = self.show(&console, "SHOW SERVERS").await?;
        let config = self.show(&console, "SHOW CONFIG").await?;
        let auth_file = config
            .iter()
            .find(|r| r.get("key") == Some("auth_file"))
            .and_then(|r| r.get("value"))
            .filter(|v| !v.is_empty() && *v != "(null)")
            .map(str::to_owned);
        let of_user = |rows: &[Row]| -> Vec<Row> {
            rows.iter()
                .filter(|r| r.get("user") == Some(user))
                .cloned()
                .collect()
        };
        // Server connections to another server (a [databases] entry for a
        // replica) carry pids of that server: not subtracted, so a real
        // session of the standby with the same pid is never hidden.
        let (host, port) = &self.server;
        let addresses: Vec<String> = match tokio::net::lookup_host((host.as_str(), *port)).await {
            Ok(found) => found.map(|a| a.ip().to_string()).collect(),
            Err(_) => Vec::new(),
        };
        let ours = |r: &Row| {
            r.get("port") == Some(port.to_string().as_str())
                && r.get("addr")
                    .is_some_and(|a| a == host || addresses.iter().any(|x| x == a))
        };
        Ok(UserLook {
            version: version
                .first()
                .and_then(|r| r.get("version"))
                .map(|v| v.trim_start_matches("PgBouncer ").to_owned())
                .unwrap_or_default(),
            clients: of_user(&clients).len() as u64,
            server_pids: of_user(&servers)
                .iter()
                .filter(|r| ours(r))
                .filter_map(|r| r.get("remote_pid")?.parse().ok())
                .collect(),
            auth_file,
        })
    }

    /// RELOAD: PgBouncer reads its config and auth_file again. Its reply
    /// says nothing about the file (an unreadable one is only logged), so
    /// a login through it proves the new secret arrived.
    pub async fn reload(&self) -> Result<(), DbError> {
        let console = self.console().await?;
        self.show(&console, "RELOAD").await.map(drop)
    }

    /// Writes `user`'s SCRAM verifier (the one the database holds) into
    /// the auth_file, when this PgBouncer has one.
    pub async fn write_secret(
        &self,
        user: &str,
        verifier: &SecretString,
    ) -> Result<Option<auth_file::Written>, DbError> {
        let Some(path) = self.auth_file() else {
            return Ok(None);
        };
        // File I/O and a lock wait of up to seconds: off the async workers.
        let written = tokio::task::spawn_blocking({
            let (path, user, verifier) = (path.to_path_buf(), user.to_owned(), verifier.clone());
            move || auth_file::set_secret(&path, &user, &verifier)
        })
        .await
        .unwrap_or_else(|e| Err(std::io::Error::other(e.to_string())));
        written.map(Some).map_err(|e| DbError::Setup {
            db: self.describe(),
            message: format!(
                "cannot write {user:?}'s entry in auth_file {}: {e}; seesaw needs to read \
                        and replace that file (write access to it and its directory) and keeps \
                            its owner and mode",
                path.display()
            ),
        })
    }

    /// How the auth_file stands for a rotation of `users`: `Ok` with a
    /// note for `check`, `Err` when seesaw could not write it. `Ok("")`
    /// under auth_query.
    pub fn auth_file_state(&self, users: &[String; 2]) -> Result<String, String> {
        let Some(path) = self.auth_file() else {
            return Ok(String::new());
        };
        auth_file::check_writable(path)?;
        let missing: Vec<&String> = users
            .iter()
            .filter(|u| !auth_file::has_entry(path, u).unwrap_or(false))
            .collect();
        Ok(if missing.is_empty() {
            "writable".into()
        } else {
            format!(
                "writable; no line yet for {missing:?} (added when that user is rotated; \
                until then PgBouncer refuses its logins)"
            )
        })
    }

    async fn console(&self) -> Result<tokio_postgres::Client, DbError> {
        let mut pg = tokio_postgres::Config::new();
        pg.host(&self.config.host)
            .port(self.config.port)
            .dbname("pgbouncer")
            .user(&self.admin.username)
            .password(self.admin.password.expose_secret())
            .connect_timeout(self.connect_timeout)
            .ssl_mode(match self.tls_mode {
                crate::config::TlsMode::Disable => tokio_postgres::config::SslMode::Disable,
                _ => tokio_postgres::config::SslMode::Require,
            });
        let name = format!("{} admin console", self.describe());
        let (client, connection) =
            tokio::time::timeout(self.connect_timeout, pg.connect(self.tls.clone()))
                .await
                .map_err(|_| DbError::Unreachable {
                    db: name.clone(),
                    reason: format!(
                        "no answer within {}",
                        crate::duration::format(self.connect_timeout * 2)
                    ),
                })?
                .map_err(|e| {
                    match crate::db::login_error(name.clone(), &self.admin.username, e) {
                        DbError::LoginFailed { db, user, reason } => DbError::LoginFailed {
                            db,
                            user,
                            reason: format!(
                                "{reason} (the admin must be listed in PgBouncer's \
                                admin_users, with its password in PgBouncer's auth_file or \
                                    auth_query)"
                            ),
                        },
                        other => other,
                    }
                })?;
        tokio::spawn(async move {
            let _ = connection.await;
        });
        Ok(client)
    }

    async fn show(
        &self,
        console: &tokio_postgres::Client,
        command: &str,
    ) -> Result<Vec<Row>, DbError> {
        let messages = tokio::time::timeout(self.connect_timeout, console.simple_query(command))
            .await
            .map_err(|_| DbError::Unreachable {
                db: self.describe(),
                reason: format!("no answer to {command}"),
            })?
            .map_err(|e| DbError::Query {
                db: self.describe(),
                doing: command.into(),
                reason: crate::db::postgres_reason(&e),
            })?;
        Ok(messages
            .iter()
            .filter_map(|m| match m {
                SimpleQueryMessage::Row(row) => Some(Row(row
                    .columns()
                    .iter()
                    .enumerate()
                    .map(|(i, c)| (c.name().to_owned(), row.get(i).unwrap_or("").to_owned()))
                    .collect())),
                _ => None,
            })
            .collect())
    }
}

/// A console row as column name to text.
#[derive(Debug, Clone)]
struct Row(Vec<(String, String)>);

impl Row {
    fn get(&self, column: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(name, _)| name == column)
            .map(|(_, v)| v.as_str())
    }
}
