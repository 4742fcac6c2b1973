//! GCP Secret Manager emulated by `drongo server` (PyPI `drongo`, installed
//! into a virtualenv by .ci/run) on a free loopback port. drongo serves the
//! Secret Manager REST API (v1) that the Rust client speaks.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const PROJECT: &str = "seesaw-test";

pub struct Drongo {
    pub url: String,
    child: Child,
}

impl Drop for Drongo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drongo {
    /// Starts drongo; `None` (outside CI) when it is not installed.
    pub fn start() -> Option<Drongo> {
        let Some(bin) = super::process::on_path("DRONGO", "drongo") else {
            assert!(
                std::env::var_os("CI").is_none(),
                "drongo is missing in CI (.ci/run installs it)"
            );
            eprintln!("drongo not installed: skipping (pip install drongo)");
            return None;
        };
        // Port 0, then the port it prints (see `moto::announced_port`).
        let mut child = Command::new(bin)
            .args(["server", "--host", "127.0.0.1", "--port", "0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start drongo");
        let port =
            super::process::announced_port(child.stdout.take().expect("drongo stdout"), "drongo");
        let started = Instant::now();
        let url = format!("http://127.0.0.1:{port}");
        loop {
            let up = std::net::TcpStream::connect(("127.0.0.1", port)).is_ok();
            if up {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "drongo did not start"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        Some(Drongo { url, child })
    }

    /// A plain HTTP call to drongo (test setup, not the code under test).
    async fn call(&self, method: &str, path: &str, body: &serde_json::Value) -> serde_json::Value {
        let headers = [("content-type", "application/json")];
        let (status, body) =
            super::http::call(&self.url, method, path, &headers, &body.to_string()).await;
        assert_eq!(status, 200, "drongo: {body}");
        serde_json::from_str(&body).unwrap()
    }

    /// Creates `secret` holding `document` as its only version, and its
    /// empty companion `<secret>-pending`, as the setup docs ask.
    pub async fn create(&self, secret: &str, document: &serde_json::Value) {
        self.create_without_pending(secret, document).await;
        self.create_empty(&format!("{secret}-pending")).await;
    }

    /// Creates `secret` only (no companion for pending versions).
    pub async fn create_without_pending(&self, secret: &str, document: &serde_json::Value) {
        self.create_empty(secret).await;
        self.add(secret, document).await;
    }

    pub async fn create_empty(&self, secret: &str) {
        self.call(
            "POST",
            &format!("/v1/projects/{PROJECT}/secrets?secretId={secret}"),
            &serde_json::json!({"replication": {"automatic": {}}}),
        )
        .await;
    }

    /// Adds a version, as another writer would.
    pub async fn add(&self, secret: &str, document: &serde_json::Value) {
        use base64::Engine;
        let data = base64::engine::general_purpose::STANDARD.encode(document.to_string());
        self.call(
            "POST",
            &format!("/v1/projects/{PROJECT}/secrets/{secret}:addVersion"),
            &serde_json::json!({"payload": {"data": data}}),
        )
        .await;
    }

    pub fn config(&self, secret: &str) -> seesaw::config::GcpStoreConfig {
        seesaw::config::GcpStoreConfig {
            project: PROJECT.into(),
            secret: secret.into(),
            endpoint: Some(self.url.clone()),
            pending_secret: None,
            timeout: seesaw::config::default_store_timeout(),
        }
    }
}
