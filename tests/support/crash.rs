//! Crash points at every request a cloud store sends: an HTTP/1.1 relay in
//! front of its emulator (moto, drongo) that, at the armed request, stops
//! either before forwarding it (the store never saw it) or after the store
//! acted (its answer is lost), and from then on answers every request with
//! a non-retryable error, as a process that died there sends nothing more.
//! A store method made of several requests (AWS's promote: describe, move
//! the stage, drop the pending one) is then interrupted between them.

use super::calls::{header, listen, read_message};
use super::fault::When;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

#[derive(Default)]
struct State {
    count: usize,
    armed: Option<(usize, When)>,
    fired: bool,
    dead: bool,
    trace: Vec<String>,
}

pub struct CrashProxy {
    pub url: String,
    state: Arc<Mutex<State>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for CrashProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// What the crashed side sends: an error both SDKs read as a client error
/// they do not retry.
fn refusal() -> String {
    let body = r#"{"__type":"CrashInjected","message":"crash injected","error":{"code":400,"message":"crash injected","status":"FAILED_PRECONDITION"}}"#;
    format!(
        "HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\nx-amzn-errortype: CrashInjected\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
}

impl CrashProxy {
    pub async fn start(upstream: &str) -> CrashProxy {
        let state = Arc::new(Mutex::new(State::default()));
        let shared = state.clone();
        let (url, task) = listen(upstream, move |client, server| {
            relay(client, server, shared.clone())
        })
        .await;
        CrashProxy { url, state, task }
    }

    /// Crash at request `n` (counted from 0) of what comes next.
    pub fn arm(&self, n: usize, when: When) {
        *self.state.lock().unwrap() = State {
            armed: Some((n, when)),
            ..State::default()
        };
    }

    pub fn disarm(&self) {
        *self.state.lock().unwrap() = State::default();
    }

    pub fn fired(&self) -> bool {
        self.state.lock().unwrap().fired
    }

    pub fn count(&self) -> usize {
        self.state.lock().unwrap().count
    }

    /// What request `n` was ("GetSecretValue", "GET /v1/...").
    pub fn call(&self, n: usize) -> String {
        self.state
            .lock()
            .unwrap()
            .trace
            .get(n)
            .cloned()
            .unwrap_or_default()
    }

    pub fn trace(&self) -> Vec<String> {
        self.state.lock().unwrap().trace.clone()
    }
}

async fn relay(
    client: TcpStream,
    server: TcpStream,
    state: Arc<Mutex<State>>,
) -> std::io::Result<()> {
    client.set_nodelay(true)?;
    server.set_nodelay(true)?;
    let (mut client, mut server) = (BufReader::new(client), BufReader::new(server));
    loop {
        let Some(request) = read_message(&mut client).await? else {
            return Ok(());
        };
        let what = header(&request, "x-amz-target")
            .map(|t| t.rsplit('.').next().unwrap_or(&t).to_owned())
            .unwrap_or_else(|| {
                let line = String::from_utf8_lossy(&request);
                let first = line.lines().next().unwrap_or_default();
                let request: Vec<&str> = first.split(' ').take(2).collect();
                let path = request.get(1).map(|p| p.split('?').next().unwrap_or(p));
                format!("{} {}", request[0], path.unwrap_or_default())
            });
        let crash = {
            let mut s = state.lock().unwrap();
            if s.dead {
                Some(When::Before)
            } else {
                let n = s.count;
                s.count += 1;
                s.trace.push(what);
                match s.armed {
                    Some((at, when)) if at == n => {
                        s.fired = true;
                        s.dead = true;
                        Some(when)
                    }
                    _ => None,
                }
            }
        };
        if crash == Some(When::Before) {
            client.get_mut().write_all(refusal().as_bytes()).await?;
            return Ok(());
        }
        server.get_mut().write_all(&request).await?;
        let Some(response) = read_message(&mut server).await? else {
            return Ok(());
        };
        if crash == Some(When::After) {
            client.get_mut().write_all(refusal().as_bytes()).await?;
            return Ok(());
        }
        client.get_mut().write_all(&response).await?;
    }
}
