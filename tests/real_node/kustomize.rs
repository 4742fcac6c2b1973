//! deploy/kubernetes as an operator applies it: an overlay of their own
//! (namespace, image, placement, the config) over the shipped manifests,
//! `kubectl apply -k`, on the real node.

use crate::apps::{applications, live, PodCount};
use crate::node::{must, placement, seesaw_image};
use crate::release::{wait_until, Release};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::ConfigMap;
use serde_json::json;
use std::time::Duration;

/// The shipped manifests (ServiceAccount, Role, RoleBinding, ConfigMap,
/// Deployment, PDB) under an overlay: the two seesaw pods come up with the
/// shipped Role, and two rotations restart the Deployments it names (`api`
/// and `worker`, real application containers) without a failed login.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_kustomize_manifests_rotate_on_the_real_node() {
    let Some(r) = Release::prepare().await else {
        return;
    };
    applications(&r, &[("api", 2), ("worker", 1)]).await;
    // The shipped Deployment mounts the database CA; this database has no
    // TLS, so any CA will do.
    r.kube
        .create::<ConfigMap>(json!({"metadata": {"name": "postgres-ca"}, "data": {"ca.crt": ""}}))
        .await;

    let overlay = tempfile::tempdir().unwrap();
    let base = overlay.path().join("base");
    std::fs::create_dir(&base).unwrap();
    let shipped = format!("{}/deploy/kubernetes", env!("CARGO_MANIFEST_DIR"));
    // The base's files; optional components (components/) are not part of it.
    for entry in std::fs::read_dir(&shipped).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            std::fs::copy(&path, base.join(path.file_name().unwrap())).unwrap();
        }
    }
    let mut config =
        r.values(2, &[("Deployment", "api"), ("Deployment", "worker")])["config"].clone();
    config["http"] = json!({"address": "0.0.0.0:8080"});
    let mut pod_spec = placement();
    pod_spec["containers"] = json!([{"name": "seesaw", "imagePullPolicy": "Never"}]);
    let (repository, tag) = seesaw_image();
    let kustomization = json!({
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "namespace": r.kube.ns,
        "resources": ["base"],
        "images": [{"name": "ghcr.io/seesaw-dev/seesaw", "newName": repository, "newTag": tag}],
        "patches": [
            {"patch": json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "seesaw", "namespace": "shop"},
                             "spec": {"template": {"spec": pod_spec}}}).to_string()},
            {"patch": json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "seesaw-config", "namespace": "shop"},
                             "data": {"seesaw.yaml": config.to_string()}}).to_string()},
            // The shipped RoleBinding names its subject's namespace.
            {"target": {"kind": "RoleBinding", "name": "seesaw"},
             "patch": json!([{"op": "replace", "path": "/subjects/0/namespace", "value": r.kube.ns}]).to_string()},
        ],
    });
    std::fs::write(
        overlay.path().join("kustomization.yaml"),
        kustomization.to_string(),
    )
    .unwrap();
    must(r.kube.kubectl().args(["apply", "-k"]).arg(overlay.path()));
    let started = std::time::Instant::now();
    let api = r.kube.api::<Deployment>();
    wait_until("seesaw available", Duration::from_secs(120), || async {
        let d = api.get("seesaw").await.unwrap();
        d.status.and_then(|s| s.ready_replicas) == Some(2)
    })
    .await;
    eprintln!("kubectl apply -k -> 2 pods Ready: {:?}", started.elapsed());

    for i in 1..=2 {
        wait_until("a rotation", Duration::from_secs(150), || async {
            r.rotations() >= i
        })
        .await;
        let user = &r.t.users[i % 2];
        wait_until(
            "every running pod restarted with the new credential",
            Duration::from_secs(120),
            || async {
                let counts = r.counts.read();
                let live = live(&counts);
                live.len() == 3 && live.iter().all(|c| &c.user == user && c.ok > 0)
            },
        )
        .await;
    }
    let counts = r.counts.read();
    let failures: Vec<&PodCount> = counts.iter().filter(|c| c.failed > 0).collect();
    assert!(failures.is_empty(), "{failures:#?}");
    assert_eq!(counts.len(), 9, "three pods, replaced twice: {counts:#?}");
}
