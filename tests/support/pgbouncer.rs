//! A private PgBouncer per test, in front of a test [`Cluster`]: the real
//! server from Debian's `pgbouncer` package (or `$PGBOUNCER`), on a free
//! loopback port, `auth_type = scram-sha-256` with an `auth_file` holding
//! the same verifiers as the database (copied from pg_authid), so logins
//! through it use SCRAM pass-through as in production. It runs as the
//! `postgres` OS user when the tests run as root (PgBouncer refuses root),
//! and its userlist is owned by that user with mode 0600: a rewrite that
//! lost the owner or mode would lock PgBouncer out of its own file.

use super::pg::Cluster;
use std::path::PathBuf;
use std::process::{Child, Command};
use std::time::{Duration, Instant};
use tokio_postgres::Client;

pub const ADMIN: &str = "pgb_admin";
pub const ADMIN_PASSWORD: &str = "pgb-admin-password-4q2z";

pub struct PgBouncer {
    pub dir: PathBuf,
    pub port: u16,
    pub userlist: PathBuf,
    child: Child,
}

fn binary() -> String {
    super::process::on_path("PGBOUNCER", "pgbouncer")
        .or_else(|| {
            std::path::Path::new("/usr/sbin/pgbouncer")
                .exists()
                .then(|| "/usr/sbin/pgbouncer".to_owned())
        })
        .expect("PgBouncer not found: install it (apt-get install pgbouncer; .ci/run does) or set PGBOUNCER to its binary")
}

impl PgBouncer {
    /// Starts PgBouncer for database `app` of `cluster`, in `pool_mode`
    /// (session or transaction), its auth_file holding the current
    /// verifiers of `users` (users without a password get no line) and the
    /// admin's plaintext password.
    pub async fn start(cluster: &Cluster, users: &[&str], pool_mode: &str) -> PgBouncer {
        let su = cluster.superuser().await;
        let mut lines = format!("\"{ADMIN}\" \"{ADMIN_PASSWORD}\"\n");
        for user in users {
            let row = su
                .query_opt(
                    "SELECT rolpassword FROM pg_authid WHERE rolname = $1 AND rolpassword IS NOT NULL",
                    &[user],
                )
                .await
                .unwrap();
            if let Some(row) = row {
                let verifier: String = row.get(0);
                lines.push_str(&format!("\"{user}\" \"{verifier}\"\n"));
            }
        }
        PgBouncer::start_with(cluster, &lines, pool_mode, "").await
    }

    /// Starts PgBouncer with `auth_query`: it looks each user's verifier up
    /// in the database at login (through a SECURITY DEFINER function, as
    /// PgBouncer's docs recommend) as `pgb_auth`; its auth_file holds only
    /// `pgb_auth` and the admin.
    pub async fn start_auth_query(cluster: &Cluster, pool_mode: &str) -> PgBouncer {
        let app = cluster
            .connect("postgres", super::pg::SUPERUSER_PASSWORD, "app")
            .await
            .unwrap();
        app.batch_execute(
            "CREATE ROLE pgb_auth LOGIN PASSWORD 'pgb-auth-password';\
             CREATE FUNCTION public.pgb_lookup(p_user text, OUT usename name, OUT passwd text) \
             RETURNS record LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog AS \
             $$ SELECT usename, passwd FROM pg_shadow WHERE usename = p_user $$;\
             REVOKE ALL ON FUNCTION public.pgb_lookup(text) FROM public;\
             GRANT EXECUTE ON FUNCTION public.pgb_lookup(text) TO pgb_auth;",
        )
        .await
        .unwrap();
        let lines =
            format!("\"{ADMIN}\" \"{ADMIN_PASSWORD}\"\n\"pgb_auth\" \"pgb-auth-password\"\n");
        PgBouncer::start_with(
            cluster,
            &lines,
            pool_mode,
            "auth_user = pgb_auth\nauth_query = SELECT usename, passwd FROM public.pgb_lookup($1)\n",
        )
        .await
    }

