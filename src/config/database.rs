//! The database of a target: engine, address, TLS, the two users, the admin, the policies.

use super::*;

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Engine {
    Postgres,
    Mariadb,
    Mysql,
}

fn nonzero_port<'de, D: Deserializer<'de>>(d: D) -> Result<u16, D::Error> {
    match u16::deserialize(d)? {
        0 => Err(de::Error::custom(
            "expected a port between 1 and 65535, got 0",
        )),
        port => Ok(port),
    }
}

impl Engine {
    /// As written in the config and in secret documents (`engine`).
    pub fn name(self) -> &'static str {
        match self {
            Engine::Postgres => "postgres",
            Engine::Mariadb => "mariadb",
            Engine::Mysql => "mysql",
        }
    }

    pub fn default_port(self) -> u16 {
        match self {
            Engine::Postgres => 5432,
            Engine::Mariadb | Engine::Mysql => 3306,
        }
    }

    /// The longest account/role name the engine accepts (bytes for
    /// PostgreSQL's NAMEDATALEN, characters for MySQL and MariaDB).
    pub fn max_user_len(self) -> usize {
        match self {
            Engine::Postgres => MAX_IDENTIFIER_BYTES,
            Engine::Mariadb => 128,
            Engine::Mysql => 32,
        }
    }
}

#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "kebab-case")]
pub enum TlsMode {
    /// Plain TCP. Only for loopback or a network you trust.
    Disable,
    /// Encrypted, server certificate not checked (libpq's `require`).
    Require,
    /// Encrypted, certificate chain and host name verified.
    #[default]
    VerifyFull,
}

/// What to do when the standby role still has sessions open, i.e. something
/// may still be using the credential that is about to change.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum SessionPolicy {
    /// Refuse to rotate (exit 3) and name the sessions.
    #[default]
    Fail,
    /// Wait up to `standby_wait_timeout` for them to close.
    Wait,
    /// End them with `pg_terminate_backend` and rotate.
    Terminate,
}

/// Whether seesaw repairs role-membership drift between the two users.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum MembershipPolicy {
    /// Report drift and refuse to rotate.
    #[default]
    Check,
    /// Grant and revoke on the standby until it matches the active user.
    Fix,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseConfig {
    pub engine: Engine,
    pub host: String,
    /// The engine's default (5432, 3306) when not given: filled in by
    /// [`Config::parse`] (0 means "not given" until then).
    #[serde(default, deserialize_with = "nonzero_port")]
    pub port: u16,
    pub dbname: String,
    #[serde(default)]
    pub tls: TlsMode,
    /// PEM bundle of CAs to trust for `verify-full` (else the system's roots).
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// The two login roles that alternate. On MariaDB/MySQL an entry may
    /// name its account's host part (`app_a@10.0.%`); [`Config::parse`]
    /// moves it to `hosts`, leaving the login name here.
    pub users: [String; 2],
    /// The host part of each user's account (MariaDB/MySQL; empty: `%`).
    #[serde(skip)]
    pub hosts: [String; 2],
    pub admin: AdminConfig,
    #[serde(default)]
    pub standby_sessions: SessionPolicy,
    #[serde(
        default = "default_wait",
        deserialize_with = "crate::duration::deserialize"
    )]
    pub standby_wait_timeout: Duration,
    #[serde(default)]
    pub memberships: MembershipPolicy,
    #[serde(
        default = "default_connect_timeout",
        deserialize_with = "crate::duration::deserialize_positive"
    )]
    pub connect_timeout: Duration,
    /// How long one statement of seesaw's may wait for a row lock (an open
    /// transaction holding the standby's `pg_authid` row) before it fails
    /// naming the blocking sessions.
    #[serde(
        default = "default_lock_timeout",
        deserialize_with = "crate::duration::deserialize_positive"
    )]
    pub lock_timeout: Duration,
    /// Upper bound on any one statement of seesaw's.
    #[serde(
        default = "default_statement_timeout",
        deserialize_with = "crate::duration::deserialize_positive"
    )]
    pub statement_timeout: Duration,
    /// The NOLOGIN role that owns the objects (for `setup-sql`);
    /// `<dbname>_owner` by default.
    #[serde(default)]
    pub owner: Option<String>,
    /// Connection poolers in front of the database (PgBouncer); each takes
    /// part in every rotation (see docs/poolers.md).
    #[serde(default, deserialize_with = "empty_if_null")]
    pub poolers: Vec<crate::pooler::PoolerConfig>,
}

fn default_wait() -> Duration {
    Duration::from_secs(300)
}
fn default_connect_timeout() -> Duration {
    Duration::from_secs(10)
}
fn default_lock_timeout() -> Duration {
    Duration::from_secs(5)
}
fn default_statement_timeout() -> Duration {
    Duration::from_secs(30)
}

