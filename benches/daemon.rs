//! The daemon with many targets, as a process (`seesaw run`):
//! 1. TARGETS targets (2 x TARGETS login roles in one local cluster, file
//!    stores), all due at once (`--rotate-now`), `concurrency.rotations: 32`:
//!    wall time to rotate all, rotations per second, peak RSS.
//! 2. Idle: the same targets scheduled, nothing due, for IDLE_SECS: RSS and
//!    CPU time (it must not poll in a busy loop).
//!
//! `cargo bench --bench daemon` (TARGETS=1000, IDLE_SECS=60 by default).

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

fn proc_status(pid: u32, field: &str) -> u64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    text.lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// utime + stime in clock ticks.
fn cpu_ticks(pid: u32) -> u64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = text.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    f.get(11).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0)
        + f.get(12).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0)
}

/// Sums the samples whose line starts with `prefix` and contains `with`.
async fn metric_sum(addr: &str, prefix: &str, with: &str) -> f64 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let Ok(mut s) = tokio::net::TcpStream::connect(addr).await else {
        return 0.0;
    };
    let _ = s
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await;
    let mut raw = String::new();
    let _ = s.read_to_string(&mut raw).await;
    raw.lines()
        .filter(|l| l.starts_with(prefix) && l.contains(with))
        .filter_map(|l| l.rsplit_once(' ').and_then(|(_, v)| v.parse::<f64>().ok()))
        .sum()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn main() {
    let n: usize = std::env::var("TARGETS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let idle_secs: u64 = std::env::var("IDLE_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(60);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let t = support::seesaw::Target::new(["bench_a", "bench_b"]).await;
        let su = t.cluster.connect("postgres", support::pg::SUPERUSER_PASSWORD, support::seesaw::DB).await.unwrap();
        su.batch_execute(&format!(
            "DO $$ BEGIN FOR i IN 1..{n} LOOP \
             EXECUTE format('CREATE ROLE %I LOGIN IN ROLE app_owner PASSWORD %L', 'u' || i || '_a', 'initial-pw-' || i); \
             EXECUTE format('CREATE ROLE %I LOGIN IN ROLE app_owner', 'u' || i || '_b'); END LOOP; END $$"
        ))
        .await
        .unwrap();
        let dir = t.cluster.dir().join("stores");
        std::fs::create_dir_all(&dir).unwrap();
        let mut config = String::from("concurrency: { rotations: 32, rollouts: 8 }\ndefaults: { schedule: \"0 3 1 1 *\", window: 2h }\nshutdown_timeout: 10s\ntargets:\n");
        let mut now_args = Vec::new();
        for i in 1..=n {
            let store = dir.join(format!("t{i}.json"));
            std::fs::write(&store, format!("{{\"current\": {{\"username\": \"u{i}_a\", \"password\": \"initial-pw-{i}\"}}}}")).unwrap();
            config += &format!(
                "  - name: t{i}\n    database: {{ engine: postgres, host: 127.0.0.1, port: {}, dbname: app, tls: disable, users: [u{i}_a, u{i}_b], admin: {{ username: seesaw_admin, password_env: TEST_ADMIN_PASSWORD }} }}\n    store: {{ file: {{ path: {} }} }}\n",
                t.cluster.port,
                store.display()
            );
            now_args.push("--rotate-now".to_string());
            now_args.push(format!("t{i}"));
        }
        let config_path = t.cluster.dir().join("many.yaml");
        std::fs::write(&config_path, config).unwrap();

        let run = |extra: Vec<String>, port: u16| {
            tokio::process::Command::new(env!("CARGO_BIN_EXE_seesaw"))
                .arg("--config")
                .arg(&config_path)
                .args(["--log-format", "json", "run", "--http-addr", &format!("127.0.0.1:{port}")])
                .args(extra)
                .env("TEST_ADMIN_PASSWORD", support::seesaw::ADMIN_PASSWORD)
                .env("RUST_LOG", "warn")
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .kill_on_drop(true)
                .spawn()
                .unwrap()
        };

        // 1. All due at once.
        let port = free_port();
        let started = Instant::now();
        let mut child = run(now_args, port);
        let pid = child.id().unwrap();
        let addr = format!("127.0.0.1:{port}");
        let mut done = 0.0;
        while started.elapsed() < Duration::from_secs(1200) {
            done = metric_sum(&addr, "seesaw_rotations_total{", "").await;
            if done >= n as f64 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let wall = started.elapsed();
        let peak_kib = proc_status(pid, "VmHWM:");
        let success = metric_sum(&addr, "seesaw_rotations_total{", "result=\"success\"").await;
        let _ = child.kill().await;
        println!("{n} targets all due at once, concurrency 32 (process start included):");
        println!("  rotations finished: {done} ({success} succeeded) in {:.2} s = {:.1} rotations/s", wall.as_secs_f64(), done / wall.as_secs_f64());
        println!("  peak RSS of the daemon: {:.1} MiB", peak_kib as f64 / 1024.0);

        // 2. Idle.
        let port = free_port();
        let mut child = run(Vec::new(), port);
        let pid = child.id().unwrap();
        tokio::time::sleep(Duration::from_secs(3)).await; // settle after start
        let ticks_before = cpu_ticks(pid);
        tokio::time::sleep(Duration::from_secs(idle_secs)).await;
        let ticks = cpu_ticks(pid) - ticks_before;
        let rss = proc_status(pid, "VmRSS:");
        let _ = child.kill().await;
        println!("idle, {n} targets scheduled, nothing due, {idle_secs} s:");
        println!("  RSS {:.1} MiB, CPU {:.2} s ({:.3}% of one core)", rss as f64 / 1024.0, ticks as f64 / 100.0, ticks as f64 / 100.0 / idle_secs as f64 * 100.0);
    });
}
