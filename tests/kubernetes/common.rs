//! What the fake-API-server tests share: the target's `kubernetes:`
//! section, the fake with its pods and seeded Secret, and waiting for it.

use crate::support;
use crate::support::kube::{sim, FakeKube};
use crate::support::seesaw::{Target, DB};
use serde_json::json;
use std::time::Duration;

pub const NS: &str = "shop";

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
pub async fn setup(workloads: &[(&str, &str)], wait: bool) -> (Target, FakeKube) {
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

pub async fn seesaw(t: &Target, kube: &FakeKube, args: &[&str]) -> support::seesaw::Run {
    let kubeconfig = kube.kubeconfig();
    let env = [
        ("KUBECONFIG", Some(kubeconfig.as_os_str())),
        ("KUBERNETES_SERVICE_HOST", None),
    ];
    t.seesaw_with(args, &env).await
}

/// Waits until every pod of every workload is up (the first rollout).
pub async fn settled(kube: &FakeKube) {
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

pub const MIXED: &[(&str, &str)] = &[
    ("Deployment", "api"),
    ("Deployment", "worker"),
    ("StatefulSet", "ledger"),
    ("DaemonSet", "agent"),
];
