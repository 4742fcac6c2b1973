//! A private MariaDB server per test: `mariadb-install-db` and `mariadbd
//! --no-defaults` from Debian's `mariadb-server` (or `$MARIADB_BIN`, the
//! directory holding them), own datadir and socket in a temp dir, a free
//! loopback port, the general log and a statement-format binlog on (so a
//! test can search both for a leaked password), the ed25519 plugin loaded.
//! `root@127.0.0.1` has no password; tests create what they need.

use mysql_async::prelude::Queryable;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct MariaDb {
    dir: tempfile::TempDir,
    pub port: u16,
    child: Child,
}

fn tool(name: &str) -> PathBuf {
    if let Ok(dir) = std::env::var("MARIADB_BIN") {
        return PathBuf::from(dir).join(name);
    }
    for dir in ["/usr/sbin", "/usr/bin"] {
        let p = PathBuf::from(dir).join(name);
        if p.exists() {
            return p;
        }
    }
    panic!("{name} not found: install MariaDB (apt-get install mariadb-server; .ci/run does) or set MARIADB_BIN to the directory holding mariadbd and mariadb-install-db")
}

impl MariaDb {
    pub async fn start() -> MariaDb {
        MariaDb::start_with(None).await
    }

    /// With `ca`'s server certificate for TLS (plain TCP still accepted,
    /// for the tests' own setup).
    pub async fn start_with(tls: Option<&super::tls::TestCa>) -> MariaDb {
        let mut dir = tempfile::Builder::new()
            .prefix("seesaw-maria-")
            .tempdir()
            .unwrap();
        let data = dir.path().join("data");
        // Servers of parallel tests must not share /tmp's temporary tables.
        let tmp = dir.path().join("tmp");
        std::fs::create_dir_all(&tmp).unwrap();
        let user: &[&str] = if super::process::running_as_root() {
            &["--user=root"]
        } else {
            &[]
        };
        let out = Command::new(tool("mariadb-install-db"))
            .arg("--no-defaults")
            .args(user)
            .arg(format!("--datadir={}", data.display()))
            .arg(format!("--tmpdir={}", tmp.display()))
            .args([
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
                "--skip-name-resolve",
                "--innodb-log-file-size=4M",
            ])
            .output()
            .expect("run mariadb-install-db");
        assert!(
            out.status.success(),
            "mariadb-install-db failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut tls_args = Vec::new();
        if let Some(ca) = tls {
            let d = dir.path();
            std::fs::write(d.join("ca.pem"), &ca.ca_pem).unwrap();
            std::fs::write(d.join("server.crt"), &ca.cert_pem).unwrap();
            std::fs::write(d.join("server.key"), &ca.key_pem).unwrap();
            tls_args = vec![
                format!("--ssl-ca={}", d.join("ca.pem").display()),
                format!("--ssl-cert={}", d.join("server.crt").display()),
                format!("--ssl-key={}", d.join("server.key").display()),
            ];
        }
        for _ in 0..5 {
            let port = super::process::free_port();
            let d = dir.path();
            let child = Command::new(tool("mariadbd"))
                .arg("--no-defaults")
                .args(user)
                .arg(format!("--datadir={}", data.display()))
                .arg(format!("--tmpdir={}", tmp.display()))
                .arg("--bind-address=127.0.0.1")
                .arg(format!("--port={port}"))
                .arg(format!("--socket={}", d.join("sock").display()))
                .arg(format!("--pid-file={}", d.join("pid").display()))
                .arg(format!("--log-error={}", d.join("error.log").display()))
                .args([
                    "--skip-name-resolve",
                    "--innodb-buffer-pool-size=16M",
                    "--innodb-log-file-size=4M",
                    "--general-log=1",
                    "--binlog-format=STATEMENT",
                    "--server-id=1",
                    "--plugin-load-add=auth_ed25519",
                    "--max-connections=300",
                ])
                .arg(format!(
                    "--general-log-file={}",
                    d.join("general.log").display()
                ))
                .arg(format!("--log-bin={}", data.join("binlog").display()))
                .args(&tls_args)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start mariadbd");
            let mut server = MariaDb { dir, port, child };
            let started = Instant::now();
            while started.elapsed() < Duration::from_secs(20) {
                if server.root().await.is_ok() {
                    return server;
                }
                if server.child.try_wait().ok().flatten().is_some() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            let _ = server.child.kill();
            let _ = server.child.wait();
            dir = std::mem::replace(&mut server.dir, tempfile::tempdir().unwrap());
        }
        panic!("mariadbd did not start");
    }

    pub fn dir(&self) -> &std::path::Path {
        self.dir.path()
    }

    pub async fn connect(
        &self,
        user: &str,
        password: &str,
        db: Option<&str>,
    ) -> Result<mysql_async::Conn, mysql_async::Error> {
        let opts = mysql_async::OptsBuilder::default()
            .ip_or_hostname("127.0.0.1")
            .tcp_port(self.port)
            .user(Some(user))
            .pass(Some(password))
            .db_name(db)
            .prefer_socket(false);
        mysql_async::Conn::new(opts).await
    }

    pub async fn root(&self) -> Result<mysql_async::Conn, mysql_async::Error> {
        self.connect("root", "", None).await
    }

    /// Whether `user` logs in with `password`. Leaves no trace: returns
    /// once its connection has left the process list, so a rotation right
    /// after does not count it as a session of the standby.
    pub async fn can_login(&self, user: &str, password: &str) -> bool {
        let Ok(mut conn) = self.connect(user, password, Some("app")).await else {
            return false;
        };
        if conn.query_drop("SELECT 1").await.is_err() {
            return false;
        }
        let id = conn.id();
        let _ = conn.disconnect().await;
        let Ok(mut root) = self.root().await else {
            return true;
        };
        for _ in 0..200 {
            let left: Option<u64> = root
                .exec_first(
                    "SELECT ID FROM information_schema.PROCESSLIST WHERE ID = ?",
                    (id,),
                )
                .await
                .unwrap_or(None);
            if left.is_none() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        true
    }

    /// Every statement the server received (general log) and what it
    /// replicates (the binlog, decoded by mariadb-binlog).
    pub fn logs(&self) -> String {
        let mut text =
            std::fs::read_to_string(self.dir.path().join("general.log")).unwrap_or_default();
        let binlogs: Vec<PathBuf> = std::fs::read_dir(self.dir.path().join("data"))
            .unwrap()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("binlog.0"))
            })
            .collect();
        assert!(!binlogs.is_empty(), "no binlog written");
        for binlog in binlogs {
            let out = Command::new(tool("mariadb-binlog"))
                .arg(&binlog)
                .output()
                .expect("run mariadb-binlog");
            text.push_str(&String::from_utf8_lossy(&out.stdout));
        }
        text
    }
}

