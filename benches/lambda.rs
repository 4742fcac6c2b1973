//! The rotation Lambda: cold start of the `bootstrap` binary (process start
//! to the first response posted to the runtime API), and the duration of
//! each step, median over ROTATIONS (default 50) rotations, against
//! moto_server and a real PostgreSQL. `cargo bench --bench lambda`;
//! `SEESAW_BOOTSTRAP=path` times another build of the binary for the cold
//! start (e.g. `--no-default-features --features lambda`).

#[path = "../tests/support/mod.rs"]
mod support;

use seesaw::config::TlsMode;
use seesaw::runtime::lambda::{Function, Rotation, Settings, Step};
use seesaw::runtime::NoProgress;
use serde_json::json;
use std::time::{Duration, Instant};

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn main() {
    let n: usize = std::env::var("ROTATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let Some(moto) = support::moto::Moto::start() else {
            eprintln!("moto_server not installed");
            return;
        };
        let t = support::seesaw::Target::new(["app_a", "app_b"]).await;
        for (name, doc) in [
            ("master", json!({"username": support::seesaw::ADMIN, "password": support::seesaw::ADMIN_PASSWORD})),
            ("app", json!({"engine": "postgres", "host": "127.0.0.1", "port": t.cluster.port, "dbname": support::seesaw::DB,
                "username": "app_a", "password": "initial-Password-1", "masterarn": "master",
                "seesaw": {"users": ["app_a", "app_b"]}})),
        ] {
            moto.create(name, &doc).await;
        }
        // Cold start: the binary as bootstrap, first event createSecret.
        let mut cold = Vec::new();
        for i in 0..5 {
            let token = format!("c{:031x}", i);
            moto.start_rotation("app", &token).await;
            let api = support::lambda_api::RuntimeApi::start(
                support::lambda_api::RuntimeApi::rotation_events("app", &token),
            )
            .await;
            let started = Instant::now();
            let mut child = api
                .bootstrap(&moto.url)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap();
            api.wait_for(1).await;
            cold.push(started.elapsed());
            let results = api.wait_for(4).await;
            child.kill().await.unwrap();
            for (id, result) in &results {
                assert!(result.starts_with("ok"), "{id}: {result}");
            }
        }
        cold.sort();
        println!("cold start to first response (createSecret), median of 5: {:.1} ms", ms(cold[2]));

        let settings = Settings {
            tls: TlsMode::Disable,
            endpoint_url: Some(moto.url.clone()),
            ..Settings::default()
        };
        // One warm sandbox: Secrets Manager invokes the steps back to back.
        let function = Function::new(settings).await;
        let steps = [Step::CreateSecret, Step::SetSecret, Step::TestSecret, Step::FinishSecret];
        let mut samples = vec![Vec::new(); 4];
        for i in 0..n {
            let token = format!("{:032x}", i + 1);
            moto.start_rotation("app", &token).await;
            for (k, step) in steps.iter().enumerate() {
                let started = Instant::now();
                function.handle(&Rotation { step: *step, secret_id: "app".into(), token: token.clone() }, &NoProgress)
                    .await
                    .unwrap();
                samples[k].push(started.elapsed());
            }
        }
        println!("step durations, median of {n} rotations (in process, warm):");
        for (k, step) in steps.iter().enumerate() {
            samples[k].sort();
            println!("  {:<13} {:>7.1} ms", step.as_str(), ms(samples[k][n / 2]));
        }
    });
}
