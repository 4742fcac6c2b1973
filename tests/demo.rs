//! `seesaw demo`, run as a newcomer runs it: the binary, no config, the
//! machine's PostgreSQL server binaries (PG_BIN, or found where packages
//! put them).

mod support;

use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};

fn demo() -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_seesaw"));
    cmd.arg("demo").kill_on_drop(true);
    cmd
}

/// "... files in /tmp/seesaw-demo-XXXX (removed at the end)" -> the dir.
fn demo_dir(stdout: &str) -> std::path::PathBuf {
    let rest = stdout
        .split("files in ")
        .nth(1)
        .unwrap_or_else(|| panic!("no 'files in' line: {stdout}"));
    rest.split_whitespace().next().unwrap().into()
}

#[tokio::test]
async fn the_demo_rotates_with_clients_logging_in_and_no_failed_login() {
    let out = demo()
        .args(["--rotations", "3", "--clients", "3", "--interval", "300ms"])
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    for line in [
        "rotation 1/3: demo_a -> demo_b",
        "rotation 2/3: demo_b -> demo_a",
        "rotation 3/3: demo_a -> demo_b",
        "3 rotations in",
        ", 0 failed",
    ] {
        assert!(stdout.contains(line), "{line:?} in:\n{stdout}");
    }
    let logins: u64 = stdout
        .split(" logins by the simulated clients")
        .next()
        .and_then(|s| s.rsplit('\n').next())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0);
    assert!(logins > 10, "the clients logged in: {stdout}");
    assert!(
        !demo_dir(&stdout).exists(),
        "the temp dir is removed: {stdout}"
    );
    assert!(!stdout.contains("\"password\""), "{stdout}");
}

#[tokio::test]
async fn ctrl_c_stops_the_demo_and_removes_its_server_and_files() {
    let mut child = demo()
        .args(["--rotations", "50", "--interval", "300ms"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut seen = String::new();
    let read = async {
        while let Some(line) = lines.next_line().await.unwrap() {
            seen.push_str(&line);
            seen.push('\n');
            if line.starts_with("rotation 1/50") {
                return;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(60), read)
        .await
        .unwrap_or_else(|_| panic!("no first rotation within 60 s:\n{seen}"));
    let dir = demo_dir(&seen);
    assert!(dir.exists());
    support::process::interrupt(&child);
    let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .expect("the demo exits after Ctrl-C")
        .unwrap();
    assert_eq!(status.code(), Some(130));
    assert!(!dir.exists(), "{} is removed", dir.display());
    let postgres = std::process::Command::new("pgrep")
        .args(["-f", &dir.display().to_string()])
        .output()
        .unwrap();
    assert!(
        postgres.stdout.is_empty(),
        "no server of the demo is left: {}",
        String::from_utf8_lossy(&postgres.stdout)
    );
}

#[tokio::test]
async fn without_server_binaries_the_demo_says_where_it_looked_and_exits_2() {
    let out = demo()
        .env("PG_BIN", "/nonexistent/bin")
        .output()
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("/nonexistent/bin holds no initdb"),
        "{stderr}"
    );
    assert!(stderr.contains("PG_BIN"), "{stderr}");
}

#[tokio::test]
async fn a_bad_interval_is_a_usage_error() {
    let out = demo().args(["--interval", "soon"]).output().await.unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--interval"));
}