impl Drop for MariaDb {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A MariaDB target: database `app`, the accounts laid out by `seesaw
/// setup-sql` (so its SQL is tested for real), the admin's and `users[0]`'s
/// passwords set, `users[0]` adopted as the store's current document.
pub struct Target {
    pub server: MariaDb,
    /// The login names.
    pub users: [String; 2],
    /// The users as the config names them (`app_a@127.0.0.%` names the
    /// account's host part; `%` when none is given).
    pub specs: [String; 2],
    pub store: PathBuf,
    pub config: PathBuf,
    /// Extra lines under `database:`, set before [`Target::new`] writes the
    /// config (setup-sql reads the policies).
    pub database_extra: String,
}

pub const INITIAL: &str = "initial-Password-1";

impl Target {
    pub async fn new(users: [&str; 2], database_extra: &str) -> Target {
        Target::with(users, database_extra, None).await
    }

    /// As [`Target::new`]; with `tls`, the server serves TLS with its
    /// certificate and the config says `tls: verify-full` with its CA.
    pub async fn with(
        users: [&str; 2],
        database_extra: &str,
        tls: Option<&super::tls::TestCa>,
    ) -> Target {
        let server = MariaDb::start_with(tls).await;
        let tls_lines = match tls {
            Some(_) => format!(
                "      tls: verify-full\n      ca_file: {}\n",
                server.dir().join("ca.pem").display()
            ),
            None => "      tls: disable\n".to_owned(),
        };
        let store = server.dir().join("secret.json");
        let config = server.dir().join("seesaw.yaml");
        let name = |spec: &str| spec.rsplit_once('@').map_or(spec, |(n, _)| n).to_owned();
        let t = Target {
            server,
            users: [name(users[0]), name(users[1])],
            specs: [users[0].to_owned(), users[1].to_owned()],
            store,
            config,
            database_extra: format!("{tls_lines}{database_extra}"),
        };
        t.write_config();
        let mut root = t.server.root().await.unwrap();
        root.query_drop("CREATE DATABASE app").await.unwrap();
        let sql = t.seesaw(&["setup-sql", "demo"]).await;
        assert_eq!(sql.code, 0, "setup-sql failed: {}", sql.all());
        for statement in statements(&sql.stdout) {
            root.query_drop(&statement)
                .await
                .unwrap_or_else(|e| panic!("setup-sql statement fails: {statement}: {e}"));
        }
        root.query_drop(format!(
            "ALTER USER `{}`@`%` IDENTIFIED BY '{}'",
            super::seesaw::ADMIN,
            super::seesaw::ADMIN_PASSWORD
        ))
        .await
        .unwrap();
        t.set_password(&t.users[0], INITIAL).await;
        std::fs::write(
            &t.store,
            serde_json::to_vec_pretty(&serde_json::json!({
                "current": {"username": t.users[0], "password": INITIAL}
            }))
            .unwrap(),
        )
        .unwrap();
        t
    }

