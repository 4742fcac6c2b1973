//! What seesaw adds between publish and "all workloads rolled": the
//! propagate step (patch the Secret, annotate every workload, wait for the
//! rollouts) against the fake API server with a pod start time of zero, for
//! 1, 10 and 100 workloads. `cargo bench --bench kubernetes`.

#[path = "../tests/support/mod.rs"]
mod support;

use seesaw::rotation::Step;
use seesaw::runtime::{EngineOptions, Progress, RotateOptions};
use std::sync::Mutex;
use std::time::Duration;

#[derive(Default)]
struct Propagate(Mutex<Vec<Duration>>);

impl Progress for Propagate {
    fn finished(&self, _: &str, step: &Step, elapsed: Duration) -> Result<(), String> {
        if step.name() == "propagate" {
            self.0.lock().unwrap().push(elapsed);
        }
        Ok(())
    }
}

fn main() {
    let rounds: usize = std::env::var("ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        println!("publish -> all workloads rolled (propagate step), pod start 0, {rounds} rotations each:");
        for n in [1usize, 10, 100] {
            let t = support::seesaw::Target::new(["bench_a", "bench_b"]).await;
            let kube = support::kube::FakeKube::start(None).await;
            kube.sim.set_pod_start(Duration::ZERO);
            let mut config = std::fs::read_to_string(&t.config).unwrap();
            config += "    kubernetes:\n      secrets:\n        - { name: app-db, namespace: shop }\n      workloads:\n";
            for i in 0..n {
                config += &format!("        - {{ kind: Deployment, name: w{i}, namespace: shop }}\n");
                kube.workload("deployments", "shop", &format!("w{i}"), 1, None);
            }
            config += "      rollout: { wait: true, timeout: 5m }\n";
            std::fs::write(&t.config, config).unwrap();
            std::env::set_var("TEST_ADMIN_PASSWORD", support::seesaw::ADMIN_PASSWORD);
            let loaded = seesaw::config::Config::load(&t.config).unwrap();
            let options = EngineOptions { kube_context: None, kubeconfig: Some(kube.kubeconfig()), sync_permits: None };
            let engine = seesaw::runtime::Engine::from_config(&loaded.targets[0], &options).await.unwrap();
            let times = Propagate::default();
            // The first rotation also creates the Secret's keys; measure the rest.
            engine.rotate(RotateOptions::default(), &times).await.unwrap();
            times.0.lock().unwrap().clear();
            for _ in 0..rounds {
                engine.rotate(RotateOptions::default(), &times).await.expect("rotation");
            }
            let mut samples = times.0.into_inner().unwrap();
            samples.sort();
            println!(
                "  {n:>3} workloads: median {:>8.1} ms   max {:>8.1} ms",
                samples[samples.len() / 2].as_secs_f64() * 1e3,
                samples.last().unwrap().as_secs_f64() * 1e3
            );
        }
    });
}
