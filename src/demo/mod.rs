//! `seesaw demo`: see it work in one command, with nothing to set up.
//!
//! A throwaway PostgreSQL from the machine's server binaries, the roles
//! `seesaw setup-sql` recommends, a file store, and simulated clients that
//! log in continuously with the credential they started with; then a few
//! rotations, each followed by a rollout of the clients, with a live view,
//! and a summary. Everything lives in one temp dir, removed at the end and
//! on Ctrl-C.

mod clients;
mod server;

use crate::config::Config;
use crate::db::{Database, Postgres};
use crate::password::PasswordPolicy;
use crate::progress::Progress;
use crate::rotation::Step;
use crate::runtime::{Engine, EngineOptions, RotateOptions};
use crate::secret::Credential;
use secrecy::ExposeSecret;
use std::io::{IsTerminal, Write};
use std::sync::atomic::Ordering;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub struct DemoOptions {
    pub rotations: u32,
    pub clients: usize,
    /// Time between rotations (the clients log in meanwhile).
    pub interval: Duration,
}

/// Runs the demo until done or `interrupted` resolves; returns the exit
/// code: 0 when every login succeeded, 1 on a failure, 2 when there is no
/// PostgreSQL to run, 130 when interrupted.
pub async fn run(options: DemoOptions, interrupted: impl std::future::Future<Output = ()>) -> i32 {
    let Some(bin) = server::find_binaries() else {
        eprintln!("error: {}", server::install_hint());
        return 2;
    };
    if !bin.join("initdb").is_file() {
        eprintln!(
            "error: {} holds no initdb (set by PG_BIN?); point PG_BIN at the directory of \
                PostgreSQL's server binaries",
            bin.display()
        );
        return 2;
    }
    tokio::select! {
        result = demo(bin, &options) => match result {
            Ok(code) => code,
            Err(e) => {
                eprintln!("\nerror: {e}");
                1
            }
        },
        _ = interrupted => {
            // Dropping the demo stopped its clients and the server, and
            // removed the temp dir.
            eprintln!("\ninterrupted: the demo's server is stopped and its files are removed");
            130
        }
    }
}

async fn demo(bin: std::path::PathBuf, options: &DemoOptions) -> Result<i32, String> {
    let policy = PasswordPolicy::default();
    let superuser = Credential::new("postgres", policy.generate());
    say(&format!(
        "starting a throwaway PostgreSQL from {}",
        bin.display()
    ));
    let pw = superuser.password.expose_secret().to_owned();
    let server = tokio::task::spawn_blocking(move || server::Server::start(bin, &pw))
        .await
        .map_err(|e| format!("the server start stopped: {e}"))??;
    let dir = server.dir().to_path_buf();
    say(&format!(
        "PostgreSQL {} on 127.0.0.1:{}, files in {} (removed at the end)",
        server.version,
        server.port,
        dir.display()
    ));

    // The target: a config file as a user would write it.
    let admin_password = policy.generate();
    server::write_private(&dir.join("admin-password"), admin_password.expose_secret())?;
    let config_path = dir.join("seesaw.yaml");
    std::fs::write(
        &config_path,
        format!(
            "targets:\n  - name: demo\n    database:\n      engine: postgres\n      host: \
                127.0.0.1\n      port: {port}\n      dbname: demo\n      tls: disable\n      \
                    users: [demo_a, demo_b]\n      admin: {{ username: seesaw_admin, \
                        password_file: {dir}/admin-password }}\n      standby_sessions: \
                            wait\n    store:\n      file: {{ path: {dir}/secret.json }}\n",
            port = server.port,
            dir = dir.display()
        ),
    )
    .map_err(|e| format!("cannot write {}: {e}", config_path.display()))?;
    let config = Config::load(&config_path).map_err(|e| e.to_string())?;
    let target = &config.targets[0];

    // The roles, as `seesaw setup-sql demo` prints them, and passwords set
    // as SCRAM verifiers (no plaintext reaches the server).
    as_superuser(server.port, &superuser, "postgres", "CREATE DATABASE demo")
        .await
        .map_err(|e| format!("create the demo database: {e}"))?;
    as_superuser(
        server.port,
        &superuser,
        "demo",
        &crate::setup_sql::render(target),
    )
    .await
    .map_err(|e| format!("create the roles (seesaw setup-sql demo): {e}"))?;
    let db = Postgres::new(&target.database).map_err(|e| e.to_string())?;
    let mut session = db
        .login(&superuser)
        .await
        .map_err(|e| format!("log in to the demo database: {e}"))?;
    let first = Credential::new("demo_a", policy.generate());
    for (role, password) in [
        ("seesaw_admin", &admin_password),
        ("demo_a", &first.password),
    ] {
        session
            .set_password(role, password)
            .await
            .map_err(|e| e.to_string())?;
    }
    drop(session);
    server::write_private(
        &dir.join("secret.json"),
        &serde_json::json!({"current": {"username": "demo_a",
            "password": first.password.expose_secret()}})
        .to_string(),
    )?;
    say(
        "roles demo_a and demo_b (alternating), seesaw_admin; the file store holds demo_a's \
        credential",
    );

    let engine = Engine::from_config(target, &EngineOptions::default())
        .await
        .map_err(|e| e.to_string())?;
    let mut fleet = clients::Fleet::new(server.port, "demo");
    fleet.roll(&first, options.clients).await;
    say(&format!(
        "{} simulated clients log in every 100 ms with the credential they started with",
        options.clients
    ));

    let live = Live::new(fleet.tally.clone());
    let ticker = live.start();
    let mut times = Vec::new();
    let started = Instant::now();
    for n in 1..=options.rotations {
        live.set(&format!(
            "rotation {n}/{}: clients working",
            options.rotations
        ));
        tokio::time::sleep(options.interval).await;
        let t = Instant::now();
        let report = engine
            .rotate(RotateOptions::default(), &live)
            .await
            .map_err(|e| e.to_string())?;
        let took = t.elapsed();
        times.push(took);
        let current = engine
            .store()
            .read()
            .await
            .map_err(|e| e.to_string())?
            .current
            .document
            .credential()
            .map_err(|e| e.to_string())?;
        live.println(&format!(
            "rotation {n}/{}: {} -> {} in {} ms ({} steps); rolling the clients onto {}",
            options.rotations,
            report.from,
            report.to,
            took.as_millis(),
            report.steps.len(),
            current.username
        ));
        fleet.roll(&current, options.clients).await;
    }
    live.set("last rollout done: clients working");
    tokio::time::sleep(options.interval).await;
    fleet.stop();
    tokio::time::sleep(Duration::from_millis(200)).await;
    ticker.abort();
    live.clear();

    let tally = &fleet.tally;
    let (logins, failed) = (
        tally.logins.load(Ordering::Relaxed),
        tally.failed.load(Ordering::Relaxed),
    );
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "\n{} rotations in {:.1} s; each took {:.0} ms (median, {:.0} to {:.0} ms)",
        times.len(),
        started.elapsed().as_secs_f64(),
        times.get(times.len() / 2).map_or(0.0, |d| ms(*d)),
        times.first().map_or(0.0, |d| ms(*d)),
        times.last().map_or(0.0, |d| ms(*d)),
    );
    println!(
        "{logins} logins by the simulated clients, {failed} failed (clients on the old user kept \
            working until their rollout)"
    );
    if failed > 0 {
        for f in tally
            .failures
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
        {
            println!("  {f}");
        }
        return Ok(1);
    }
    println!(
        "\nThe demo's config, a start for your own (docs/configuration.md):\n\n{}",
        std::fs::read_to_string(&config_path).unwrap_or_default()
    );
    Ok(0)
}

