//! The YAML configuration, parsed into validated types.
//!
//! Every error names the file, the target and the key, and says what is
//! expected: `seesaw.yaml: target "demo": database.tls: unknown variant
//! `tsl`, expected one of `disable`, `require`, `verify-full``.
//! Relative paths in the file are resolved against the file's directory, so
//! a config works the same from any working directory.

use crate::password::PasswordPolicy;
use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Config {
    /// The file it was read from (for messages).
    pub path: PathBuf,
    pub targets: Vec<TargetConfig>,
    pub daemon: DaemonConfig,
}

/// What `seesaw run` needs beyond the targets. (Its keys sit at the top of
/// the file, next to `targets`; serde's `flatten` would lose
/// `deny_unknown_fields`, so they are spelled out in `RawConfig`.)
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    targets: Vec<TargetConfig>,
    #[serde(default)]
    defaults: ScheduleConfig,
    #[serde(default)]
    concurrency: Concurrency,
    #[serde(default)]
    retry: RetryConfig,
    #[serde(default)]
    http: HttpConfig,
    #[serde(default)]
    leader_election: LeaderElection,
    #[serde(
        default = "default_shutdown",
        deserialize_with = "crate::duration::deserialize"
    )]
    shutdown_timeout: Duration,
    #[serde(
        default = "default_rotation_timeout",
        deserialize_with = "crate::duration::deserialize_positive"
    )]
    rotation_timeout: Duration,
}

fn default_rotation_timeout() -> Duration {
    Duration::from_secs(15 * 60)
}

#[derive(Debug, Clone, Default)]
pub struct DaemonConfig {
    /// Schedule settings for targets that do not set their own.
    pub defaults: ScheduleConfig,
    pub concurrency: Concurrency,
    pub retry: RetryConfig,
    pub http: HttpConfig,
    pub leader_election: LeaderElection,
    /// How long a rotation in flight may take to reach the end of its
    /// current step after SIGTERM.
    pub shutdown_timeout: Duration,
    /// The longest one rotation (or rollback) may run, rollout waits
    /// included, in every mode; past it the run stops where it is (the
    /// next run resumes) and the daemon reports it.
    pub rotation_timeout: Duration,
}

fn default_shutdown() -> Duration {
    Duration::from_secs(30)
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ScheduleConfig {
    /// 5-field cron: minute hour day-of-month month day-of-week.
    #[serde(default)]
    pub schedule: Option<String>,
    /// IANA time zone of the cron expression; UTC by default.
    #[serde(default)]
    pub timezone: Option<String>,
    /// Rotation may start anywhere inside this window after each slot.
    #[serde(default, deserialize_with = "crate::duration::deserialize_opt")]
    pub window: Option<Duration>,
    /// Never rotate again sooner than this after the last publish.
    #[serde(default, deserialize_with = "crate::duration::deserialize_opt")]
    pub min_interval: Option<Duration>,
}

impl ScheduleConfig {
    /// This target's settings over the defaults.
    pub fn or(&self, defaults: &ScheduleConfig) -> ScheduleConfig {
        ScheduleConfig {
            schedule: self.schedule.clone().or_else(|| defaults.schedule.clone()),
            timezone: self.timezone.clone().or_else(|| defaults.timezone.clone()),
            window: self.window.or(defaults.window),
            min_interval: self.min_interval.or(defaults.min_interval),
        }
    }

    /// The schedule, or `None` when no cron expression is set.
    pub fn build(&self) -> Result<Option<crate::schedule::Schedule>, (&'static str, String)> {
        let Some(cron) = &self.schedule else {
            return Ok(None);
        };
        crate::schedule::Schedule::parse(
            cron,
            self.timezone.as_deref().unwrap_or("UTC"),
            self.window.unwrap_or_default(),
            self.min_interval.unwrap_or_default(),
        )
        .map(Some)
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Concurrency {
    /// Rotations in flight at once, over all targets.
    #[serde(default = "default_rotations")]
    pub rotations: usize,
    /// Kubernetes syncs (Secret patches, restarts, rollout waits) at once.
    #[serde(default = "default_rollouts")]
    pub rollouts: usize,
}

impl Default for Concurrency {
    fn default() -> Self {
        Concurrency {
            rotations: default_rotations(),
            rollouts: default_rollouts(),
        }
    }
}
fn default_rotations() -> usize {
    4
}
fn default_rollouts() -> usize {
    4
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetryConfig {
    /// Tries of a transient failure (unreachable database, throttled store,
    /// 409, timeout) before waiting for the next slot.
    #[serde(default = "default_attempts")]
    pub attempts: u32,
    #[serde(
        default = "default_backoff",
        deserialize_with = "crate::duration::deserialize"
    )]
    pub initial_backoff: Duration,
    #[serde(
        default = "default_max_backoff",
        deserialize_with = "crate::duration::deserialize"
    )]
    pub max_backoff: Duration,
    /// A blocked gate is retried this often until the next slot, because a
    /// rollout that just finished unblocks it.
    #[serde(
        default = "default_blocked",
        deserialize_with = "crate::duration::deserialize"
    )]
    pub blocked: Duration,
}

