//! End-to-end benchmark of one rotation (lock, observe, set, verify,
//! publish) against a private PostgreSQL cluster with SCRAM auth and a file
//! store. Run with `cargo bench --bench rotation` (ROTATIONS=n to change
//! the count). Prints the median and p99 of the whole rotation and of each
//! step in-process, then the wall time and peak RSS of the `seesaw rotate`
//! process (measured with GNU time when /usr/bin/time is present).

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::Instant;
use support::bench::line;

fn main() {
    let rotations = support::bench::count("ROTATIONS", 200);
    let cli_runs = support::bench::count("CLI_RUNS", 30);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let t = support::seesaw::Target::new(["bench_a", "bench_b"]).await;
        let engine = t.engine().await;
        println!("in-process rotation (engine), {rotations} rotations:");
        let (_, steps) = support::bench::rotations(&engine, rotations).await;
        assert!(t.logs_in("current").await && t.logs_in("previous").await);
        steps.print();

        let time = std::path::Path::new("/usr/bin/time");
        let mut wall = Vec::new();
        let mut rss_kib = Vec::new();
        for _ in 0..cli_runs {
            let started = Instant::now();
            let mut cmd = if time.exists() {
                let mut c = tokio::process::Command::new(time);
                c.args(["-f", "seesaw-peak-rss-kib=%M", env!("CARGO_BIN_EXE_seesaw")]);
                c
            } else {
                tokio::process::Command::new(env!("CARGO_BIN_EXE_seesaw"))
            };
            let out = cmd
                .arg("--config")
                .arg(&t.config)
                .args(["rotate", "demo", "--output", "json"])
                .env("TEST_ADMIN_PASSWORD", support::seesaw::ADMIN_PASSWORD)
                .output()
                .await
                .unwrap();
            wall.push(started.elapsed());
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            let stderr = String::from_utf8_lossy(&out.stderr);
            if let Some(kib) = stderr
                .lines()
                .find_map(|l| l.strip_prefix("seesaw-peak-rss-kib="))
            {
                rss_kib.push(kib.trim().parse::<u64>().unwrap_or(0));
            }
        }
        println!("`seesaw rotate` process, {cli_runs} runs:");
        line("wall time", wall);
        if !rss_kib.is_empty() {
            rss_kib.sort();
            println!(
                "  peak RSS       median {:.1} MiB   max {:.1} MiB",
                rss_kib[rss_kib.len() / 2] as f64 / 1024.0,
                *rss_kib.last().unwrap() as f64 / 1024.0
            );
        }
    });
}
