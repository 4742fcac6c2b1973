//! Simulated application pods: each starts with the credential the store
//! holds at its start, as a pod reads its Secret once, and logs in anew
//! every 100 ms with it until it is stopped. A rollout starts new ones on
//! the current credential and then stops the old ones.

use crate::secret::Credential;
use secrecy::ExposeSecret;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Default)]
pub struct Tally {
    pub logins: AtomicU64,
    pub failed: AtomicU64,
    /// The first few failures: "client 3 as demo_a: password authentication failed".
    pub failures: Mutex<Vec<String>>,
}

pub struct Fleet {
    port: u16,
    dbname: String,
    pub tally: Arc<Tally>,
    running: Vec<(String, tokio::sync::watch::Sender<bool>)>,
    started: u64,
}

impl Fleet {
    pub fn new(port: u16, dbname: &str) -> Fleet {
        Fleet {
            port,
            dbname: dbname.to_owned(),
            tally: Arc::default(),
            running: Vec::new(),
            started: 0,
        }
    }

    /// Replaces every client with `n` new ones on `credential`: the new
    /// ones first, then the old ones stop (a rolling restart).
    pub async fn roll(&mut self, credential: &Credential, n: usize) {
        let old = std::mem::take(&mut self.running);
        for _ in 0..n {
            self.started += 1;
            let (stop, stopped) = tokio::sync::watch::channel(false);
            tokio::spawn(client(
                self.started,
                self.port,
                self.dbname.clone(),
                credential.clone(),
                self.tally.clone(),
                stopped,
            ));
            self.running.push((credential.username.clone(), stop));
        }
        // Let the new pods become ready before the old ones go.
        tokio::time::sleep(Duration::from_millis(200)).await;
        for (_, stop) in old {
            let _ = stop.send(true);
        }
    }

    pub fn stop(&mut self) {
        for (_, stop) in self.running.drain(..) {
            let _ = stop.send(true);
        }
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        self.stop();
    }
}

async fn client(
    id: u64,
    port: u16,
    dbname: String,
    credential: Credential,
    tally: Arc<Tally>,
    mut stopped: tokio::sync::watch::Receiver<bool>,
) {
    let mut config = tokio_postgres::Config::new();
    config
        .host("127.0.0.1")
        .port(port)
        .dbname(&dbname)
        .user(&credential.username)
        .password(credential.password.expose_secret())
        .application_name("seesaw-demo-client")
        .connect_timeout(Duration::from_secs(5));
    loop {
        let attempt = async {
            let (client, connection) = config.connect(tokio_postgres::NoTls).await?;
            let task = tokio::spawn(connection);
            let result = client.simple_query("SELECT 1").await.map(|_| ());
            drop(client);
            let _ = task.await;
            result
        };
        match attempt.await {
            Ok(()) => {
                tally.logins.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => {
                tally.failed.fetch_add(1, Ordering::Relaxed);
                let mut failures = tally.failures.lock().unwrap_or_else(|e| e.into_inner());
                if failures.len() < 5 {
                    let reason = e
                        .as_db_error()
                        .map(|d| d.message().to_owned())
                        .unwrap_or_else(|| e.to_string());
                    failures.push(format!("client {id} as {}: {reason}", credential.username));
                }
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(100)) => {}
            _ = stopped.changed() => return,
        }
    }
}
