//! The real binary stopped by SIGTERM during a rotation, and the next
//! start completing it.

use crate::support::seesaw::{Target, ADMIN_PASSWORD, DB};
use std::time::Duration;

/// Starts `seesaw run` as a process.
fn spawn_daemon(t: &Target, args: &[&str]) -> tokio::process::Child {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_seesaw"))
        .arg("--config")
        .arg(&t.config)
        .args(["--log-format", "json", "run", "--http-addr", "127.0.0.1:0"])
        .args(args)
        .env("TEST_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .env("RUST_LOG", "info")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap()
}

fn sigterm(child: &tokio::process::Child) {
    let pid = child.id().unwrap().to_string();
    assert!(std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
}

#[tokio::test]
async fn sigterm_during_a_rotation_exits_promptly_and_the_next_start_completes_it() {
    let mut t = Target::new(["app_a", "app_b"]).await;
    t.database_extra = "      standby_sessions: wait\n      standby_wait_timeout: 10m\n".into();
    t.write_config();
    let config = std::fs::read_to_string(&t.config).unwrap();
    std::fs::write(
        &t.config,
        format!("shutdown_timeout: 3s\ndefaults: {{ schedule: \"0 3 * * 0\" }}\n{config}"),
    )
    .unwrap();
    // One rotation so app_a (the standby then) has a password; hold a session as it.
    assert_eq!(t.seesaw(&["rotate", "demo"]).await.code, 0);
    let (standby, password) = t.login("previous");
    let session = t.cluster.connect(&standby, &password, DB).await.unwrap();
    let before = t.read_store();

    let mut child = spawn_daemon(&t, &["--rotate-now", "demo"]);
    // The rotation must be in its wait for the session when SIGTERM comes:
    // the daemon logs the step's start (step=wait_for_sessions), read as
    // it is written.
    use tokio::io::{AsyncBufReadExt, AsyncReadExt};
    let mut lines = tokio::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let mut seen = String::new();
    let waiting = tokio::time::timeout(Duration::from_secs(20), async {
        while let Ok(Some(line)) = lines.next_line().await {
            seen.push_str(&line);
            seen.push('\n');
            if line.contains("\"step\":\"wait_for_sessions\"") {
                return true;
            }
        }
        false
    })
    .await;
    assert!(
        matches!(waiting, Ok(true)),
        "the rotation never reached its wait for the standby's session:\n{seen}"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = std::time::Instant::now();
    sigterm(&child);
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .expect("exits within the bound")
        .unwrap();
    assert!(status.success(), "{status}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "exited after {:?}",
        started.elapsed()
    );
    let mut stderr = seen;
    lines
        .into_inner()
        .read_to_string(&mut stderr)
        .await
        .unwrap();
    assert!(stderr.contains("shutting down"), "{stderr}");
    assert_eq!(t.read_store(), before, "stopped before publishing");
    assert!(t.logs_in("current").await && t.logs_in("previous").await);

    // The session goes away; the next start completes the rotation.
    drop(session);
    let mut child = spawn_daemon(&t, &["--rotate-now", "demo"]);
    let mut done = false;
    for _ in 0..100 {
        if t.read_store() != before {
            done = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    sigterm(&child);
    let _ = tokio::time::timeout(Duration::from_secs(10), child.wait()).await;
    assert!(done, "the next start rotated");
    assert_eq!(t.login("current").0, standby);
    assert!(t.logs_in("current").await && t.logs_in("previous").await);
    for p in [&t.login("current").1, &t.login("previous").1] {
        assert!(
            !stderr.contains(p.as_str()),
            "a password reached the daemon's log"
        );
    }
}
