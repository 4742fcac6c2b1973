//! A private PostgreSQL cluster per test: `initdb` + `pg_ctl` from the
//! installed binaries, in a temp dir, on a free loopback port, with
//! `scram-sha-256` for every connection and `log_statement = 'all'`, so
//! password tests mean something and the server log can be searched for
//! leaks. The machine's own PostgreSQL (trust auth) is not used.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;
use tokio_postgres::{Client, NoTls};

pub const SUPERUSER_PASSWORD: &str = "super-secret-test-password";

pub struct Cluster {
    dir: tempfile::TempDir,
    pub port: u16,
    bin: PathBuf,
    as_postgres: bool,
    stopped: bool,
}

fn bin_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("PG_BIN") {
        return PathBuf::from(dir);
    }
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL server binaries not found under /usr/lib/postgresql; install postgresql or set PG_BIN")
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|p| p.join("initdb").exists())
        .collect();
    versions.sort();
    versions
        .pop()
        .expect("no initdb under /usr/lib/postgresql/*/bin; set PG_BIN")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("no free loopback port")
}

impl Cluster {
    /// Runs a PostgreSQL binary, as the `postgres` OS user when we are root
    /// (initdb and postgres refuse to run as root).
    fn run(&self, tool: &str, args: &[&str]) -> std::process::Output {
        let exe = self.bin.join(tool);
        let mut cmd = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&exe);
            c
        } else {
            Command::new(&exe)
        };
        cmd.args(args).env("LC_ALL", "C.UTF-8");
        cmd.output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", exe.display()))
    }

    pub fn start() -> Cluster {
        Cluster::start_with(None)
    }

    /// A cluster that serves TLS with `ca`'s server certificate and accepts
    /// only TLS logins over TCP (the superuser may also log in without, for
    /// the tests' own setup).
    pub fn start_tls(ca: &super::tls::TestCa) -> Cluster {
        Cluster::start_with(Some(ca))
    }

    fn start_with(tls: Option<&super::tls::TestCa>) -> Cluster {
        let dir = tempfile::Builder::new()
            .prefix("seesaw-pg-")
            .tempdir()
            .expect("temp dir");
        let as_postgres = super::process::running_as_root();
        let mut cluster = Cluster {
            dir,
            port: 0,
            bin: bin_dir(),
            as_postgres,
            stopped: true,
        };
        let root = cluster.dir.path().to_path_buf();
        std::fs::write(root.join("pwfile"), SUPERUSER_PASSWORD).unwrap();
        if as_postgres {
            super::process::give_to_postgres(&root);
        }
        let data = root.join("data");
        let pwfile = root.join("pwfile");
        let out = cluster.run(
            "initdb",
            &[
                "-D",
                data.to_str().unwrap(),
                "-U",
                "postgres",
                "--auth=scram-sha-256",
                &format!("--pwfile={}", pwfile.display()),
                "-E",
                "UTF8",
                "--no-sync",
            ],
        );
        assert!(
            out.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut tls_conf = String::new();
        if let Some(ca) = tls {
            std::fs::write(data.join("server.crt"), &ca.cert_pem).unwrap();
            std::fs::write(data.join("server.key"), &ca.key_pem).unwrap();
            std::fs::write(
                data.join("pg_hba.conf"),
                "local all all scram-sha-256\n\
                 hostnossl all postgres 127.0.0.1/32 scram-sha-256\n\
                 hostssl all all 127.0.0.1/32 scram-sha-256\n",
            )
            .unwrap();
            if as_postgres {
                let files = ["server.crt", "server.key", "pg_hba.conf"].map(|f| data.join(f));
                assert!(Command::new("chown")
                    .arg("postgres:postgres")
                    .args(&files)
                    .status()
                    .unwrap()
                    .success());
            }
            assert!(Command::new("chmod")
                .arg("600")
                .arg(data.join("server.key"))
                .status()
                .unwrap()
                .success());
            tls_conf =
                "ssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n".into();
        }
        for attempt in 0..5 {
            cluster.port = free_port();
            let conf = format!(
                "\nlisten_addresses = '127.0.0.1'\nport = {}\nunix_socket_directories = '{}'\n\
                 log_statement = 'all'\nlog_connections = on\nlogging_collector = off\nfsync = off\nsynchronous_commit = off\n\
                 full_page_writes = off\nmax_connections = 300\nshared_buffers = 16MB\n\
                 password_encryption = 'scram-sha-256'\n{tls_conf}",
                cluster.port,
                root.display()
            );
            let conf_path = data.join("postgresql.auto.conf");
            std::fs::write(&conf_path, conf).unwrap();
            let out = cluster.pg_ctl_start();
            if out.status.success() {
                cluster.stopped = false;
                return cluster;
            }
            eprintln!(
                "pg_ctl start attempt {attempt} failed (port {}), retrying",
                cluster.port
            );
        }
        panic!(
            "PostgreSQL test cluster did not start; see {}",
            root.join("server.log").display()
        );
    }

    /// The directory of the server's binaries (pgbench is there too).
    pub fn bin(&self) -> &Path {
        &self.bin
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Stops the server at once (as a crash would); `start_again` brings it back.
    pub fn stop(&mut self) {
        if !self.stopped {
            let data = self.dir.path().join("data");
            let _ = self.run(
                "pg_ctl",
                &[
                    "-D",
                    data.to_str().unwrap(),
                    "-m",
                    "immediate",
                    "-w",
                    "stop",
                ],
            );
            self.stopped = true;
        }
    }

    /// Starts a "smart" shutdown without waiting: the server refuses new
    /// logins ("the database system is shutting down") while sessions stay
    /// open. `start_again` recovers once they close.
    pub fn begin_smart_shutdown(&mut self) {
        let data = self.dir.path().join("data");
        let out = self.run(
            "pg_ctl",
            &["-D", data.to_str().unwrap(), "-m", "smart", "-W", "stop"],
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        self.stopped = true;
    }

    /// `pg_ctl start`, waiting until the server accepts connections.
    fn pg_ctl_start(&self) -> std::process::Output {
        let data = self.dir.path().join("data");
        let log = self.dir.path().join("server.log");
        let (data, log) = (data.to_str().unwrap(), log.to_str().unwrap());
        self.run(
            "pg_ctl",
            &["-D", data, "-l", log, "-w", "-t", "60", "start"],
        )
    }

    /// Starts a stopped server again on the same port and data.
    pub fn start_again(&mut self) {
        if self.stopped {
            let out = self.pg_ctl_start();
            assert!(
                out.status.success(),
                "restart failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            self.stopped = false;
        }
    }

    /// Everything the server logged so far.
    pub fn server_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    pub async fn connect(
        &self,
        user: &str,
        password: &str,
        dbname: &str,
    ) -> Result<Client, tokio_postgres::Error> {
        connect(self.port, user, password, dbname).await
    }

    pub async fn superuser(&self) -> Client {
        self.connect("postgres", SUPERUSER_PASSWORD, "postgres")
            .await
            .expect("superuser login")
    }

    /// Whether `user` logs in with `password`. The check leaves no trace:
    /// it returns once its session has left pg_stat_activity, so a
    /// rotation right after does not count it as a session of the standby.
    pub async fn can_login(&self, user: &str, password: &str, dbname: &str) -> bool {
        let Ok(client) = self.connect(user, password, dbname).await else {
            return false;
        };
        let pid: i32 = match client.query_one("SELECT pg_backend_pid()", &[]).await {
            Ok(row) => row.get(0),
            Err(_) => return false,
        };
        drop(client);
        let Ok(su) = self
            .connect("postgres", SUPERUSER_PASSWORD, "postgres")
            .await
        else {
            return true;
        };
        for _ in 0..200 {
            let left = su
                .query_opt("SELECT 1 FROM pg_stat_activity WHERE pid = $1", &[&pid])
                .await
                .map(|r| r.is_none())
                .unwrap_or(true);
            if left {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        true
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A plain (no TLS) login to 127.0.0.1:`port`, its connection driven in
/// the background: a cluster, or a PgBouncer in front of one.
pub async fn connect(
    port: u16,
    user: &str,
    password: &str,
    dbname: &str,
) -> Result<Client, tokio_postgres::Error> {
    let (client, conn) = tokio_postgres::Config::new()
        .host("127.0.0.1")
        .port(port)
        .user(user)
        .password(password)
        .dbname(dbname)
        .connect_timeout(Duration::from_secs(5))
        .connect(NoTls)
        .await?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(client)
}
