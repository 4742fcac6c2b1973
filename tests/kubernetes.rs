//! Kubernetes propagation against the fake API server, with pods that log
//! in to a real PostgreSQL.

mod support;

use serde_json::json;
use std::time::Duration;
use support::kube::{sim, FakeKube};
use support::seesaw::{Target, DB};

const NS: &str = "shop";

fn kube_section(workloads: &[(&str, &str)], wait: bool) -> String {
    let mut s = format!(
        "    kubernetes:\n      secrets:\n        - name: app-db\n          namespace: {NS}\n          data:\n            username: \"{{{{ username }}}}\"\n            password: \"{{{{ password }}}}\"\n            DATABASE_URL: \"postgresql://{{{{ username | urlencode }}}}:{{{{ password | urlencode }}}}@{{{{ host }}}}:{{{{ port }}}}/{{{{ dbname }}}}\"\n      workloads:\n"
    );
    for (kind, name) in workloads {
        s += &format!("        - {{ kind: {kind}, name: {name}, namespace: {NS} }}\n");
    }
    s += &format!("      rollout: {{ wait: {wait}, timeout: 60s }}\n");
    s
}

/// A target whose config has a `kubernetes:` section, a fake API server
/// whose pods use the real database, and the Secret seeded with the
/// current credential.
async fn setup(workloads: &[(&str, &str)], wait: bool) -> (Target, FakeKube) {
    let mut t = Target::new(["app_a", "app_b"]).await;
    t.database_extra = "      standby_sessions: wait\n      standby_wait_timeout: 10s\n".into();
    t.write_config();
    let config = std::fs::read_to_string(&t.config).unwrap();
    std::fs::write(
        &t.config,
        format!("{config}{}", kube_section(workloads, wait)),
    )
    .unwrap();
    let kube = FakeKube::start(Some(sim::Database {
        port: t.cluster.port,
        dbname: DB.into(),
    }))
    .await;
    let (user, password) = t.login("current");
    kube.put("secrets", NS, json!({"apiVersion": "v1", "metadata": {"name": "app-db"}, "stringData": {"username": user, "password": password}}));
    for (kind, name) in workloads {
        let resource = format!("{}s", kind.to_lowercase());
        kube.workload(&resource, NS, name, 3, Some("app-db"));
    }
    (t, kube)
}

async fn seesaw(t: &Target, kube: &FakeKube, args: &[&str]) -> support::seesaw::Run {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_seesaw"))
        .arg("--config")
        .arg(&t.config)
        .args(args)
        .env("TEST_ADMIN_PASSWORD", support::seesaw::ADMIN_PASSWORD)
        .env("KUBECONFIG", kube.kubeconfig())
        .env_remove("KUBERNETES_SERVICE_HOST")
        .env_remove("RUST_LOG")
        .output()
        .await
        .unwrap()
        .into()
}

/// Waits until every pod of every workload is up (the first rollout).
async fn settled(kube: &FakeKube) {
    for _ in 0..400 {
        let all = ["deployments", "statefulsets", "daemonsets"]
            .iter()
            .flat_map(|r| kube.list(r))
            .collect::<Vec<_>>();
        let done = all.iter().all(|w| {
            let s = &w["status"];
            let want = w["spec"]["replicas"].as_i64().unwrap_or(3);
            s["readyReplicas"].as_i64().or(s["numberReady"].as_i64()) == Some(want)
        });
        if done {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("workloads did not come up");
}

const MIXED: &[(&str, &str)] = &[
    ("Deployment", "api"),
    ("Deployment", "worker"),
    ("StatefulSet", "ledger"),
    ("DaemonSet", "agent"),
];

#[tokio::test]
async fn twenty_rotations_with_live_pods_and_no_failed_login() {
    let (t, kube) = setup(MIXED, true).await;
    settled(&kube).await;
    let mut outputs = String::new();
    let mut expected = "app_a";
    for round in 1..=20 {
        let run = seesaw(&t, &kube, &["rotate", "demo"]).await;
        outputs += &run.all();
        assert_eq!(run.code, 0, "rotation {round}: {}", run.all());
        expected = if expected == "app_a" {
            "app_b"
        } else {
            "app_a"
        };
        let (user, password) = t.login("current");
        assert_eq!(user, expected);
        let data = kube.secret_data(NS, "app-db");
        assert_eq!(data["username"], user, "the Secret carries the new user");
        assert_eq!(data["password"], password);
    }
    assert!(
        kube.sim.ok_logins() > 100,
        "pods must actually have been logging in ({})",
        kube.sim.ok_logins()
    );
    assert_eq!(
        kube.sim.failed_logins(),
        0,
        "zero downtime: no pod may fail to log in"
    );
    // Progress was shown while waiting for rollouts.
    assert!(outputs.contains("updated"), "{outputs}");
    // Events name the rotation, never a secret value.
    let events = kube.list("events");
    assert!(events
        .iter()
        .any(|e| e["reason"] == "CredentialRotated" && e["involvedObject"]["kind"] == "Secret"));
    for kind in ["Deployment", "StatefulSet", "DaemonSet"] {
        assert!(
            events.iter().any(|e| e["involvedObject"]["kind"] == kind),
            "no Event on a {kind}"
        );
    }
    let (_, password) = t.login("current");
    let (_, previous) = t.login("previous");
    for e in &events {
        let m = e["message"].as_str().unwrap();
        assert!(
            !m.contains(&password) && !m.contains(&previous),
            "an Event holds a password"
        );
    }
    assert!(
        !outputs.contains(&password) && !outputs.contains(&previous),
        "seesaw printed a password"
    );
}

#[tokio::test]
async fn control_without_gate_or_wait_the_pods_fail_to_log_in() {
    let (t, kube) = setup(MIXED, false).await;
    kube.sim.set_pod_start(Duration::from_millis(150));
    settled(&kube).await;
    for round in 1..=20 {
        let run = seesaw(&t, &kube, &["rotate", "demo", "--force"]).await;
        assert_eq!(run.code, 0, "rotation {round}: {}", run.all());
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(kube.sim.failed_logins() > 0, "rotating a standby that pods still use must break logins; the zero-downtime test would be meaningless otherwise");
}

#[tokio::test]
async fn an_unfinished_rollout_blocks_the_next_rotation() {
    let (t, kube) = setup(&[("Deployment", "api")], false).await;
    kube.sim.set_pod_start(Duration::from_secs(30));
    let run = seesaw(&t, &kube, &["rotate", "demo"]).await;
    // The first pods are still starting: that rollout is unfinished.
    assert_eq!(run.code, 3, "{}", run.all());
    assert!(
        run.stderr.contains("[rollouts]") && run.stderr.contains("Deployment shop/api"),
        "{}",
        run.stderr
    );
}
