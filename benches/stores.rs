//! Publish latency per store on loopback: median and p99 of PUBLISHES
//! (default 200) publishes, each a full read + publish as a rotation does.
//! AWS is measured against moto_server and GCP against drongo when they are
//! installed, Azure against the HTTPS fake Key Vault in tests/support.
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

fn report(store: &str, against: &str, (median, p99): (Duration, Duration)) {
    println!(
        "  {store:<6} median {:>7.2} ms   p99 {:>7.2} ms   {against}",
        median.as_secs_f64() * 1e3,
        p99.as_secs_f64() * 1e3
    );
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
        report("file", "", measure(&FileStore::new(path), n).await);
        let initial = json!({"username": "app_a", "password": "p"});
        if let Some(moto) = support::moto::Moto::start() {
            moto.create("bench/app", &initial).await;
            let store = moto.store("bench/app").await;
            report("aws", "(moto_server)", measure(&store, n).await);
        }
        if let Some(drongo) = support::drongo::Drongo::start() {
            drongo.create("bench-app", &initial).await;
            let store = seesaw::store::GcpStore::connect(&drongo.config("bench-app"))
                .await
                .unwrap();
            report("gcp", "(drongo)", measure(&store, n).await);
        }
        let vault = support::keyvault::Vault::start();
        vault.set("bench-app", &initial);
        let store = vault.store("bench-app");
        report(
            "azure",
            "(fake Key Vault over TLS)",
            measure(&store, n).await,
        );
    });
}