    /// Starts PgBouncer with `userlist` as its auth_file (plus the admin's
    /// line, which the caller includes or not).
    pub async fn start_with(
        cluster: &Cluster,
        userlist_text: &str,
        pool_mode: &str,
        extra_ini: &str,
    ) -> PgBouncer {
        let dir = cluster.dir().join(format!("pgbouncer-{pool_mode}"));
        std::fs::create_dir_all(&dir).unwrap();
        let userlist = dir.join("userlist.txt");
        std::fs::write(&userlist, userlist_text).unwrap();
        let root = super::process::running_as_root();
        if root {
            super::process::give_to_postgres(&dir);
        }
        let mode = Command::new("chmod")
            .arg("600")
            .arg(&userlist)
            .status()
            .unwrap();
        assert!(mode.success());
        let mut last_log = String::new();
        for _ in 0..5 {
            let port = super::process::free_port();
            let ini = dir.join("pgbouncer.ini");
            std::fs::write(
                &ini,
                format!(
                    "[databases]\napp = host=127.0.0.1 port={} dbname=app\n\n[pgbouncer]\n\
                     listen_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n\
                     auth_type = scram-sha-256\nauth_file = {}\nadmin_users = {ADMIN}\n\
                     pool_mode = {pool_mode}\nmax_client_conn = 500\ndefault_pool_size = 20\n\
                     server_login_retry = 15\nquery_wait_timeout = 20\n\
                     logfile = {}\npidfile = {}\nlog_connections = 1\n{extra_ini}",
                    cluster.port,
                    userlist.display(),
                    dir.join("pgbouncer.log").display(),
                    dir.join("pgbouncer.pid").display(),
                ),
            )
            .unwrap();
            let _ = std::fs::remove_file(dir.join("pgbouncer.pid"));
            if root {
                let _ = Command::new("chown")
                    .args(["postgres:postgres"])
                    .arg(&ini)
                    .status();
            }
            let mut cmd = if root {
                let mut c = Command::new("runuser");
                c.args(["-u", "postgres", "--", &binary()]);
                c
            } else {
                Command::new(binary())
            };
            let child = cmd
                .arg(&ini)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .expect("start pgbouncer");
            let mut bouncer = PgBouncer {
                dir: dir.clone(),
                port,
                userlist: userlist.clone(),
                child,
            };
            let started = Instant::now();
            while started.elapsed() < Duration::from_secs(10) {
                if bouncer.admin().await.is_ok() {
                    return bouncer;
                }
                if bouncer.child.try_wait().ok().flatten().is_some() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            last_log = bouncer.log();
            bouncer.stop();
        }
        panic!("PgBouncer did not start; its log:\n{last_log}");
    }

    /// Its admin console.
    pub async fn admin(&self) -> Result<Client, tokio_postgres::Error> {
        self.connect(ADMIN, ADMIN_PASSWORD, "pgbouncer").await
    }

    pub async fn connect(
        &self,
        user: &str,
        password: &str,
        dbname: &str,
    ) -> Result<Client, tokio_postgres::Error> {
        super::pg::connect(self.port, user, password, dbname).await
    }

    /// One login through PgBouncer and a query; the error text if not.
    pub async fn login(&self, user: &str, password: &str) -> Result<(), String> {
        let client = self
            .connect(user, password, "app")
            .await
            .map_err(|e| error_text(&e))?;
        let done = tokio::time::timeout(Duration::from_secs(30), client.simple_query("SELECT 1"))
            .await
            .map_err(|_| "no answer within 30 s".to_owned())?;
        done.map(drop).map_err(|e| error_text(&e))
    }

    /// The config lines for seesaw's `database.poolers` entry.
    pub fn config_lines(&self, with_file: bool) -> String {
        let file = if with_file {
            format!("\n            auth_file: {}", self.userlist.display())
        } else {
            String::new()
        };
        format!(
            "      poolers:\n        - pgbouncer:\n            host: 127.0.0.1\n            port: {}\n            admin: {{ username: {ADMIN}, password_env: TEST_PGBOUNCER_PASSWORD }}{file}\n",
            self.port
        )
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("pgbouncer.log")).unwrap_or_default()
    }

    pub fn stop(&mut self) {
        if let Ok(pid) = std::fs::read_to_string(self.dir.join("pgbouncer.pid")) {
            let _ = Command::new("kill").args(["-9", pid.trim()]).status();
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for PgBouncer {
    fn drop(&mut self) {
        self.stop();
    }
}

fn error_text(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => db.message().to_owned(),
        None => e.to_string(),
    }
}
