//! A throwaway PostgreSQL for the demo: the machine's server binaries,
//! `initdb` in a temp dir, `scram-sha-256` for every login, loopback only
//! on a free port; stopped and deleted when dropped (Ctrl-C included).
//! PostgreSQL refuses to run as root: as root, the server runs as the
//! `postgres` OS user, as the test clusters do.

use std::path::{Path, PathBuf};
use std::process::Command;

pub struct Server {
    dir: tempfile::TempDir,
    bin: PathBuf,
    as_postgres: bool,
    running: bool,
    pub port: u16,
    pub version: String,
}

impl Server {
    /// Starts a cluster whose `postgres` superuser has `password`.
    pub fn start(bin: PathBuf, password: &str) -> Result<Server, String> {
        let dir = tempfile::Builder::new()
            .prefix("seesaw-demo-")
            .tempdir()
            .map_err(|e| format!("cannot create a temp dir: {e}"))?;
        let as_postgres = running_as_root();
        if as_postgres && !user_exists("postgres") {
            return Err(
                "PostgreSQL refuses to run as root, and there is no `postgres` OS user to \
                run it as (the PostgreSQL package creates one): run the demo as a normal \
                    user"
                    .into(),
            );
        }
        let version = version(&bin)?;
        let mut server = Server {
            dir,
            bin,
            as_postgres,
            running: false,
            port: 0,
            version,
        };
        let root = server.dir.path().to_path_buf();
        let pwfile = root.join("pwfile");
        write_private(&pwfile, password)?;
        if as_postgres {
            let ok = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(&root)
                .status()
                .map(|s| s.success())
                .unwrap_or(false);
            if !ok {
                return Err(format!(
                    "cannot hand {} to the postgres user (chown failed)",
                    root.display()
                ));
            }
        }
        let data = root.join("data");
        let out = server.run(
            "initdb",
            &[
                "-D".as_ref(),
                data.as_os_str(),
                "-U".as_ref(),
                "postgres".as_ref(),
                "--auth=scram-sha-256".as_ref(),
                format!("--pwfile={}", pwfile.display()).as_ref(),
                "-E".as_ref(),
                "UTF8".as_ref(),
                "--no-sync".as_ref(),
            ],
        )?;
        let _ = std::fs::remove_file(&pwfile);
        if !out.status.success() {
            return Err(format!(
                "initdb failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        let log = root.join("server.log");
        for _attempt in 0..5 {
            server.port = free_port()?;
            let conf = format!(
                "\nlisten_addresses = '127.0.0.1'\nport = {}\nunix_socket_directories = '{}'\n\
                 fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n\
                 shared_buffers = 16MB\nmax_connections = 100\npassword_encryption = \
                     'scram-sha-256'\n",
                server.port,
                root.display()
            );
            std::fs::write(data.join("postgresql.auto.conf"), conf)
                .map_err(|e| format!("cannot write the server's settings: {e}"))?;
            let out = server.run(
                "pg_ctl",
                &[
                    "-D".as_ref(),
                    data.as_os_str(),
                    "-l".as_ref(),
                    log.as_os_str(),
                    "-w".as_ref(),
                    "-t".as_ref(),
                    "60".as_ref(),
                    "start".as_ref(),
                ],
            )?;
            if out.status.success() {
                server.running = true;
                return Ok(server);
            }
        }
        let tail = std::fs::read_to_string(&log).unwrap_or_default();
        Err(format!(
            "PostgreSQL did not start: {}",
            tail.lines().rev().take(3).collect::<Vec<_>>().join(" | ")
        ))
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn stop(&mut self) {
        if !self.running {
            return;
        }
        let data = self.dir.path().join("data");
        let _ = self.run(
            "pg_ctl",
            &[
                "-D".as_ref(),
                data.as_os_str(),
                "-m".as_ref(),
                "immediate".as_ref(),
                "-w".as_ref(),
                "stop".as_ref(),
            ],
        );
        self.running = false;
    }

    fn run(&self, tool: &str, args: &[&std::ffi::OsStr]) -> Result<std::process::Output, String> {
        let exe = self.bin.join(tool);
        let mut cmd = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&exe);
            c
        } else {
            Command::new(&exe)
        };
        cmd.args(args)
            .env("LC_ALL", "C.UTF-8")
            .output()
            .map_err(|e| format!("cannot run {}: {e}", exe.display()))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

fn version(bin: &Path) -> Result<String, String> {
    let out = Command::new(bin.join("pg_ctl"))
        .arg("--version")
        .output()
        .map_err(|e| format!("cannot run {}: {e}", bin.join("pg_ctl").display()))?;
    // "pg_ctl (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)"
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut words = text.split_whitespace();
    Ok(words
        .by_ref()
        .find(|w| *w == "(PostgreSQL)")
        .and_then(|_| words.next())
        .unwrap_or("?")
        .to_owned())
}

/// Creates `path` (it must not exist) readable by its owner only.
pub(super) fn write_private(path: &Path, text: &str) -> Result<(), String> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}

fn free_port() -> Result<u16, String> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("no free loopback port: {e}"))
}

fn running_as_root() -> bool {
    // The effective uid from /proc (no libc call needed).
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|v| v.split_whitespace().nth(1).map(|u| u == "0"))
        })
        .unwrap_or(false)
}

