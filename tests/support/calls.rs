//! Counting what a rotation costs: Secrets Manager calls by action (an
//! HTTP/1.1 relay in front of moto that reads each request's
//! `X-Amz-Target`), and PostgreSQL logins (the server's
//! `log_connections` lines). Used by the Lambda tests that hold seesaw to
//! AWS's call budget and by the side-by-side benchmark. The relay sets
//! TCP_NODELAY on both sides and writes each message in one piece, so it
//! adds no Nagle delay to what it measures.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

pub struct CallCounter {
    pub url: String,
    calls: Arc<Mutex<BTreeMap<String, u32>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for CallCounter {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl CallCounter {
    pub async fn start(upstream: &str) -> CallCounter {
        let calls = Arc::new(Mutex::new(BTreeMap::new()));
        let counts = calls.clone();
        let (url, task) = listen(upstream, move |client, server| {
            relay(client, server, counts.clone())
        })
        .await;
        CallCounter { url, calls, task }
    }

    /// The calls since the last `take`, by action (`DescribeSecret`, ...).
    pub fn take(&self) -> BTreeMap<String, u32> {
        std::mem::take(&mut *self.calls.lock().unwrap())
    }
}

/// A loopback listener that connects each client to `upstream` and hands
/// both to `relay`; returns its URL and its task.
pub async fn listen<F, R>(upstream: &str, relay: R) -> (String, tokio::task::JoinHandle<()>)
where
    R: Fn(TcpStream, TcpStream) -> F + Send + Sync + 'static,
    F: std::future::Future<Output = std::io::Result<()>> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let upstream = upstream.trim_start_matches("http://").to_owned();
    let relay = Arc::new(relay);
    let task = tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let (upstream, relay) = (upstream.clone(), relay.clone());
            tokio::spawn(async move {
                if let Ok(server) = TcpStream::connect(&upstream).await {
                    let _ = relay(client, server).await;
                }
            });
        }
    });
    (url, task)
}

async fn relay(
    client: TcpStream,
    server: TcpStream,
    counts: Arc<Mutex<BTreeMap<String, u32>>>,
) -> std::io::Result<()> {
    client.set_nodelay(true)?;
    server.set_nodelay(true)?;
    let (mut client, mut server) = (BufReader::new(client), BufReader::new(server));
    loop {
        let Some(request) = read_message(&mut client).await? else {
            return Ok(());
        };
        // Every request counts: one without the header (the SDK changed how
        // it names the action?) is counted as such, never left out.
        let action = match header(&request, "x-amz-target") {
            Some(target) => target.rsplit('.').next().unwrap_or(&target).to_owned(),
            None => "(no X-Amz-Target)".to_owned(),
        };
        *counts.lock().unwrap().entry(action).or_default() += 1;
        server.get_mut().write_all(&request).await?;
        let Some(response) = read_message(&mut server).await? else {
            return Ok(());
        };
        client.get_mut().write_all(&response).await?;
    }
}

pub fn header(message: &[u8], name: &str) -> Option<String> {
    let text = String::from_utf8_lossy(message);
    let head = text.split("\r\n\r\n").next()?;
    head.lines().skip(1).find_map(|line| {
        let (k, v) = line.split_once(':')?;
        k.trim()
            .eq_ignore_ascii_case(name)
            .then(|| v.trim().to_owned())
    })
}

/// One HTTP/1.1 message, head and body, as it was sent; `None` at a clean
/// end of the connection.
pub async fn read_message(r: &mut BufReader<TcpStream>) -> std::io::Result<Option<Vec<u8>>> {
    let mut message = Vec::new();
    loop {
        let n = r.read_until(b'\n', &mut message).await?;
        if n == 0 {
            return Ok((!message.is_empty()).then_some(message));
        }
        if message.ends_with(b"\r\n\r\n") {
            break;
        }
    }
    let length = header(&message, "content-length").and_then(|v| v.parse::<usize>().ok());
    let chunked = header(&message, "transfer-encoding")
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    if let Some(n) = length {
        let start = message.len();
        message.resize(start + n, 0);
        r.read_exact(&mut message[start..]).await?;
    } else if chunked {
        loop {
            let start = message.len();
            r.read_until(b'\n', &mut message).await?;
            let size = usize::from_str_radix(
                String::from_utf8_lossy(&message[start..])
                    .trim()
                    .split(';')
                    .next()
                    .unwrap_or("0"),
                16,
            )
            .unwrap_or(0);
            let start = message.len();
            if size == 0 {
                // Trailers, then the empty line.
                loop {
                    let s = message.len();
                    r.read_until(b'\n', &mut message).await?;
                    if &message[s..] == b"\r\n" || message.len() == s {
                        break;
                    }
                }
                break;
            }
            message.resize(start + size + 2, 0);
            r.read_exact(&mut message[start..]).await?;
        }
    } else if message.starts_with(b"HTTP/") {
        // A response delimited by the end of the connection (a request
        // without a length has no body).
        r.read_to_end(&mut message).await?;
    }
    Ok(Some(message))
}

/// Logins the server saw since `from` (a length of its log): successful
/// ones and refused passwords, by user. Needs `log_connections` (the test
/// clusters have it).
pub fn logins(log: &str, from: usize) -> BTreeMap<String, (u32, u32)> {
    let mut by_user: BTreeMap<String, (u32, u32)> = BTreeMap::new();
    for line in log.get(from..).unwrap_or_default().lines() {
        if let Some(rest) = line.split("connection authorized: user=").nth(1) {
            let user = rest.split_whitespace().next().unwrap_or_default();
            by_user.entry(user.to_owned()).or_default().0 += 1;
        } else if let Some(rest) = line
            .split("password authentication failed for user \"")
            .nth(1)
        {
            let user = rest.split('"').next().unwrap_or_default();
            by_user.entry(user.to_owned()).or_default().1 += 1;
        }
    }
    by_user
}
