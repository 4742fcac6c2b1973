//! Daemons in-process (`seesaw::runtime::daemon::run`), each on a runtime
//! of its choosing, and a plain HTTP GET for their endpoints.

use seesaw::runtime::daemon::{self, DaemonOptions};
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

/// Starts a daemon on `rt`; returns its HTTP address and a stop switch.
pub async fn start(
    rt: &tokio::runtime::Handle,
    config: &Path,
    options: DaemonOptions,
) -> (
    SocketAddr,
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<Result<(), seesaw::Error>>,
) {
    let (addr_tx, addr_rx) = tokio::sync::oneshot::channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let config = config.to_path_buf();
    let task = rt.spawn(async move {
        daemon::run(
            &config,
            options,
            async {
                let _ = stop_rx.await;
            },
            Some(addr_tx),
        )
        .await
    });
    let addr = tokio::time::timeout(Duration::from_secs(20), addr_rx)
        .await
        .expect("daemon did not start")
        .expect("daemon failed to start");
    (addr, stop_tx, task)
}

/// A plain HTTP/1.1 GET: (status, body).
pub async fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).await.unwrap();
    let status = raw[9..12].parse().unwrap();
    let body = raw
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}
