//! AWS Secrets Manager emulated by `moto_server` (PyPI `moto[server]`,
//! installed into a virtualenv by .ci/run) on a free loopback port.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Moto {
    pub url: String,
    child: Child,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn binary() -> Option<String> {
    if let Ok(b) = std::env::var("MOTO_SERVER") {
        return Some(b);
    }
    let found = Command::new("sh")
        .args(["-c", "command -v moto_server"])
        .output()
        .ok()?;
    let path = String::from_utf8_lossy(&found.stdout).trim().to_owned();
    (!path.is_empty()).then_some(path)
}

impl Moto {
    /// Starts moto_server; `None` (outside CI) when it is not installed.
    pub fn start() -> Option<Moto> {
        let Some(bin) = binary() else {
            assert!(
                std::env::var_os("CI").is_none(),
                "moto_server is missing in CI (.ci/run installs it)"
            );
            eprintln!("moto_server not installed: skipping (pip install 'moto[server]')");
            return None;
        };
        // Static test credentials: the SDK signs requests, moto accepts any.
        std::env::set_var("AWS_ACCESS_KEY_ID", "testing");
        std::env::set_var("AWS_SECRET_ACCESS_KEY", "testing");
        std::env::set_var("AWS_REGION", "us-east-1");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(bin)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start moto_server");
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "moto_server did not start"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        Some(Moto {
            url: format!("http://127.0.0.1:{port}"),
            child,
        })
    }

    pub async fn client(&self) -> aws_sdk_secretsmanager::Client {
        let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("us-east-1"))
            .endpoint_url(&self.url)
            .load()
            .await;
        aws_sdk_secretsmanager::Client::new(&sdk)
    }

    /// Creates `name` holding `document` as its AWSCURRENT version.
    pub async fn create(&self, name: &str, document: &serde_json::Value) {
        self.client()
            .await
            .create_secret()
            .name(name)
            .secret_string(document.to_string())
            .send()
            .await
            .expect("create the secret in moto");
    }

    pub fn config(&self, secret_id: &str) -> seesaw::config::AwsStoreConfig {
        seesaw::config::AwsStoreConfig {
            secret_id: secret_id.into(),
            region: Some("us-east-1".into()),
            endpoint_url: Some(self.url.clone()),
        }
    }
}
