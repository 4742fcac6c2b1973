//! AWS Secrets Manager emulated by `moto_server` (PyPI `moto[server]`,
//! installed into a virtualenv by .ci/run) on a free loopback port.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Moto {
    pub url: String,
    child: Child,
    /// The ARN of the stand-in rotation function, once registered.
    rotation_lambda: std::sync::Mutex<Option<String>>,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

use super::process::{announced_port, on_path};

/// Static test credentials: the SDK signs requests, moto accepts any. A
/// spawned seesaw gets them in its environment ([`CREDENTIALS`]), one in
/// process through [`environment`].
pub const CREDENTIALS: [(&str, &str); 3] = [
    ("AWS_ACCESS_KEY_ID", "testing"),
    ("AWS_SECRET_ACCESS_KEY", "testing"),
    ("AWS_REGION", "us-east-1"),
];

/// [`CREDENTIALS`] for `Target::use_store`.
pub fn env() -> Vec<(String, String)> {
    CREDENTIALS
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The test environment (admin passwords) with [`CREDENTIALS`].
pub fn environment() -> seesaw::environment::Environment {
    CREDENTIALS
        .iter()
        .fold(super::seesaw::environment(), |env, (k, v)| env.with(*k, *v))
}

impl Moto {
    /// Starts moto_server; `None` (outside CI) when it is not installed.
    pub fn start() -> Option<Moto> {
        let Some(bin) = on_path("MOTO_SERVER", "moto_server") else {
            assert!(
                std::env::var_os("CI").is_none(),
                "moto_server is missing in CI (.ci/run installs it)"
            );
            eprintln!("moto_server not installed: skipping (pip install 'moto[server]')");
            return None;
        };
        // Port 0, then the port it prints (see `announced_port`).
        let mut child = Command::new(bin)
            .args(["-H", "127.0.0.1", "-p", "0"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start moto_server");
        let port = announced_port(
            child.stderr.take().expect("moto_server stderr"),
            "moto_server",
        );
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
            rotation_lambda: std::sync::Mutex::new(None),
        })
    }

    /// A client for the tests' own setup, built as seesaw builds its own.
    pub async fn client(&self) -> aws_sdk_secretsmanager::Client {
        seesaw::store::AwsStore::client(
            Some("us-east-1"),
            Some(&self.url),
            seesaw::config::default_store_timeout(),
            &environment(),
        )
        .await
    }

    /// seesaw's store for `secret_id` here, in process.
    pub async fn store(&self, secret_id: &str) -> seesaw::store::AwsStore {
        seesaw::store::AwsStore::connect(&self.config(secret_id), &environment()).await
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

    /// Starts a rotation of `secret` the way Secrets Manager does:
    /// RotateSecret registers `token` as a version staged AWSPENDING with no
    /// value yet, then invokes the rotation function. The function is a
    /// stand-in in moto's Lambda without Docker, which only acknowledges;
    /// the test calls the real steps itself.
    pub async fn start_rotation(&self, secret: &str, token: &str) {
        let arn = self.rotation_lambda().await;
        let client = self.client().await;
        // AWS's own function leaves AWSPENDING on the version it made
        // current, which Secrets Manager accepts; moto then refuses the
        // next RotateSecret ("still in progress"), so the label goes.
        let described = client.describe_secret().secret_id(secret).send().await;
        if let Ok(described) = described {
            for (version, stages) in described.version_ids_to_stages().into_iter().flatten() {
                if stages.iter().any(|s| s == "AWSPENDING")
                    && stages.iter().any(|s| s == "AWSCURRENT")
                {
                    client
                        .update_secret_version_stage()
                        .secret_id(secret)
                        .version_stage("AWSPENDING")
                        .remove_from_version_id(version)
                        .send()
                        .await
                        .expect("drop AWSPENDING from the current version");
                }
            }
        }
        client
            .rotate_secret()
            .secret_id(secret)
            .rotation_lambda_arn(arn)
            // Rotation rules make DescribeSecret say RotationEnabled, as
            // AWS's own function checks.
            .rotation_rules(
                aws_sdk_secretsmanager::types::RotationRulesType::builder()
                    .automatically_after_days(30)
                    .build(),
            )
            .client_request_token(token)
            .rotate_immediately(true)
            .send()
            .await
            .expect("RotateSecret in moto");
    }

    async fn rotation_lambda(&self) -> String {
        if let Some(arn) = self.rotation_lambda.lock().unwrap().clone() {
            return arn;
        }
        let (status, body) = self
            .call(
                "POST",
                "/moto-api/config",
                "",
                &[("content-type", "application/json")],
                r#"{"lambda": {"use_docker": false}}"#,
            )
            .await;
        assert!(status < 300, "moto config: {status} {body}");
        let role = "seesaw-rotation";
        let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
        let form = format!(
            "Action=CreateRole&Version=2010-05-08&RoleName={role}&AssumeRolePolicyDocument={}",
            percent_encoding::utf8_percent_encode(trust, percent_encoding::NON_ALPHANUMERIC)
        );
        let (status, body) = self
            .call(
                "POST",
                "/",
                "iam",
                &[("content-type", "application/x-www-form-urlencoded")],
                &form,
            )
            .await;
        assert!(
            status < 300 || body.contains("EntityAlreadyExists"),
            "moto CreateRole: {status} {body}"
        );
        // An empty zip archive: moto records the code, it never runs it.
        use base64::Engine;
        let zip = base64::engine::general_purpose::STANDARD
            .encode([b"PK\x05\x06".as_slice(), &[0u8; 18]].concat());
        let function = serde_json::json!({
            "FunctionName": "seesaw-rotation",
            "Runtime": "provided.al2023",
            "Role": format!("arn:aws:iam::123456789012:role/{role}"),
            "Handler": "bootstrap",
            "Code": {"ZipFile": zip},
        });
        let (status, body) = self
            .call(
                "POST",
                "/2015-03-31/functions",
                "lambda",
                &[("content-type", "application/json")],
                &function.to_string(),
            )
            .await;
        assert!(status < 300, "moto CreateFunction: {status} {body}");
        let arn = serde_json::from_str::<serde_json::Value>(&body).unwrap()["FunctionArn"]
            .as_str()
            .expect("FunctionArn")
            .to_owned();
        *self.rotation_lambda.lock().unwrap() = Some(arn.clone());
        arn
    }

    /// A call outside the SDKs, for APIs the tests have no client for.
    /// moto routes by the service in the (unchecked) signature's scope.
    async fn call(
        &self,
        method: &str,
        path: &str,
        service: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> (u16, String) {
        let authorization = format!(
            "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/{service}/aws4_request, SignedHeaders=host, Signature=0"
        );
        let mut all = headers.to_vec();
        if !service.is_empty() {
            all.push(("authorization", &authorization));
        }
        super::http::call(&self.url, method, path, &all, body).await
    }

    pub fn config(&self, secret_id: &str) -> seesaw::config::AwsStoreConfig {
        seesaw::config::AwsStoreConfig {
            secret_id: secret_id.into(),
            region: Some("us-east-1".into()),
            endpoint_url: Some(self.url.clone()),
            timeout: seesaw::config::default_store_timeout(),
        }
    }
}

/// A TCP proxy in front of an emulator that answers the first `fail`
/// connections itself with an error, as a throttled or denied cloud API
/// would, and forwards the rest.
pub struct ErrorProxy {
    pub url: String,
    pub answered: std::sync::Arc<std::sync::atomic::AtomicU32>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for ErrorProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl ErrorProxy {
    /// An AWS JSON error (`x-amzn-errortype`).
    pub async fn start(
        upstream: &str,
        error_type: &'static str,
        status: u16,
        fail: u32,
    ) -> ErrorProxy {
        let body =
            format!("{{\"__type\":\"{error_type}\",\"message\":\"injected by the test proxy\"}}");
        let head = format!(
            "HTTP/1.1 {status} Error\r\ncontent-type: application/x-amz-json-1.1\r\nx-amzn-errortype: {error_type}\r\n"
        );
        Self::answering(upstream, head, body, fail).await
    }

    /// A Google JSON error (`{"error": {"code", "message", "status"}}`).
    pub async fn google(upstream: &str, status: u16, code: &str, fail: u32) -> ErrorProxy {
        let body = format!(
            "{{\"error\":{{\"code\":{status},\"message\":\"injected by the test proxy\",\"status\":\"{code}\"}}}}"
        );
        let head = format!("HTTP/1.1 {status} Error\r\ncontent-type: application/json\r\n");
        Self::answering(upstream, head, body, fail).await
    }

    /// `head`: the status line and headers, each ending in CRLF.
    async fn answering(upstream: &str, head: String, body: String, fail: u32) -> ErrorProxy {
        use std::sync::atomic::Ordering;
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let upstream = upstream.trim_start_matches("http://").to_owned();
        let answered = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
        let count = answered.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((mut client, _)) = listener.accept().await else {
                    return;
                };
                if count.load(Ordering::SeqCst) < fail {
                    count.fetch_add(1, Ordering::SeqCst);
                    let mut buf = vec![0u8; 65536];
                    let _ = client.read(&mut buf).await;
                    let reply = format!(
                        "{head}content-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = client.write_all(reply.as_bytes()).await;
                    continue;
                }
                let upstream = upstream.clone();
                tokio::spawn(async move {
                    if let Ok(mut server) = tokio::net::TcpStream::connect(&upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
            }
        });
        ErrorProxy {
            url,
            answered,
            task,
        }
    }
}
