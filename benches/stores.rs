//! Publish latency per store on loopback: median and p99 of PUBLISHES
//! (default 200) publishes, each a full read + publish as a rotation does.
//! The AWS store is measured against moto_server when it is installed.
//! `cargo bench --bench stores`

#[path = "../tests/support/mod.rs"]
mod support;

use seesaw::secret::SecretDocument;
use seesaw::store::{FileStore, PublishRequest, SecretStore};
use serde_json::json;
use std::time::{Duration, Instant};

async fn measure(store: &dyn SecretStore, n: usize) -> (Duration, Duration) {
    let mut samples = Vec::with_capacity(n);
    for i in 0..n {
        let state = store.read().await.unwrap();
        let user = if i % 2 == 0 { "app_b" } else { "app_a" };
        let doc = SecretDocument::from_value(
            json!({"username": user, "password": format!("bench-Secret-{i}"), "host": "db"}),
        )
        .unwrap();
        let token = format!("{:032x}", i + 1);
        let started = Instant::now();
        store
            .publish(PublishRequest {
                document: &doc,
                replaces: &state.current.version,
                token: &token,
            })
            .await
            .unwrap();
        samples.push(started.elapsed());
    }
    samples.sort();
    (samples[n / 2], samples[(n * 99 / 100).min(n - 1)])
}

fn main() {
    let n: usize = std::env::var("PUBLISHES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        println!("publish latency, {n} publishes:");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.json");
        std::fs::write(
            &path,
            json!({"current": {"username": "app_a", "password": "p"}}).to_string(),
        )
        .unwrap();
        let (median, p99) = measure(&FileStore::new(path), n).await;
        println!(
            "  file   median {:>7.2} ms   p99 {:>7.2} ms",
            median.as_secs_f64() * 1e3,
            p99.as_secs_f64() * 1e3
        );
        if let Some(moto) = support::moto::Moto::start() {
            moto.create("bench/app", &json!({"username": "app_a", "password": "p"}))
                .await;
            let store = seesaw::store::AwsStore::connect(&moto.config("bench/app")).await;
            let (median, p99) = measure(&store, n).await;
            println!(
                "  aws    median {:>7.2} ms   p99 {:>7.2} ms   (moto_server)",
                median.as_secs_f64() * 1e3,
                p99.as_secs_f64() * 1e3
            );
        }
    });
}