/// Runs `sql` as the demo server's superuser in `dbname`.
async fn as_superuser(
    port: u16,
    superuser: &Credential,
    dbname: &str,
    sql: &str,
) -> Result<(), tokio_postgres::Error> {
    let (client, connection) = tokio_postgres::Config::new()
        .host("127.0.0.1")
        .port(port)
        .user(&superuser.username)
        .password(superuser.password.expose_secret())
        .dbname(dbname)
        .connect(tokio_postgres::NoTls)
        .await?;
    tokio::spawn(connection);
    client.batch_execute(sql).await
}

fn say(text: &str) {
    println!("{text}");
}

/// The live view: on a terminal, one status line redrawn four times a
/// second under the lines printed; elsewhere, only those lines.
struct Live {
    tally: std::sync::Arc<clients::Tally>,
    state: std::sync::Arc<Mutex<String>>,
    terminal: bool,
}

impl Live {
    fn new(tally: std::sync::Arc<clients::Tally>) -> Live {
        Live {
            tally,
            state: Default::default(),
            terminal: std::io::stdout().is_terminal(),
        }
    }

    fn set(&self, state: &str) {
        *self.state.lock().unwrap_or_else(|e| e.into_inner()) = state.to_owned();
    }

    fn line(state: &str, tally: &clients::Tally) -> String {
        format!(
            "{state} | logins {} | failed {}",
            tally.logins.load(Ordering::Relaxed),
            tally.failed.load(Ordering::Relaxed)
        )
    }

    fn start(&self) -> tokio::task::JoinHandle<()> {
        let (state, tally, terminal) = (self.state.clone(), self.tally.clone(), self.terminal);
        tokio::spawn(async move {
            if !terminal {
                return;
            }
            loop {
                let text = Self::line(&state.lock().unwrap_or_else(|e| e.into_inner()), &tally);
                {
                    let mut out = std::io::stdout().lock();
                    let _ = write!(out, "\r\x1b[K{text}");
                    let _ = out.flush();
                }
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        })
    }

    fn clear(&self) {
        if self.terminal {
            print!("\r\x1b[K");
            let _ = std::io::stdout().flush();
        }
    }

    fn println(&self, text: &str) {
        self.clear();
        println!("{text}");
    }
}

impl Progress for Live {
    fn started(&self, _target: &str, _step: &Step, what: &str) {
        self.set(what);
    }
    fn waiting(&self, _target: &str, message: &str) {
        self.set(message);
    }
}