impl DatabaseConfig {
    /// The host part of `user`'s account on MariaDB/MySQL: the one the
    /// config names, else `%`. A user seesaw creates (the Lambda's
    /// `_clone`) takes the host part of the user it copies.
    pub fn host_of(&self, user: &str) -> &str {
        self.users
            .iter()
            .position(|u| u == user)
            .map(|i| self.hosts[i].as_str())
            .filter(|h| !h.is_empty())
            .unwrap_or("%")
    }

    /// Splits `name@host` entries of `users` into the login name and the
    /// account's host part (MariaDB/MySQL; a PostgreSQL role may contain `@`).
    pub(super) fn split_host_parts(&mut self) {
        if self.engine == Engine::Postgres {
            return;
        }
        for i in 0..2 {
            if let Some((user, host)) = self.users[i]
                .rsplit_once('@')
                .filter(|(_, h)| !h.is_empty())
            {
                self.hosts[i] = host.to_owned();
                self.users[i] = user.to_owned();
            }
        }
    }

    pub fn owner(&self) -> String {
        self.owner
            .clone()
            .unwrap_or_else(|| format!("{}_owner", self.dbname))
    }
}

/// PostgreSQL truncates identifiers to 63 bytes (NAMEDATALEN - 1); a longer
/// name would silently name a different role.
const MAX_IDENTIFIER_BYTES: usize = 63;

impl DatabaseConfig {
    /// The database section's own rules (names, users, the admin, poolers).
    pub(super) fn validate(&self) -> Result<(), (&'static str, String)> {
        let db = self;
        if db.host.trim().is_empty() {
            return Err(("database.host", "expected a host name or address".into()));
        }
        if db.dbname.is_empty() {
            return Err(("database.dbname", "expected a database name".into()));
        }
        let max = db.engine.max_user_len();
        for user in &db.users {
            let len = match db.engine {
                Engine::Postgres => user.len(),
                _ => user.chars().count(),
            };
            if user.is_empty() || len > max || user.contains('\0') {
                return Err((
                    "database.users",
                    format!(
                        "expected user names of 1-{max} {} for {}, got {user:?}",
                        if db.engine == Engine::Postgres {
                            "bytes"
                        } else {
                            "characters"
                        },
                        db.engine.name()
                    ),
                ));
            }
        }
        if db.engine != Engine::Postgres {
            // Written `name@` (nothing after the @), or a host part MariaDB's
            // Host column cannot hold.
            if let Some(host) = db.hosts.iter().find(|h| h.len() > 255 || h.contains('\0')) {
                return Err((
                    "database.users",
                    format!("{host:?}: expected a host part of at most 255 characters"),
                ));
            }
            if db
                .users
                .iter()
                .zip(&db.hosts)
                .any(|(u, h)| h.is_empty() && u.ends_with('@'))
            {
                return Err((
                    "database.users",
                    "expected `name` or `name@host` (the account's host part, e.g. \
                        app_a@10.0.%), got a name ending in @"
                        .into(),
                ));
            }
            if db.admin == AdminConfig::Itself && db.engine == Engine::Mysql {
                return Err((
                    "database.admin",
                    "`admin: self` is not supported for mysql yet: seesaw cannot compute a \
                        caching_sha2_password hash (see docs/mysql.md); use engine: mariadb or \
                            an admin login"
                        .into(),
                ));
            }
            if !db.poolers.is_empty() {
                return Err((
                    "database.poolers",
                    format!(
                        "PgBouncer serves PostgreSQL; {} targets take no poolers",
                        db.engine.name()
                    ),
                ));
            }
        }
        if db.users[0] == db.users[1] {
            return Err((
                "database.users",
                format!(
                    "expected two different roles, got {:?} twice; seesaw alternates between two \
                        users",
                    db.users[0]
                ),
            ));
        }
        if let AdminConfig::Login(admin) = &db.admin {
            if admin.username.is_empty() {
                return Err(("database.admin.username", "expected a role name".into()));
            }
            if db.users.contains(&admin.username) {
                return Err((
                    "database.admin.username",
                    "the admin must not be one of the two rotated users; use `admin: self` for \
                        self-rotation"
                        .into(),
                ));
            }
            admin.validate().map_err(|m| ("database.admin", m))?;
        }
        for pooler in &db.poolers {
            pooler.pgbouncer.validate().map_err(|(key, m)| {
                (
                    "database.poolers",
                    format!("{}: {key}: {m}", pooler.pgbouncer.describe()),
                )
            })?;
        }
        Ok(())
    }
}
