//! A test target: database, roles, admin, store file and config, built on a
//! [`Cluster`], plus helpers to run the `seesaw` binary against it.

use super::pg::Cluster;
use postgres_protocol::escape::{escape_identifier as ident, escape_literal as lit};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::process::Output;

pub const ADMIN: &str = "seesaw_admin";
pub const ADMIN_PASSWORD: &str = "admin-test-password-7f3k";
pub const DB: &str = "app";

pub struct Target {
    pub cluster: Cluster,
    pub users: [String; 2],
    pub store: PathBuf,
    pub config: PathBuf,
    /// Extra lines under `database:` (policies), set before `write_config`.
    pub database_extra: String,
    pub admin_self: bool,
    /// `database.tls` (and `ca_file`, if any) as config lines.
    pub tls: String,
    /// Extra target-level lines (`    min_interval: 1h\n`).
    pub target_extra: String,
    /// What the store's emulator needs in seesaw's environment
    /// (credentials, proxy), set by `use_store`: every spawned seesaw gets
    /// it, and so does `engine()`.
    store_env: std::sync::Mutex<Vec<(String, String)>>,
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn all(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

impl From<Output> for Run {
    fn from(o: Output) -> Run {
        Run {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

impl Target {
    /// A cluster with database `app`, the roles laid out by `seesaw
    /// setup-sql` for `users`, an admin with CREATEROLE, `users[0]` holding
    /// `initial_password` and adopted as the store's current document.
    pub async fn new(users: [&str; 2]) -> Target {
        Target::on(Cluster::start(), users).await
    }

    /// As [`Target::new`], on a cluster the caller started.
    pub async fn on(cluster: Cluster, users: [&str; 2]) -> Target {
        let users = [users[0].to_string(), users[1].to_string()];
        let store = cluster.dir().join("secret.json");
        let config = cluster.dir().join("seesaw.yaml");
        let t = Target {
            cluster,
            users,
            store,
            config,
            database_extra: String::new(),
            admin_self: false,
            tls: "tls: disable".into(),
            target_extra: String::new(),
            store_env: Default::default(),
        };
        let su = t.cluster.superuser().await;
        su.batch_execute(&format!("CREATE DATABASE {DB}"))
            .await
            .unwrap();
        t.write_config();
        // The roles come from setup-sql, so its SQL is tested for real.
        let sql = t.seesaw(&["setup-sql", "demo"]).await;
        assert_eq!(sql.code, 0, "setup-sql failed: {}", sql.all());
        let app = t
            .cluster
            .connect("postgres", super::pg::SUPERUSER_PASSWORD, DB)
            .await
            .unwrap();
        app.batch_execute(&sql.stdout)
            .await
            .unwrap_or_else(|e| panic!("setup-sql output does not run: {e}\n{}", sql.stdout));
        app.batch_execute(&format!(
            "ALTER ROLE {} PASSWORD {}",
            ident(ADMIN),
            lit(ADMIN_PASSWORD)
        ))
        .await
        .unwrap();
        t.set_password(&t.users[0], "initial-Password-1").await;
        t.write_store(json!({
            "current": {"username": t.users[0], "password": "initial-Password-1", "note": "kept"}
        }));
        t
    }

    /// Takes target `demo`'s advisory lock the way another seesaw would,
    /// on the target database; dropping the client releases it.
    pub async fn hold_lock(&self) -> tokio_postgres::Client {
        let holder = self
            .cluster
            .connect("postgres", super::pg::SUPERUSER_PASSWORD, DB)
            .await
            .unwrap();
        holder
            .query_one(
                "SELECT pg_advisory_lock($1)",
                &[&seesaw::db::lock_key("demo")],
            )
            .await
            .unwrap();
        holder
    }

    pub async fn set_password(&self, user: &str, password: &str) {
        let su = self.cluster.superuser().await;
        su.batch_execute(&format!(
            "ALTER ROLE {} PASSWORD {}",
            ident(user),
            lit(password)
        ))
        .await
        .unwrap();
    }

    /// An open transaction (application `migration-tool`) holding `role`'s
    /// row in pg_authid, as a migration tool's would: `ALTER ROLE` on it
    /// waits until the returned session runs ROLLBACK or is dropped.
    pub async fn hold_row_of(&self, role: &str) -> tokio_postgres::Client {
        let blocker = self.cluster.superuser().await;
        blocker
            .batch_execute(&format!(
                "SET application_name = 'migration-tool'; BEGIN; ALTER ROLE {} CONNECTION LIMIT 50",
                ident(role)
            ))
            .await
            .unwrap();
        blocker
    }

    /// Whether `role` has no password at all: nothing ever set one (the
    /// standby of a fresh target, until its first rotation).
    pub async fn has_no_password(&self, role: &str) -> bool {
        let su = self.cluster.superuser().await;
        su.query_one(
            "SELECT rolpassword IS NULL FROM pg_authid WHERE rolname = $1",
            &[&role],
        )
        .await
        .unwrap()
        .get(0)
    }

    pub fn write_config(&self) {
        let admin = if self.admin_self {
            "admin: self".to_string()
        } else {
            format!("admin:\n        username: {ADMIN}\n        password_env: TEST_ADMIN_PASSWORD")
        };
        let users = serde_json::to_string(&self.users).unwrap();
        let yaml = format!(
            "targets:\n  - name: demo\n    database:\n      engine: postgres\n      host: 127.0.0.1\n      port: {}\n      dbname: {DB}\n      {}\n      users: {users}\n      {admin}\n      connect_timeout: 3s\n{}    store:\n      file: {{ path: {} }}\n{}",
            self.cluster.port,
            self.tls,
            self.database_extra,
            self.store.display(),
            self.target_extra
        );
        std::fs::write(&self.config, yaml).unwrap();
    }

    /// Points the config's `store:` at `yaml` (one line, e.g.
    /// `aws: { secret_id: ... }`) instead of the file store, which seesaw
    /// reaches with `env` (the emulator's credentials, proxy).
    pub fn use_store(&self, yaml: &str, env: &[(String, String)]) {
        *self.store_env.lock().unwrap() = env.to_vec();
        let config = std::fs::read_to_string(&self.config).unwrap();
        let file_store = format!("      file: {{ path: {} }}\n", self.store.display());
        assert!(
            config.contains(&file_store),
            "the config has no file store line"
        );
        std::fs::write(
            &self.config,
            config.replace(&file_store, &format!("      {yaml}\n")),
        )
        .unwrap();
    }

    pub fn write_store(&self, value: Value) {
        std::fs::write(&self.store, serde_json::to_vec_pretty(&value).unwrap()).unwrap();
    }

    pub fn read_store(&self) -> Value {
        read_json(&self.store)
    }

    /// (username, password) of the store's `current` or `previous`.
    pub fn login(&self, which: &str) -> (String, String) {
        login_in(&self.read_store(), which)
    }

    pub async fn logs_in(&self, which: &str) -> bool {
        let (u, p) = self.login(which);
        self.cluster.can_login(&u, &p, DB).await
    }

    pub async fn seesaw(&self, args: &[&str]) -> Run {
        self.seesaw_with(args, &[]).await
    }

    /// Runs seesaw with extra environment: `Some` sets a variable, `None`
    /// removes it. The admin password is set unless `env` says otherwise.
    pub async fn seesaw_with(
        &self,
        args: &[&str],
        env: &[(&str, Option<&std::ffi::OsStr>)],
    ) -> Run {
        let store_env = self.store_env();
        let mut all: Vec<(&str, Option<&std::ffi::OsStr>)> = store_env
            .iter()
            .map(|(k, v)| (k.as_str(), Some(v.as_ref())))
            .collect();
        all.extend_from_slice(env); // later entries win
        run(&self.config, args, &all).await
    }

    /// The store's environment (see `use_store`).
    pub fn store_env(&self) -> Vec<(String, String)> {
        self.store_env.lock().unwrap().clone()
    }

    /// The engine of the config's first target, in process.
    pub async fn engine(&self) -> seesaw::runtime::Engine {
        let environment = self
            .store_env()
            .into_iter()
            .fold(environment(), |env, (k, v)| env.with(k, v));
        engine(&self.config, environment).await
    }
}

pub fn read_json(path: &std::path::Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// (username, password) of a store document's `current` or `previous`.
pub fn login_in(store: &Value, which: &str) -> (String, String) {
    let doc = &store[which];
    (
        doc["username"].as_str().unwrap_or_default().to_owned(),
        doc["password"].as_str().unwrap_or_default().to_owned(),
    )
}

/// Runs the seesaw binary with `config`. Extra environment: `Some` sets a
/// variable, `None` removes it; the admin password is set unless `env`
/// says otherwise.
pub async fn run(
    config: &std::path::Path,
    args: &[&str],
    env: &[(&str, Option<&std::ffi::OsStr>)],
) -> Run {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_seesaw"));
    cmd.arg("--config")
        .arg(config)
        .args(args)
        .env("TEST_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .env_remove("RUST_LOG");
    for (name, value) in env {
        match value {
            Some(v) => cmd.env(name, v),
            None => cmd.env_remove(name),
        };
    }
    cmd.output().await.expect("run seesaw").into()
}

/// What an in-process seesaw reads where a spawned one gets
/// `TEST_ADMIN_PASSWORD` (and PgBouncer's `TEST_PGBOUNCER_PASSWORD`) in its
/// environment; the process's environment stays as it is.
pub fn environment() -> seesaw::environment::Environment {
    seesaw::environment::Environment::process()
        .with("TEST_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .with("TEST_PGBOUNCER_PASSWORD", super::pgbouncer::ADMIN_PASSWORD)
}

/// The engine of `config`'s first target, in process, reading `environment`.
pub async fn engine(
    config: &std::path::Path,
    environment: seesaw::environment::Environment,
) -> seesaw::runtime::Engine {
    let config = seesaw::config::Config::load(config).unwrap();
    let options = seesaw::runtime::EngineOptions {
        environment,
        ..Default::default()
    };
    seesaw::runtime::Engine::from_config(&config.targets[0], &options)
        .await
        .unwrap()
}

/// Engine options with [`environment`].
pub fn engine_options() -> seesaw::runtime::EngineOptions {
    seesaw::runtime::EngineOptions {
        environment: environment(),
        ..Default::default()
    }
}