impl Default for RetryConfig {
    fn default() -> Self {
        RetryConfig {
            attempts: default_attempts(),
            initial_backoff: default_backoff(),
            max_backoff: default_max_backoff(),
            blocked: default_blocked(),
        }
    }
}
fn default_attempts() -> u32 {
    5
}
fn default_backoff() -> Duration {
    Duration::from_secs(2)
}
fn default_max_backoff() -> Duration {
    Duration::from_secs(120)
}
fn default_blocked() -> Duration {
    Duration::from_secs(300)
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    /// /healthz, /readyz and /metrics.
    #[serde(default = "default_http")]
    pub address: String,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            address: default_http(),
        }
    }
}
fn default_http() -> String {
    "0.0.0.0:8080".into()
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct LeaderElection {
    /// `auto` (default): elect a leader through a Lease when running in a
    /// cluster; `true`: always (needs Kubernetes); `false`: never, this
    /// process rotates (one replica only).
    #[serde(default)]
    pub enabled: LeaderMode,
    /// Lease name; `seesaw` by default.
    #[serde(default)]
    pub lease: Option<String>,
    /// Lease namespace; the pod's own namespace by default.
    #[serde(default)]
    pub namespace: Option<String>,
    /// Lease duration: how long a dead leader blocks a new one.
    #[serde(default, deserialize_with = "crate::duration::deserialize_opt")]
    pub duration: Option<Duration>,
}

#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LeaderMode {
    #[default]
    Auto,
    #[serde(alias = "true")]
    Always,
    #[serde(alias = "false")]
    Never,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetConfig {
    /// Names the target in commands, logs, metrics and the advisory lock.
    pub name: String,
    pub database: DatabaseConfig,
    #[serde(default)]
    pub password: PasswordPolicy,
    pub store: StoreConfig,
    /// The Kubernetes Secrets that carry the credential and the workloads
    /// that read them.
    #[serde(default)]
    pub kubernetes: Option<KubernetesConfig>,
    // The four schedule keys repeat ScheduleConfig's: `#[serde(flatten)]`
    // would switch off `deny_unknown_fields`, and a misspelt key must fail.
    /// When `seesaw run` rotates it (over `defaults:`): 5-field cron.
    #[serde(default)]
    pub schedule: Option<String>,
    /// IANA time zone of `schedule`; UTC by default.
    #[serde(default)]
    pub timezone: Option<String>,
    /// Rotation may start anywhere inside this window after each slot.
    #[serde(default, deserialize_with = "crate::duration::deserialize_opt")]
    pub window: Option<Duration>,
    /// Never rotate again sooner than this after the last publish.
    #[serde(default, deserialize_with = "crate::duration::deserialize_opt")]
    pub min_interval: Option<Duration>,
}

impl TargetConfig {
    /// This target's schedule settings over `defaults`.
    pub fn schedule_config(&self, defaults: &ScheduleConfig) -> ScheduleConfig {
        ScheduleConfig {
            schedule: self.schedule.clone(),
            timezone: self.timezone.clone(),
            window: self.window,
            min_interval: self.min_interval,
        }
        .or(defaults)
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct KubernetesConfig {
    #[serde(default)]
    pub secrets: Vec<SecretSpec>,
    #[serde(default)]
    pub workloads: Vec<WorkloadRef>,
    #[serde(default)]
    pub rollout: RolloutConfig,
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct SecretSpec {
    pub name: String,
    pub namespace: String,
    /// Keys -> minijinja templates over the secret document. Without it,
    /// the document's fields become the keys.
    #[serde(default)]
    pub data: Option<std::collections::BTreeMap<String, String>>,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum WorkloadKind {
    Deployment,
    StatefulSet,
    DaemonSet,
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[serde(deny_unknown_fields)]
pub struct WorkloadRef {
    pub kind: WorkloadKind,
    pub name: String,
    pub namespace: String,
}

impl fmt::Display for WorkloadRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?} {}/{}", self.kind, self.namespace, self.name)
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct RolloutConfig {
    /// Wait for the restarted workloads to finish rolling out.
    #[serde(default = "yes")]
    pub wait: bool,
    #[serde(
        default = "default_rollout_timeout",
        deserialize_with = "crate::duration::deserialize"
    )]
    pub timeout: Duration,
}

impl Default for RolloutConfig {
    fn default() -> Self {
        RolloutConfig {
            wait: true,
            timeout: default_rollout_timeout(),
        }
    }
}

fn yes() -> bool {
    true
}
fn default_rollout_timeout() -> Duration {
    Duration::from_secs(600)
}

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

#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
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
    #[serde(default)]
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
    fn split_host_parts(&mut self) {
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

/// Who runs `ALTER ROLE`: a dedicated admin login, or `self` (the standby
/// changes its own password with the one kept in the store's previous version).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdminConfig {
    Itself,
    Login(AdminLogin),
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminLogin {
    pub username: String,
    #[serde(default)]
    pub password_env: Option<String>,
    #[serde(default)]
    pub password_file: Option<PathBuf>,
}

impl AdminLogin {
    /// Exactly one place to read the password from.
    pub fn validate(&self) -> Result<(), String> {
        match (&self.password_env, &self.password_file) {
            (Some(_), None) | (None, Some(_)) => Ok(()),
            _ => Err("expected exactly one of `password_env` or `password_file`".into()),
        }
    }

    /// Reads the password (`what`, e.g. "the admin password") from where
    /// the config says; the error is (key under the login, message).
    pub fn read(&self, what: &str) -> Result<crate::secret::Credential, (&'static str, String)> {
        let password = if let Some(var) = &self.password_env {
            match std::env::var(var) {
                Ok(v) if !v.is_empty() => v,
                _ => {
                    return Err((
                        "password_env",
                        format!(
                            "environment variable {var} is not set or empty; export {what} in it"
                        ),
                    ))
                }
            }
        } else if let Some(path) = &self.password_file {
            let text = std::fs::read_to_string(path).map_err(|e| {
                (
                    "password_file",
                    format!("cannot read {}: {e}", path.display()),
                )
            })?;
            let trimmed = text.trim_end_matches(['\n', '\r']).to_owned();
            if trimmed.is_empty() {
                return Err(("password_file", format!("{} is empty", path.display())));
            }
            trimmed
        } else {
            return Err(("", "expected `password_env` or `password_file`".into()));
        };
        Ok(crate::secret::Credential::new(
            self.username.clone(),
            secrecy::SecretString::from(password),
        ))
    }
}

impl<'de> Deserialize<'de> for AdminConfig {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct AdminVisitor;
        impl<'de> Visitor<'de> for AdminVisitor {
            type Value = AdminConfig;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("`self` or a map with `username` and `password_env` or `password_file`")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<AdminConfig, E> {
                if v == "self" {
                    Ok(AdminConfig::Itself)
                } else {
                    Err(E::custom(format!(
                        "expected `self` or a map with `username` and `password_env` or `password_file`, got `{v}`"
                    )))
                }
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<AdminConfig, A::Error> {
                AdminLogin::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(AdminConfig::Login)
            }
        }
        d.deserialize_any(AdminVisitor)
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(try_from = "RawStore")]
pub enum StoreConfig {
    /// A local JSON file `{"current": {...}, "previous": {...} | null}`.
    File(FileStoreConfig),
    /// AWS Secrets Manager.
    Aws(AwsStoreConfig),
    /// GCP Secret Manager.
    Gcp(GcpStoreConfig),
    /// Azure Key Vault.
    Azure(AzureStoreConfig),
}

impl StoreConfig {
    /// The key under `store:` that chose this backend.
    pub fn backend(&self) -> &'static str {
        match self {
            StoreConfig::File(_) => "file",
            StoreConfig::Aws(_) => "aws",
            StoreConfig::Gcp(_) => "gcp",
            StoreConfig::Azure(_) => "azure",
        }
    }

    /// The bound on each store call (the file store's is fixed).
    pub fn timeout(&self) -> Duration {
        match self {
            StoreConfig::File(_) => default_store_timeout(),
            StoreConfig::Aws(a) => a.timeout,
            StoreConfig::Gcp(g) => g.timeout,
            StoreConfig::Azure(a) => a.timeout,
        }
    }
}

pub fn default_store_timeout() -> Duration {
    Duration::from_secs(30)
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct GcpStoreConfig {
    /// Project id (or number) holding the secret.
    pub project: String,
    /// The secret's id within the project.
    pub secret: String,
    /// Another endpoint (a regional or private endpoint, or an emulator in
    /// tests). A plain `http://` endpoint gets no credentials: a token never
    /// travels unencrypted.
    #[serde(default)]
    pub endpoint: Option<String>,
    /// The companion secret that holds a rotation's pending credential
    /// until it is promoted (`<secret>-pending` by default; it must exist,
    /// with the same access as the secret: policies/gcp/README.md).
    #[serde(default)]
    pub pending_secret: Option<String>,
    /// Upper bound on each call to the store (a request and its retries);
    /// an endpoint that accepts the connection and never answers fails
    /// after this instead of hanging the rotation. 30s by default.
    #[serde(
        default = "default_store_timeout",
        deserialize_with = "crate::duration::deserialize_positive"
    )]
    pub timeout: Duration,
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct AzureStoreConfig {
    /// `https://<vault>.vault.azure.net`
    pub vault_url: String,
    /// The secret's name in the vault.
    pub secret: String,
    /// A PEM file of extra CA certificates to trust for the vault
    /// (a private endpoint behind a TLS-inspecting proxy, or tests).
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// The companion secret that holds a rotation's pending credential
    /// until it is promoted (`<secret>-pending` by default; seesaw creates
    /// it on first use: policies/azure/README.md).
    #[serde(default)]
    pub pending_secret: Option<String>,
    /// Upper bound on each call to the store (a request and its retries);
    /// an endpoint that accepts the connection and never answers fails
    /// after this instead of hanging the rotation. 30s by default.
    #[serde(
        default = "default_store_timeout",
        deserialize_with = "crate::duration::deserialize_positive"
    )]
    pub timeout: Duration,
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct AwsStoreConfig {
    /// Name or ARN of the secret.
    pub secret_id: String,
    /// Region; else from the environment / profile.
    #[serde(default)]
    pub region: Option<String>,
    /// Another endpoint (a VPC endpoint, or a local emulator in tests).
    #[serde(default)]
    pub endpoint_url: Option<String>,
    /// Upper bound on each call to the store (a request and its retries);
    /// an endpoint that accepts the connection and never answers fails
    /// after this instead of hanging the rotation. 30s by default.
    #[serde(
        default = "default_store_timeout",
        deserialize_with = "crate::duration::deserialize_positive"
    )]
    pub timeout: Duration,
}

/// `store:` as written: a map with exactly one backend key. (A struct of
/// options rather than a serde enum, so YAML's map form always parses and
/// the error lists the backends.)
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStore {
    #[serde(default)]
    file: Option<FileStoreConfig>,
    #[serde(default)]
    aws: Option<AwsStoreConfig>,
    #[serde(default)]
    gcp: Option<GcpStoreConfig>,
    #[serde(default)]
    azure: Option<AzureStoreConfig>,
}

impl TryFrom<RawStore> for StoreConfig {
    type Error = String;
    fn try_from(raw: RawStore) -> Result<Self, String> {
        let RawStore {
            file,
            aws,
            gcp,
            azure,
        } = raw;
        let mut chosen: Vec<StoreConfig> = Vec::new();
        chosen.extend(file.map(StoreConfig::File));
        chosen.extend(aws.map(StoreConfig::Aws));
        chosen.extend(gcp.map(StoreConfig::Gcp));
        chosen.extend(azure.map(StoreConfig::Azure));
        if chosen.len() > 1 {
            return Err("expected exactly one store (file, aws, gcp or azure), got several".into());
        }
        let Some(store) = chosen.pop() else {
            return Err("expected one store: `file: { path: ./secret.json }`, `aws: { secret_id: ..., region: ... }`, `gcp: { project: ..., secret: ... }` or `azure: { vault_url: https://<vault>.vault.azure.net, secret: ... }`".into());
        };
        match &store {
            StoreConfig::Aws(a) if a.secret_id.is_empty() => {
                Err("aws.secret_id: expected the secret's name or ARN".into())
            }
            StoreConfig::Gcp(g) if g.project.is_empty() || g.secret.is_empty() => {
                Err("gcp: expected `project` and `secret` (the secret's id, not its full resource name)".into())
            }
            StoreConfig::Gcp(g) if g.secret.contains('/') => Err(format!(
                "gcp.secret: expected the secret's id, got a path ({:?}); put the project under gcp.project",
                g.secret
            )),
            StoreConfig::Azure(a) if !a.vault_url.starts_with("https://") => Err(format!(
                "azure.vault_url: expected https://<vault>.vault.azure.net, got {:?} (Key Vault only speaks HTTPS)",
                a.vault_url
            )),
            StoreConfig::Azure(a) if a.secret.is_empty() => {
                Err("azure.secret: expected the secret's name in the vault".into())
            }
            _ => Ok(store),
        }
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct FileStoreConfig {
    pub path: PathBuf,
}

/// A configuration problem: where it is and what is expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}: {}{key}{message}", target.as_ref().map(|t| format!("target \"{t}\": ")).unwrap_or_default(), key = if key.is_empty() { String::new() } else { format!("{key}: ") })]
pub struct ConfigError {
    pub file: String,
    pub target: Option<String>,
    pub key: String,
    pub message: String,
}

impl Config {
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            file: file.clone(),
            target: None,
            key: String::new(),
            message: match e.kind() {
                std::io::ErrorKind::NotFound => {
                    "no such file: pass --config PATH or create seesaw.yaml (see examples/)".into()
                }
                _ => format!("cannot read: {e}"),
            },
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        Config::parse(&text, &file, base)
    }

    /// Parses `text` (named `file` in messages); relative paths are taken
    /// relative to `base`.
    pub fn parse(text: &str, file: &str, base: &Path) -> Result<Config, ConfigError> {
        let err = |target: Option<String>, key: &str, message: String| ConfigError {
            file: file.to_owned(),
            target,
            key: key.to_owned(),
            message,
        };
        let de = serde_yaml_ng::Deserializer::from_str(text);
        let raw: RawConfig = serde_path_to_error::deserialize(de).map_err(|e| {
            let (target, key) = locate(text, e.path());
            let message = e.into_inner().to_string();
            // serde_yaml_ng starts its message with a path (`targets[0].database: `);
            // the path is already in `key`, by target name.
            let message = match message.split_once(": ") {
                Some((head, rest)) if head.starts_with("targets") && !head.contains(' ') => {
                    rest.to_owned()
                }
                _ => message,
            };
            err(target, &key, message)
        })?;
        let daemon = DaemonConfig {
            defaults: raw.defaults,
            concurrency: raw.concurrency,
            retry: raw.retry,
            http: raw.http,
            leader_election: raw.leader_election,
            shutdown_timeout: raw.shutdown_timeout,
            rotation_timeout: raw.rotation_timeout,
        };
        if let Err((key, message)) = daemon.defaults.build() {
            return Err(err(None, &format!("defaults.{key}"), message));
        }
        if daemon.concurrency.rotations == 0 || daemon.concurrency.rollouts == 0 {
            return Err(err(
                None,
                "concurrency",
                "expected at least 1 for rotations and rollouts".into(),
            ));
        }
        let mut targets = raw.targets;
        if targets.is_empty() {
            return Err(err(None, "targets", "expected at least one target".into()));
        }
        let mut names = BTreeSet::new();
        for t in &mut targets {
            let name = Some(t.name.clone());
            if t.database.port == 0 {
                t.database.port = t.database.engine.default_port();
            }
            t.database.split_host_parts();
            validate_target(t).map_err(|(key, message)| err(name.clone(), key, message))?;
            if !names.insert(t.name.clone()) {
                return Err(err(
                    name,
                    "name",
                    "another target has the same name; names must be unique".into(),
                ));
            }
            resolve_paths(t, base);
        }
        for t in &targets {
            if let Err((key, message)) = t.schedule_config(&daemon.defaults).build() {
                return Err(err(Some(t.name.clone()), key, message));
            }
        }
        Ok(Config {
            path: PathBuf::from(file),
            targets,
            daemon,
        })
    }

    pub fn target(&self, name: &str) -> Result<&TargetConfig, ConfigError> {
        self.targets.iter().find(|t| t.name == name).ok_or_else(|| {
            let known: Vec<_> = self.targets.iter().map(|t| t.name.as_str()).collect();
            ConfigError {
                file: self.path.display().to_string(),
                target: None,
                key: String::new(),
                message: format!(
                    "no target named \"{name}\"; the targets are: {}",
                    known.join(", ")
                ),
            }
        })
    }
}

/// Turns serde's path (`targets[1].database.tls`) into the target's name and
/// the key inside it, because operators know targets by name, not index.
fn locate(text: &str, path: &serde_path_to_error::Path) -> (Option<String>, String) {
    use serde_path_to_error::Segment;
    let segments: Vec<&Segment> = path.iter().collect();
    if let [Segment::Map { key }, Segment::Seq { index }, rest @ ..] = segments.as_slice() {
        if key == "targets" {
            let name = serde_yaml_ng::from_str::<serde_yaml_ng::Value>(text)
                .ok()
                .and_then(|v| {
                    v.get("targets")?
                        .get(*index)?
                        .get("name")?
                        .as_str()
                        .map(str::to_owned)
                })
                .unwrap_or_else(|| format!("#{}", index + 1));
            let key = rest
                .iter()
                .map(|s| match s {
                    Segment::Seq { index } => format!("[{index}]"),
                    other => format!(".{other}"),
                })
                .collect::<String>()
                .trim_start_matches('.')
                .to_owned();
            return (Some(name), key);
        }
    }
    let key = path.to_string();
    (None, if key == "." { String::new() } else { key })
}

/// PostgreSQL truncates identifiers to 63 bytes (NAMEDATALEN - 1); a longer
/// name would silently name a different role.
const MAX_IDENTIFIER_BYTES: usize = 63;

fn validate_target(t: &TargetConfig) -> Result<(), (&'static str, String)> {
    let name_ok = !t.name.is_empty()
        && t.name.len() <= 63
        && t.name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
    if !name_ok {
        return Err((
            "name",
            format!(
                "expected 1-63 characters of letters, digits, `-`, `_` or `.`, got {:?} (the name is used in metrics, locks and Kubernetes labels)",
                t.name
            ),
        ));
    }
    let db = &t.database;
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
                "expected `name` or `name@host` (the account's host part, e.g. app_a@10.0.%), got a name ending in @".into(),
            ));
        }
        if db.admin == AdminConfig::Itself && db.engine == Engine::Mysql {
            return Err((
                "database.admin",
                "`admin: self` is not supported for mysql yet: seesaw cannot compute a caching_sha2_password hash (see docs/mysql.md); use engine: mariadb or an admin login".into(),
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
                "expected two different roles, got {:?} twice; seesaw alternates between two users",
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
                "the admin must not be one of the two rotated users; use `admin: self` for self-rotation".into(),
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
    t.password.validate().map_err(|m| ("password", m))?;
    if let Some(k) = &t.kubernetes {
        validate_kubernetes(k)?;
    }
    Ok(())
}

/// RFC 1123 subdomain, as Kubernetes requires of object names.
fn is_dns_subdomain(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|label| {
            !label.is_empty()
                && label
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

fn validate_kubernetes(k: &KubernetesConfig) -> Result<(), (&'static str, String)> {
    for s in &k.secrets {
        if !is_dns_subdomain(&s.name) || !is_dns_subdomain(&s.namespace) {
            return Err((
                "kubernetes.secrets",
                format!(
                    "{}/{}: expected lower-case DNS names (a-z, 0-9, -, .) for name and namespace",
                    s.namespace, s.name
                ),
            ));
        }
        for (key, template) in s.data.iter().flatten() {
            let key_ok = !key.is_empty()
                && key
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
            if !key_ok {
                return Err((
                    "kubernetes.secrets.data",
                    format!(
                        "{}: key {key:?} is not a valid Secret key (letters, digits, -, _, .)",
                        s.name
                    ),
                ));
            }
            crate::templates::check(template).map_err(|m| {
                (
                    "kubernetes.secrets.data",
                    format!("{}: key {key}: {m}", s.name),
                )
            })?;
        }
    }
    for w in &k.workloads {
        if !is_dns_subdomain(&w.name) || !is_dns_subdomain(&w.namespace) {
            return Err((
                "kubernetes.workloads",
                format!("{w}: expected lower-case DNS names for name and namespace"),
            ));
        }
    }
    Ok(())
}

fn resolve_paths(t: &mut TargetConfig, base: &Path) {
    let fix = |p: &mut PathBuf| {
        if p.is_relative() {
            // Drop `./` so messages show a clean path.
            let rest: PathBuf = p
                .components()
                .filter(|c| !matches!(c, std::path::Component::CurDir))
                .collect();
            *p = base.join(rest);
        }
    };
    match &mut t.store {
        StoreConfig::File(f) => fix(&mut f.path),
        StoreConfig::Azure(AzureStoreConfig {
            ca_file: Some(ca), ..
        }) => fix(ca),
        _ => {}
    }
    if let Some(ca) = &mut t.database.ca_file {
        fix(ca);
    }
    if let AdminConfig::Login(AdminLogin {
        password_file: Some(p),
        ..
    }) = &mut t.database.admin
    {
        fix(p);
    }
    for pooler in &mut t.database.poolers {
        let b = &mut pooler.pgbouncer;
        for p in [&mut b.auth_file, &mut b.ca_file, &mut b.admin.password_file]
            .into_iter()
            .flatten()
        {
            fix(p);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
targets:
  - name: demo
    database:
      engine: postgres
      host: 127.0.0.1
      port: 5432
      dbname: app
      tls: disable
      users: [app_a, app_b]
      admin:
        username: seesaw_admin
        password_env: SEESAW_ADMIN_PASSWORD
      standby_sessions: fail
    password: { length: 32 }
    store:
      file: { path: ./demo-secret.json }
"#;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(text, "seesaw.yaml", Path::new("/etc/seesaw"))
    }

    #[test]
    fn mariadb_users_may_name_their_host_part_and_postgres_roles_keep_the_at() {
        let maria = GOOD
            .replace("engine: postgres", "engine: mariadb")
            .replace("      port: 5432\n", "")
            .replace("[app_a, app_b]", "[\"app_a@10.0.%\", app_b]");
        let c = parse(&maria).unwrap();
        let db = &c.targets[0].database;
        assert_eq!(db.users, ["app_a".to_string(), "app_b".to_string()]);
        assert_eq!(db.port, 3306);
        assert_eq!(db.host_of("app_a"), "10.0.%");
        assert_eq!(db.host_of("app_b"), "%");
        assert_eq!(db.host_of("app_a_clone"), "%");

        let e = parse(&maria.replace("app_a@10.0.%", "app_a@")).unwrap_err();
        assert_eq!(e.key, "database.users", "{e}");
        assert!(e.to_string().contains("name@host"), "{e}");
        // Two host parts of one name are one login name: not two users.
        let e = parse(&maria.replace("app_b]", "app_a@%]")).unwrap_err();
        assert!(e.to_string().contains("two different"), "{e}");
        // admin: self is MariaDB's; MySQL's caching_sha2 hash is not computed.
        let selfish = maria.replace(
            "admin:\n        username: seesaw_admin\n        password_env: SEESAW_ADMIN_PASSWORD",
            "admin: self",
        );
        parse(&selfish).unwrap();
        let e = parse(&selfish.replace("engine: mariadb", "engine: mysql")).unwrap_err();
        assert!(e.to_string().contains("caching_sha2"), "{e}");

        let pg = GOOD.replace("[app_a, app_b]", "[\"app_a@corp\", app_b]");
        let c = parse(&pg).unwrap();
        assert_eq!(c.targets[0].database.users[0], "app_a@corp");
    }

    #[test]
    fn the_documented_example_parses() {
        let c = parse(GOOD).unwrap();
        let t = &c.targets[0];
        assert_eq!(t.database.users, ["app_a".to_string(), "app_b".to_string()]);
        assert_eq!(t.database.tls, TlsMode::Disable);
        assert_eq!(
            t.store,
            StoreConfig::File(FileStoreConfig {
                path: "/etc/seesaw/demo-secret.json".into()
            })
        );
        assert_eq!(t.database.standby_wait_timeout, Duration::from_secs(300));
    }

    #[test]
    fn defaults_are_safe() {
        let text = GOOD.replace("      tls: disable\n", "");
        assert_eq!(
            parse(&text).unwrap().targets[0].database.tls,
            TlsMode::VerifyFull
        );
    }

    #[test]
    fn admin_self_is_accepted() {
        let text = GOOD.replace(
            "admin:\n        username: seesaw_admin\n        password_env: SEESAW_ADMIN_PASSWORD",
            "admin: self",
        );
        assert_eq!(
            parse(&text).unwrap().targets[0].database.admin,
            AdminConfig::Itself
        );
        let bad = text.replace("admin: self", "admin: root");
        let e = parse(&bad).unwrap_err();
        assert_eq!(e.key, "database.admin");
        assert!(e.message.contains("expected `self`"), "{e}");
    }

    #[test]
    fn poolers_parse_resolve_their_paths_and_explain_mistakes() {
        let with = |entry: &str| {
            GOOD.replace(
                "      standby_sessions: fail\n",
                &format!("      standby_sessions: fail\n      poolers:\n{entry}"),
            )
        };
        let c = parse(&with(
            "        - pgbouncer:\n            host: 10.0.0.6\n            admin: { username: pgb, password_file: pgb.pw }\n            auth_file: userlist.txt\n",
        ))
        .unwrap();
        let b = &c.targets[0].database.poolers[0].pgbouncer;
        assert_eq!(b.port, 6432);
        assert_eq!(
            b.auth_file.as_deref(),
            Some(Path::new("/etc/seesaw/userlist.txt"))
        );
        assert_eq!(
            b.admin.password_file.as_deref(),
            Some(Path::new("/etc/seesaw/pgb.pw"))
        );

        let e = parse(&with("        - proxysql: { host: x }\n"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("database.poolers") && e.contains("pgbouncer"),
            "{e}"
        );
        let e = parse(&with(
            "        - pgbouncer: { host: x, port: 0, admin: { username: pgb, password_env: P } }\n",
        ))
        .unwrap_err()
        .to_string();
        assert!(e.contains("pgbouncer x:0: port"), "{e}");
        let e = parse(&with(
            "        - pgbouncer: { host: x, admin: { username: pgb } }\n",
        ))
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("exactly one of `password_env` or `password_file`"),
            "{e}"
        );
    }

    #[test]
    fn unknown_key_names_target_and_key() {
        let text = GOOD.replace(
            "      dbname: app\n",
            "      dbname: app\n      colour: red\n",
        );
        let e = parse(&text).unwrap_err();
        assert_eq!(e.target.as_deref(), Some("demo"));
        assert_eq!(e.key, "database.colour");
        assert!(e.to_string().contains("unknown field `colour`"), "{e}");
        assert!(
            e.to_string()
                .starts_with("seesaw.yaml: target \"demo\": database.colour: "),
            "{e}"
        );
    }

    #[test]
    fn cloud_stores_parse_and_their_mistakes_are_named() {
        let with =
            |store: &str| parse(&GOOD.replace("      file: { path: ./demo-secret.json }", store));
        let t = with("      gcp: { project: p, secret: app-db }").unwrap();
        assert_eq!(t.targets[0].store.backend(), "gcp");
        let t = with("      azure: { vault_url: \"https://v.vault.azure.net\", secret: app-db, ca_file: ca.pem }")
            .unwrap();
        match &t.targets[0].store {
            StoreConfig::Azure(a) => {
                assert_eq!(a.ca_file.as_deref(), Some(Path::new("/etc/seesaw/ca.pem")))
            }
            other => panic!("{other:?}"),
        }
        let e = with("      gcp: { project: p, secret: projects/p/secrets/app-db }").unwrap_err();
        assert!(
            e.message.contains("put the project under gcp.project"),
            "{e}"
        );
        let e = with("      azure: { vault_url: \"http://v.vault.azure.net\", secret: s }")
            .unwrap_err();
        assert!(e.message.contains("only speaks HTTPS"), "{e}");
        let e =
            with("      gcp: { project: p, secret: s }\n      aws: { secret_id: x }").unwrap_err();
        assert!(e.message.contains("got several"), "{e}");
        let e = with("      gcp: { project: p, secrt: s }").unwrap_err();
        assert!(e.to_string().contains("secrt"), "{e}");
        assert!(e.to_string().contains("target \"demo\""), "{e}");
    }

    #[test]
    fn bad_enum_value_lists_the_choices() {
        let e = parse(&GOOD.replace("tls: disable", "tls: tsl")).unwrap_err();
        assert_eq!(e.key, "database.tls");
        assert!(e.message.contains("verify-full"), "{e}");
    }

    #[test]
    fn validation_errors_name_the_key() {
        let cases = [
            (
                GOOD.replace("[app_a, app_b]", "[app_a, app_a]"),
                "database.users",
            ),
            (GOOD.replace("[app_a, app_b]", "[app_a]"), "database.users"),
            (GOOD.replace("length: 32", "length: 4"), "password"),
            (GOOD.replace("name: demo", "name: \"has space\""), "name"),
            (
                GOOD.replace("        password_env: SEESAW_ADMIN_PASSWORD\n", ""),
                "database.admin",
            ),
            (GOOD.replace("port: 5432", "port: 99999"), "database.port"),
        ];
        for (text, key) in cases {
            let e = parse(&text).unwrap_err();
            assert_eq!(e.key, key, "{e}");
        }
    }

    #[test]
    fn schedule_keys_are_validated_and_misspellings_caught() {
        let daemon = format!("defaults: {{ schedule: \"0 3 * * 0\", window: 2h }}\nconcurrency: {{ rotations: 8 }}\n{}", GOOD.trim_start());
        let c = parse(&daemon).unwrap();
        assert_eq!(c.daemon.concurrency.rotations, 8);
        let s = c.targets[0]
            .schedule_config(&c.daemon.defaults)
            .build()
            .unwrap()
            .unwrap();
        assert_eq!(s.window, Duration::from_secs(7200));
        let e = parse(&daemon.replace("0 3 * * 0", "0 0 3 * * 0")).unwrap_err();
        assert_eq!(e.key, "defaults.schedule", "{e}");
        let e = parse(&GOOD.replace("    store:", "    schedule: \"61 * * * *\"\n    store:"))
            .unwrap_err();
        assert_eq!(
            (e.target.as_deref(), e.key.as_str()),
            (Some("demo"), "schedule"),
            "{e}"
        );
        let e = parse(&GOOD.replace("    store:", "    schedul: \"0 3 * * 0\"\n    store:"))
            .unwrap_err();
        assert!(e.to_string().contains("unknown field `schedul`"), "{e}");
        let e = parse(&format!("retries: {{}}\n{}", GOOD.trim_start())).unwrap_err();
        assert!(e.to_string().contains("unknown field `retries`"), "{e}");
    }

    #[test]
    fn duplicate_names_and_empty_lists_are_rejected() {
        let body = GOOD.trim_start_matches("\ntargets:\n");
        let twice = format!("targets:\n{body}{body}");
        assert!(parse(&twice).unwrap_err().message.contains("unique"));
        assert!(parse("targets: []")
            .unwrap_err()
            .message
            .contains("at least one"));
        assert!(parse("nonsense: 1")
            .unwrap_err()
            .to_string()
            .contains("unknown field"));
        assert!(parse(": : :").is_err());
    }
}
