//! The daemon with many targets, as a user runs it (`seesaw run`), for each
//! size in SIZES (default 100,1000; 10000 takes about ten minutes):
//! 1. the login floor: as many SCRAM logins (`SELECT 1`, `pgbench -C`, 32
//!    clients) as there are targets, against the same cluster;
//! 2. N targets (2 x N login roles in that cluster, file stores), all due
//!    at once (`--rotate-now`), `concurrency.rotations: 32`, logging at its
//!    default level (info, JSON) as in production: wall time to rotate all
//!    (process start included) over the floor, the daemon's CPU per
//!    rotation, its peak RSS;
//! 3. a fresh daemon with the same targets scheduled and nothing due, for
//!    IDLE_SECS (default 20): RSS, and CPU (it must not poll).
//!
//! Completion is counted from the daemon's log (one `rotated` line per
//! target), not by scraping `/metrics`, whose cost grows with N and would
//! be counted as the daemon's.

#[path = "../tests/support/mod.rs"]
mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::AsyncBufReadExt;

fn proc_status(pid: u32, field: &str) -> u64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    text.lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// utime + stime in clock ticks (1/100 s).
fn cpu_ticks(pid: u32) -> u64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = text.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    f.get(11).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0)
        + f.get(12).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0)
}

const FLOOR_USER: &str = "bench_floor";
const FLOOR_PASSWORD: &str = "floor-password-for-pgbench";

/// `n` SCRAM logins by 32 parallel clients, each running `SELECT 1`.
fn login_floor(t: &support::seesaw::Target, n: usize) -> Duration {
    let script = t.cluster.dir().join("select1.sql");
    std::fs::write(&script, "SELECT 1;\n").unwrap();
    let per_client = n.div_ceil(32).to_string();
    let port = t.cluster.port.to_string();
    let started = Instant::now();
    let out = std::process::Command::new(t.cluster.bin().join("pgbench"))
        .args(["-n", "-C", "-c", "32", "-j", "2", "-t", &per_client, "-f"])
        .arg(&script)
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            &port,
            "-U",
            FLOOR_USER,
            support::seesaw::DB,
        ])
        .env("PGPASSWORD", FLOOR_PASSWORD)
        .output()
        .expect("pgbench (it comes with PostgreSQL's server binaries)");
    let took = started.elapsed();
    assert!(
        out.status.success(),
        "pgbench failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    took
}

struct Daemon {
    child: tokio::process::Child,
    pid: u32,
    rotated: Arc<AtomicUsize>,
    failed: Arc<AtomicUsize>,
}

/// Starts `seesaw run` on `config`, counting `rotated` and error lines.
fn start(config: &std::path::Path, extra: Vec<String>) -> Daemon {
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_seesaw"))
        .arg("--config")
        .arg(config)
        .args(["--log-format", "json", "run", "--http-addr", "127.0.0.1:0"])
        .args(extra)
        .env("TEST_ADMIN_PASSWORD", support::seesaw::ADMIN_PASSWORD)
        .env_remove("RUST_LOG")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let pid = child.id().unwrap();
    let rotated = Arc::new(AtomicUsize::new(0));
    let failed = Arc::new(AtomicUsize::new(0));
    let mut lines = tokio::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let (r, f) = (rotated.clone(), failed.clone());
    tokio::spawn(async move {
        while let Ok(Some(line)) = lines.next_line().await {
            if line.contains("\"message\":\"rotated\"") {
                r.fetch_add(1, Ordering::Relaxed);
            } else if line.contains("\"level\":\"ERROR\"") || !line.starts_with('{') {
                // An error, or what the daemon says before its logging
                // starts (a config it refuses).
                f.fetch_add(1, Ordering::Relaxed);
                eprintln!("{line}");
            }
        }
    });
    Daemon {
        child,
        pid,
        rotated,
        failed,
    }
}

struct Row {
    n: usize,
    floor: Duration,
    wall: Duration,
    cpu_per_rotation_ms: f64,
    peak_mib: f64,
    idle_mib: f64,
    idle_cpu_s: f64,
}

