//! A stand-in for the AWS Lambda runtime API, for the `bootstrap` binary.

use serde_json::Value;

/// A stand-in for the Lambda runtime API: hands out `events` (and any
/// [`RuntimeApi::push`]ed later) in order on `/invocation/next`, records
/// each response or error with how long the function took from the hand-out
/// to its answer, and holds the next poll open while there is no event.
pub struct RuntimeApi {
    pub addr: std::net::SocketAddr,
    pub results: std::sync::Arc<std::sync::Mutex<Vec<(String, String)>>>,
    /// For each result: hand-out to answer.
    pub durations: std::sync::Arc<std::sync::Mutex<Vec<std::time::Duration>>>,
    feed: tokio::sync::mpsc::UnboundedSender<Value>,
}

type Shared = (
    std::sync::Arc<tokio::sync::Mutex<tokio::sync::mpsc::UnboundedReceiver<Value>>>,
    std::sync::Arc<std::sync::Mutex<Vec<(String, String)>>>,
    std::sync::Arc<std::sync::Mutex<Vec<std::time::Duration>>>,
    std::sync::Arc<std::sync::Mutex<std::collections::HashMap<String, std::time::Instant>>>,
);

impl RuntimeApi {
    pub async fn start(events: Vec<Value>) -> RuntimeApi {
        use axum::extract::{Path, State};
        use axum::http::HeaderMap;
        use axum::routing::{get, post};
        let results = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let durations = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let (feed, queue) = tokio::sync::mpsc::unbounded_channel();
        for event in events {
            feed.send(event).unwrap();
        }
        let queue = std::sync::Arc::new(tokio::sync::Mutex::new(queue));
        let handed_out = std::sync::Arc::new(std::sync::Mutex::new(Default::default()));
        let next = |State((queue, _, _, handed_out)): State<Shared>| async move {
            let Some(event) = queue.lock().await.recv().await else {
                std::future::pending::<()>().await;
                unreachable!()
            };
            let mut handed_out = handed_out.lock().unwrap();
            let id = format!(
                "req-{}-{}",
                handed_out.len(),
                event["Step"].as_str().unwrap_or("x")
            );
            handed_out.insert(id.clone(), std::time::Instant::now());
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
            move |State((_, results, durations, handed_out)): State<Shared>,
                  Path(id): Path<String>,
                  body: String| async move {
                let took = handed_out
                    .lock()
                    .unwrap()
                    .get(&id)
                    .map(|t| t.elapsed())
                    .unwrap_or_default();
                durations.lock().unwrap().push(took);
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
            .with_state((queue, results.clone(), durations.clone(), handed_out));
        use axum::serve::ListenerExt;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        // No Nagle delay on the answers: the benchmark times through it.
        let listener = listener.tap_io(|tcp| {
            let _ = tcp.set_nodelay(true);
        });
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        RuntimeApi {
            addr,
            results,
            durations,
            feed,
        }
    }

    /// Queues one more event.
    pub fn push(&self, event: Value) {
        self.feed.send(event).unwrap();
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
            .envs(super::moto::CREDENTIALS)
            .kill_on_drop(true);
        cmd
    }
}