fn user_exists(name: &str) -> bool {
    std::fs::read_to_string("/etc/passwd")
        .map(|p| p.lines().any(|l| l.split(':').next() == Some(name)))
        .unwrap_or(false)
}

/// The directory holding `initdb` and `pg_ctl`: `PG_BIN`, then
/// `pg_config --bindir`, `PATH`, and the usual package locations (the
/// newest version first). `None`: not installed.
pub fn find_binaries() -> Option<PathBuf> {
    let has = |d: &Path| d.join("initdb").is_file() && d.join("pg_ctl").is_file();
    if let Some(dir) = std::env::var_os("PG_BIN").filter(|v| !v.is_empty()) {
        // Set on purpose: used or reported, never silently replaced.
        return Some(PathBuf::from(dir));
    }
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output() {
        let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if out.status.success() && has(&dir) {
            return Some(dir);
        }
    }
    if let Some(path) = std::env::var_os("PATH") {
        if let Some(dir) = std::env::split_paths(&path).find(|d| has(d)) {
            return Some(dir);
        }
    }
    let mut found: Vec<(u32, PathBuf)> = Vec::new();
    for (parent, prefix, suffix) in [
        ("/usr/lib/postgresql", "", "bin"),
        ("/usr", "pgsql-", "bin"),
        ("/opt/homebrew/opt", "postgresql@", "bin"),
        ("/usr/local/opt", "postgresql@", "bin"),
    ] {
        for entry in std::fs::read_dir(parent).into_iter().flatten().flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let Some(version) = name.strip_prefix(prefix) else {
                continue;
            };
            let major = version.split('.').next().unwrap_or("");
            if let Ok(major) = major.parse::<u32>() {
                let dir = entry.path().join(suffix);
                if has(&dir) {
                    found.push((major, dir));
                }
            }
        }
    }
    found.sort();
    found.pop().map(|(_, dir)| dir)
}

/// The command that installs the server binaries here.
pub fn install_hint() -> String {
    let os = std::fs::read_to_string("/etc/os-release").unwrap_or_default();
    let field = |key: &str| {
        os.lines()
            .find_map(|l| l.strip_prefix(key))
            .unwrap_or("")
            .trim_matches('"')
            .to_owned()
    };
    let ids = format!("{} {}", field("ID="), field("ID_LIKE="));
    let command = if cfg!(target_os = "macos") {
        "brew install postgresql@17"
    } else if ids.contains("debian") || ids.contains("ubuntu") {
        "sudo apt-get install postgresql"
    } else if ["fedora", "rhel", "centos", "rocky", "almalinux", "amzn"]
        .iter()
        .any(|id| ids.contains(id))
    {
        "sudo dnf install postgresql-server"
    } else if ids.contains("alpine") {
        "sudo apk add postgresql"
    } else if ids.contains("arch") {
        "sudo pacman -S postgresql"
    } else if ids.contains("suse") {
        "sudo zypper install postgresql-server"
    } else {
        "install the PostgreSQL server package of your system"
    };
    format!(
        "the demo needs PostgreSQL's server binaries (initdb, pg_ctl) and found none (looked \
        at PG_BIN, pg_config --bindir, PATH, /usr/lib/postgresql/*/bin, /usr/pgsql-*/bin, \
            Homebrew). Install them with `{command}`, or set PG_BIN to the directory that holds \
                initdb"
    )
}