    /// The host part of `user`'s account.
    pub fn host_of(&self, user: &str) -> &str {
        self.specs
            .iter()
            .find_map(|s| s.rsplit_once('@').filter(|(n, _)| *n == user))
            .map_or("%", |(_, h)| h)
    }

    pub async fn set_password(&self, user: &str, password: &str) {
        let mut root = self.server.root().await.unwrap();
        root.query_drop(format!(
            "ALTER USER `{}`@`{}` IDENTIFIED BY '{password}'",
            user.replace('`', "``"),
            self.host_of(user)
        ))
        .await
        .unwrap();
    }

    pub fn write_config(&self) {
        self.write_config_with_admin(&format!(
            "{{ username: {}, password_env: TEST_ADMIN_PASSWORD }}",
            super::seesaw::ADMIN
        ));
    }

    /// The config with `database.admin` as given (`self`, say).
    pub fn write_config_with_admin(&self, admin: &str) {
        let users = serde_json::to_string(&self.specs).unwrap();
        let yaml = format!(
            "targets:\n  - name: demo\n    database:\n      engine: mariadb\n      host: 127.0.0.1\n      port: {}\n      dbname: app\n      users: {users}\n      admin: {}\n      connect_timeout: 3s\n{}    store:\n      file: {{ path: {} }}\n",
            self.server.port,
            admin,
            self.database_extra,
            self.store.display(),
        );
        std::fs::write(&self.config, yaml).unwrap();
    }

    /// Rewrites the config's `standby_sessions:` line to `policy`.
    pub fn set_sessions_policy(&self, policy: &str) {
        let text = std::fs::read_to_string(&self.config).unwrap();
        let line = text
            .lines()
            .find(|l| l.trim_start().starts_with("standby_sessions:"))
            .expect("the config sets standby_sessions")
            .to_owned();
        let new = format!("      standby_sessions: {policy}");
        std::fs::write(&self.config, text.replace(&line, &new)).unwrap();
    }

    pub fn read_store(&self) -> serde_json::Value {
        super::seesaw::read_json(&self.store)
    }

    /// (username, password) of the store's `current` or `previous`.
    pub fn login(&self, which: &str) -> (String, String) {
        super::seesaw::login_in(&self.read_store(), which)
    }

    pub async fn logs_in(&self, which: &str) -> bool {
        let (u, p) = self.login(which);
        self.server.can_login(&u, &p).await
    }

    pub async fn seesaw(&self, args: &[&str]) -> super::seesaw::Run {
        super::seesaw::run(&self.config, args, &[]).await
    }

    pub async fn engine(&self) -> seesaw::runtime::Engine {
        super::seesaw::engine(&self.config, super::seesaw::environment()).await
    }

    /// The account's authentication plugin.
    pub async fn plugin(&self, user: &str) -> String {
        let mut root = self.server.root().await.unwrap();
        let plugin: Option<String> = root
            .exec_first(
                "SELECT plugin FROM mysql.user WHERE User = ? AND Host = ?",
                (user, self.host_of(user)),
            )
            .await
            .unwrap();
        plugin.unwrap_or_default()
    }
}

/// The statements of a script: comment lines dropped, split at `;` line ends.
pub fn statements(script: &str) -> Vec<String> {
    let body: String = script
        .lines()
        .filter(|l| !l.trim_start().starts_with("--"))
        .map(|l| format!("{l}\n"))
        .collect();
    body.split(";\n")
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}
