//! What seesaw adds between publish and "all workloads rolled": the
//! propagate step (patch the Secret, annotate every workload, wait for the
//! rollouts) for 1, 10 and 100 Deployments, beside what a user would do by
//! hand on the same Deployments in the same run: `kubectl rollout restart`
//! then `kubectl rollout status`. `cargo bench --bench kubernetes`.
//!
//! Also the preflight's share: every write tried without effect before the
//! first change (one dry run per Secret and per Deployment, an access
//! review per watched Deployment and two for Events), timed alone and
//! beside the whole rotation it is part of.
//!
//! On the real control plane when `SEESAW_KUBECONFIG` is set
//! (`tests/kube/control-plane up DIR`; kwok's pods become ready at once, so
//! this measures seesaw, kubectl and the controllers), else on the fake API
//! server (seesaw only: the fake has no kubectl-compatible discovery of
//! every resource kubectl asks for).

#[path = "../tests/support/mod.rs"]
mod support;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Secret;
use seesaw::rotation::Step;
use seesaw::runtime::{EngineOptions, Progress, RotateOptions};
use serde_json::json;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The propagate step's time of each rotation.
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

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// The workloads and the kubeconfig seesaw uses, on either backend.
enum Backend {
    Real(support::kube::real::RealKube),
    Fake(support::kube::FakeKube),
}

impl Backend {
    fn namespace(&self) -> String {
        match self {
            Backend::Real(k) => k.ns.clone(),
            Backend::Fake(_) => "shop".into(),
        }
    }

    fn kubeconfig(&self) -> PathBuf {
        match self {
            Backend::Real(k) => k.kubeconfig.clone(),
            Backend::Fake(k) => k.kubeconfig(),
        }
    }

    async fn deployments(&self, n: usize) {
        for i in 0..n {
            let name = format!("w{i}");
            match self {
                Backend::Real(k) => {
                    k.create::<Deployment>(json!({
                        "metadata": {"name": name, "labels": {"bench": "1"}},
                        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}},
                            "template": {"metadata": {"labels": {"app": name}},
                                "spec": {"containers": [{"name": "app", "image": "app:1"}]}}}
                    }))
                    .await;
                }
                Backend::Fake(k) => k.workload("deployments", "shop", &name, 1, None),
            }
        }
        if let Backend::Real(k) = self {
            k.create::<Secret>(json!({"metadata": {"name": "app-db"}}))
                .await;
            rollout(k, "status");
        }
    }

    /// `kubectl rollout restart` + `kubectl rollout status` of the same
    /// Deployments, the hand-made alternative.
    fn kubectl_restart(&self) -> Option<Duration> {
        let Backend::Real(k) = self else {
            return None;
        };
        // kubectl stamps restarts to the second and refuses a second one
        // within it; not part of the measurement.
        std::thread::sleep(Duration::from_millis(1100));
        let started = Instant::now();
        rollout(k, "restart");
        rollout(k, "status");
        Some(started.elapsed())
    }
}

/// `kubectl rollout VERB` of the benchmark's Deployments.
fn rollout(k: &support::kube::real::RealKube, verb: &str) {
    let out = k
        .kubectl()
        .args(["-n", &k.ns, "rollout", verb, "deployment", "-l", "bench=1"])
        .args((verb == "status").then_some("--timeout=5m"))
        .output()
        .unwrap();
    assert!(out.status.success(), "kubectl rollout {verb}: {out:?}");
}

fn main() {
    let rounds: usize = std::env::var("ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let real = std::env::var_os("SEESAW_KUBECONFIG").is_some();
        println!(
            "publish -> all Deployments rolled, {rounds} rounds each, medians, on {}:",
            if real { "the real control plane (kwok pods)" } else { "the fake API server (no kubectl side)" }
        );
        for n in [1usize, 10, 100] {
            let backend = if real {
                Backend::Real(support::kube::real::RealKube::connect().await.unwrap())
            } else {
                let kube = support::kube::FakeKube::start(None).await;
                kube.sim.set_pod_start(Duration::ZERO);
                Backend::Fake(kube)
            };
            backend.deployments(n).await;
            let ns = backend.namespace();
            let t = support::seesaw::Target::new(["bench_a", "bench_b"]).await;
            let mut config = std::fs::read_to_string(&t.config).unwrap();
            config += &format!("    kubernetes:\n      secrets:\n        - {{ name: app-db, namespace: {ns} }}\n      workloads:\n");
            for i in 0..n {
                config += &format!("        - {{ kind: Deployment, name: w{i}, namespace: {ns} }}\n");
            }
            config += "      rollout: { wait: true, timeout: 5m }\n";
            std::fs::write(&t.config, config).unwrap();
            let loaded = seesaw::config::Config::load(&t.config).unwrap();
            let options = EngineOptions {
                kubeconfig: Some(backend.kubeconfig()),
                ..support::seesaw::engine_options()
            };
            let engine = seesaw::runtime::Engine::from_config(&loaded.targets[0], &options)
                .await
                .unwrap();
            let times = Propagate::default();
            // The first rotation also fills in the Secret; measure the rest.
            engine.rotate(RotateOptions::default(), &times).await.unwrap();
            times.0.lock().unwrap().clear();
            let mut kubectl = Vec::new();
            let (mut whole, mut preflight) = (Vec::new(), Vec::new());
            let mut writes = 0;
            for _ in 0..rounds {
                let started = Instant::now();
                writes = engine.preflight_consumers().await.expect("preflight").len();
                preflight.push(started.elapsed());
                let started = Instant::now();
                engine
                    .rotate(RotateOptions::default(), &times)
                    .await
                    .expect("rotation");
                whole.push(started.elapsed());
                kubectl.extend(backend.kubectl_restart());
            }
            println!(
                "  {n:>3} Deployments: preflight ({writes} writes tried) {:>8.1} ms alone; whole rotation {:>8.1} ms",
                ms(median(preflight)),
                ms(median(whole))
            );
            let seesaw = median(times.0.into_inner().unwrap());
            match kubectl.is_empty() {
                true => println!("  {n:>3} Deployments: seesaw {:>8.1} ms", ms(seesaw)),
                false => {
                    let kubectl = median(kubectl);
                    println!(
                        "  {n:>3} Deployments: seesaw {:>8.1} ms   kubectl rollout restart + status {:>8.1} ms   ratio {:.2}x",
                        ms(seesaw),
                        ms(kubectl),
                        kubectl.as_secs_f64() / seesaw.as_secs_f64()
                    );
                }
            }
        }
    });
}