async fn measure(t: &support::seesaw::Target, n: usize, idle_secs: u64) -> Row {
    let dir = t.cluster.dir().join("stores");
    std::fs::create_dir_all(&dir).unwrap();
    let mut config = String::from(
        "concurrency: { rotations: 32, rollouts: 8 }\ndefaults: { schedule: \"0 3 1 1 *\", \
         window: 2h }\nshutdown_timeout: 10s\nleader_election: { enabled: never }\ntargets:\n",
    );
    let mut now_args = Vec::new();
    for i in 1..=n {
        let store = dir.join(format!("t{i}.json"));
        if !store.exists() {
            std::fs::write(&store, format!("{{\"current\": {{\"username\": \"u{i}_a\", \"password\": \"initial-pw-{i}\"}}}}")).unwrap();
        }
        config += &format!(
            "  - name: t{i}\n    database: {{ engine: postgres, host: 127.0.0.1, port: {}, dbname: app, tls: disable, users: [u{i}_a, u{i}_b], admin: {{ username: seesaw_admin, password_env: TEST_ADMIN_PASSWORD }} }}\n    store: {{ file: {{ path: {} }} }}\n",
            t.cluster.port,
            store.display()
        );
        now_args.push("--rotate-now".to_string());
        now_args.push(format!("t{i}"));
    }
    let config_path = t.cluster.dir().join(format!("targets-{n}.yaml"));
    std::fs::write(&config_path, config).unwrap();

    let floor = login_floor(t, n);

    let started = Instant::now();
    let mut d = start(&config_path, now_args);
    let limit = Duration::from_secs(60 + n as u64 / 5);
    while d.rotated.load(Ordering::Relaxed) + d.failed.load(Ordering::Relaxed) < n {
        assert!(started.elapsed() < limit, "not done within {limit:?}");
        if let Ok(Some(status)) = d.child.try_wait() {
            panic!("the daemon exited ({status}) before rotating every target");
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let wall = started.elapsed();
    let ticks = cpu_ticks(d.pid);
    let peak = proc_status(d.pid, "VmHWM:");
    assert_eq!(d.failed.load(Ordering::Relaxed), 0, "rotations failed");
    let _ = d.child.kill().await;

    let mut d = start(&config_path, Vec::new());
    tokio::time::sleep(Duration::from_secs(3)).await; // settle after start
    let before = cpu_ticks(d.pid);
    tokio::time::sleep(Duration::from_secs(idle_secs)).await;
    let idle_ticks = cpu_ticks(d.pid) - before;
    let idle = proc_status(d.pid, "VmRSS:");
    let _ = d.child.kill().await;
    Row {
        n,
        floor,
        wall,
        cpu_per_rotation_ms: ticks as f64 * 10.0 / n as f64,
        peak_mib: peak as f64 / 1024.0,
        idle_mib: idle as f64 / 1024.0,
        idle_cpu_s: idle_ticks as f64 / 100.0,
    }
}

fn main() {
    let sizes: Vec<usize> = std::env::var("SIZES")
        .unwrap_or_else(|_| "100,1000".into())
        .split(',')
        .map(|s| {
            s.trim()
                .parse()
                .expect("SIZES: numbers separated by commas")
        })
        .collect();
    let idle_secs = support::bench::count("IDLE_SECS", 20) as u64;
    let most = sizes.iter().copied().max().unwrap_or(0);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let t = support::seesaw::Target::new(["bench_a", "bench_b"]).await;
        let su = t.cluster.superuser().await;
        su.batch_execute(&format!(
            "CREATE ROLE {FLOOR_USER} LOGIN PASSWORD '{FLOOR_PASSWORD}'; \
             GRANT CONNECT ON DATABASE {} TO {FLOOR_USER}; \
             DO $$ BEGIN FOR i IN 1..{most} LOOP \
             EXECUTE format('CREATE ROLE %I LOGIN IN ROLE app_owner PASSWORD %L', 'u' || i || '_a', 'initial-pw-' || i); \
             EXECUTE format('CREATE ROLE %I LOGIN IN ROLE app_owner', 'u' || i || '_b'); END LOOP; END $$",
            support::seesaw::DB
        ))
        .await
        .unwrap();
        let mut rows = Vec::new();
        for n in sizes {
            let row = measure(&t, n, idle_secs).await;
            println!(
                "{n} targets: all rotated in {:.2} s, login floor {:.2} s; idle {:.1} MiB",
                row.wall.as_secs_f64(),
                row.floor.as_secs_f64(),
                row.idle_mib
            );
            rows.push(row);
        }
        println!("\n| targets | wall to rotate all | login floor | wall / floor | CPU per rotation | peak RSS | idle RSS | idle CPU in {idle_secs} s |");
        println!("|---|---|---|---|---|---|---|---|");
        for r in &rows {
            println!(
                "| {} | {:.2} s | {:.2} s | {:.2}x | {:.2} ms | {:.1} MiB | {:.1} MiB | {:.2} s |",
                r.n,
                r.wall.as_secs_f64(),
                r.floor.as_secs_f64(),
                r.wall.as_secs_f64() / r.floor.as_secs_f64(),
                r.cpu_per_rotation_ms,
                r.peak_mib,
                r.idle_mib,
                r.idle_cpu_s
            );
        }
    });
}
