//! AWS's Lambda Runtime Interface Emulator (`aws-lambda-rie`, built from its
//! Go module by .ci/run) running the real `seesaw` binary as the function's
//! bootstrap, on free loopback ports. Invocations are strictly one at a
//! time: the emulator crashes on overlapping ones.

use std::process::{Child, Command};
use std::time::{Duration, Instant};

pub struct Rie {
    pub url: String,
    child: Child,
    dir: tempfile::TempDir,
}

impl Drop for Rie {
    fn drop(&mut self) {
        // SIGTERM: the emulator then stops the bootstrap too (SIGKILL would
        // orphan it).
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(5) {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Rie {
    /// Starts the emulator with `env` (it forwards its whole environment
    /// to the bootstrap); `None` (outside CI) when it is not installed.
    pub fn start(env: &[(&str, &str)]) -> Option<Rie> {
        let Some(bin) = super::process::on_path("SEESAW_RIE", "aws-lambda-rie") else {
            assert!(
                std::env::var_os("CI").is_none(),
                "aws-lambda-rie is missing in CI (.ci/run builds it with go install)"
            );
            eprintln!("aws-lambda-rie not installed: skipping (see .ci/run)");
            return None;
        };
        let invoke = super::process::free_port();
        let api = super::process::free_port();
        let dir = tempfile::tempdir().unwrap();
        let log = std::fs::File::create(dir.path().join("rie.log")).unwrap();
        let mut cmd = Command::new(bin);
        cmd.args([
            "--runtime-interface-emulator-address",
            &format!("127.0.0.1:{invoke}"),
            "--runtime-api-address",
            &format!("127.0.0.1:{api}"),
            env!("CARGO_BIN_EXE_seesaw"),
        ])
        .env_remove("AWS_LAMBDA_MAX_CONCURRENCY")
        .env_remove("RUST_LOG")
        .stdout(log.try_clone().unwrap())
        .stderr(log);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd.spawn().expect("start aws-lambda-rie");
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", invoke)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "aws-lambda-rie did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Some(Rie {
            url: format!("http://127.0.0.1:{invoke}"),
            child,
            dir,
        })
    }

    /// Invokes the function with `event`: (status, body, wall time).
    pub async fn invoke(&self, event: &serde_json::Value) -> (u16, String, Duration) {
        let started = Instant::now();
        let (status, body) = super::http::call(
            &self.url,
            "POST",
            "/2015-03-31/functions/function/invocations",
            &[("content-type", "application/json")],
            &event.to_string(),
        )
        .await;
        (status, body, started.elapsed())
    }

    /// What the emulator and the bootstrap printed so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("rie.log")).unwrap_or_default()
    }
}
