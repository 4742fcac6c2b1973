//! A stand-in for the AWS Lambda runtime API, for the `bootstrap` binary.

use serde_json::Value;

/// A stand-in for the Lambda runtime API: hands out `events` in order on
/// `/invocation/next`, records each response or error, and holds the next
/// poll open once they are all served.
pub struct RuntimeApi {
    pub addr: std::net::SocketAddr,
    pub results: std::sync::Arc<std::sync::Mutex<Vec<(String, String)>>>,
}

impl RuntimeApi {
    pub async fn start(events: Vec<Value>) -> RuntimeApi {
        use axum::extract::{Path, State};
        use axum::http::HeaderMap;
        use axum::routing::{get, post};
        type Shared = (
            std::sync::Arc<tokio::sync::Mutex<std::vec::IntoIter<Value>>>,
            std::sync::Arc<std::sync::Mutex<Vec<(String, String)>>>,
        );
        let results = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let queue = std::sync::Arc::new(tokio::sync::Mutex::new(events.into_iter()));
        let next = |State((queue, _)): State<Shared>| async move {
            let event = queue.lock().await.next();
            let Some(event) = event else {
                std::future::pending::<()>().await;
                unreachable!()
            };
            let id = format!("req-{}", event["Step"].as_str().unwrap_or("x"));
            let mut headers = HeaderMap::new();
            headers.insert("lambda-runtime-aws-request-id", id.parse().unwrap());
            let deadline = chrono::Utc::now().timestamp_millis() + 60_000;
            headers.insert(
                "lambda-runtime-deadline-ms",
                deadline.to_string().parse().unwrap(),
            );
            headers.insert(
                "lambda-runtime-invoked-function-arn",
                "arn:aws:lambda:us-east-1:123456789012:function:seesaw"
                    .parse()
                    .unwrap(),
            );
            (headers, axum::Json(event))
        };
        let respond = |kind: &'static str| {
            move |State((_, results)): State<Shared>, Path(id): Path<String>, body: String| async move {
                results
                    .lock()
                    .unwrap()
                    .push((id, format!("{kind}: {body}")));
                axum::http::StatusCode::ACCEPTED
            }
        };
        let app = axum::Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route(
                "/2018-06-01/runtime/invocation/{id}/response",
                post(respond("ok")),
            )
            .route(
                "/2018-06-01/runtime/invocation/{id}/error",
                post(respond("error")),
            )
            .with_state((queue, results.clone()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        RuntimeApi { addr, results }
    }

    /// Waits (polling every 200 µs, fine enough for the cold-start bench)
    /// until `n` responses or errors have been posted; returns them in
    /// order. Panics after 60 s, showing what came.
    pub async fn wait_for(&self, n: usize) -> Vec<(String, String)> {
        let started = std::time::Instant::now();
        loop {
            let results = self.results.lock().unwrap().clone();
            if results.len() >= n {
                return results;
            }
            assert!(
                started.elapsed() < std::time::Duration::from_secs(60),
                "responses so far: {results:?}"
            );
            tokio::time::sleep(std::time::Duration::from_micros(200)).await;
        }
    }

    /// The four events of one rotation of `secret`, in order.
    pub fn rotation_events(secret: &str, token: &str) -> Vec<Value> {
        ["createSecret", "setSecret", "testSecret", "finishSecret"]
            .iter()
            .map(
                |s| serde_json::json!({"Step": s, "SecretId": secret, "ClientRequestToken": token}),
            )
            .collect()
    }

    /// The seesaw binary as the function's `bootstrap`, pointed at this
    /// runtime API and at Secrets Manager on `endpoint`.
    pub fn bootstrap(&self, endpoint: &str) -> tokio::process::Command {
        // SEESAW_BOOTSTRAP: another build of the binary (the bench compares
        // the size-trimmed `--no-default-features --features lambda` one).
        let bin = std::env::var("SEESAW_BOOTSTRAP")
            .unwrap_or_else(|_| env!("CARGO_BIN_EXE_seesaw").to_owned());
        let mut cmd = tokio::process::Command::new(bin);
        cmd.env("AWS_LAMBDA_RUNTIME_API", self.addr.to_string())
            .env("AWS_LAMBDA_FUNCTION_NAME", "seesaw")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_ENDPOINT_URL", endpoint)
            .env("SEESAW_DB_TLS", "disable")
            .kill_on_drop(true);
        cmd
    }
}
