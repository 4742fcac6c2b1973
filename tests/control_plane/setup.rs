//! Each test's setup on the real control plane: workloads whose pods get
//! the credential in each of the kubelet's ways, the target's `kubernetes:`
//! section, the seeded Secret and the pod agent.

use crate::support::kube::real::{Agent, Database, RealKube};
use crate::support::seesaw::{Run, Target, DB};
use k8s_openapi::api::core::v1::{Event, Secret};
use serde_json::{json, Value};
use std::time::Duration;

/// How a workload's pods get the credential: each kind of workload below
/// uses another way, so the agent's kubelet-like resolution is exercised.
fn pod_template(app: &str, secret: &str) -> Value {
    match app.len() % 3 {
        // envFrom on the second container.
        0 => json!({
            "metadata": {"labels": {"app": app}},
            "spec": {"containers": [
                {"name": "sidecar", "image": "sidecar:1"},
                {"name": "app", "image": "app:1", "envFrom": [{"secretRef": {"name": secret}}]},
            ]}
        }),
        // env secretKeyRef.
        1 => json!({
            "metadata": {"labels": {"app": app}},
            "spec": {"containers": [{"name": "app", "image": "app:1", "env": [
                {"name": "PGUSER", "valueFrom": {"secretKeyRef": {"name": secret, "key": "username"}}},
                {"name": "PGPASSWORD", "valueFrom": {"secretKeyRef": {"name": secret, "key": "password"}}},
            ]}]}
        }),
        // A Secret volume.
        _ => json!({
            "metadata": {"labels": {"app": app}},
            "spec": {
                "volumes": [{"name": "db", "secret": {"secretName": secret}}],
                "containers": [{"name": "app", "image": "app:1",
                    "volumeMounts": [{"name": "db", "mountPath": "/etc/db"}]}]
            }
        }),
    }
}

pub fn deployment(name: &str, replicas: i32) -> Value {
    json!({
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
            "template": pod_template(name, "app-db"),
        }
    })
}

pub fn stateful_set(name: &str, replicas: i32, strategy: Value) -> Value {
    json!({
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "serviceName": name,
            "selector": {"matchLabels": {"app": name}},
            "updateStrategy": strategy,
            "template": pod_template(name, "app-db"),
        }
    })
}

pub fn daemon_set(name: &str) -> Value {
    json!({
        "metadata": {"name": name},
        "spec": {
            "selector": {"matchLabels": {"app": name}},
            "template": pod_template(name, "app-db"),
        }
    })
}

fn kube_section(ns: &str, workloads: &[(&str, &str)]) -> String {
    let mut s = format!(
        "    kubernetes:\n      secrets:\n        - name: app-db\n          namespace: {ns}\n          data:\n            username: \"{{{{ username }}}}\"\n            password: \"{{{{ password }}}}\"\n            DATABASE_URL: \"postgresql://{{{{ username | urlencode }}}}:{{{{ password | urlencode }}}}@{{{{ host }}}}:{{{{ port }}}}/{{{{ dbname }}}}\"\n      workloads:\n"
    );
    if workloads.is_empty() {
        s += "        []\n";
    }
    for (kind, name) in workloads {
        s += &format!("        - {{ kind: {kind}, name: {name}, namespace: {ns} }}\n");
    }
    s += "      rollout: { wait: true, timeout: 60s }\n";
    s
}

pub struct Setup {
    pub t: Target,
    pub kube: RealKube,
    pub agent: Agent,
}

/// A target whose `kubernetes:` section lists `listed`, the Secret seeded
/// with the current credential and the pod agent running.
pub async fn setup(listed: &[(&str, &str)]) -> Option<Setup> {
    let kube = RealKube::connect().await?;
    let mut t = Target::new(["app_a", "app_b"]).await;
    t.database_extra = "      standby_sessions: wait\n      standby_wait_timeout: 3s\n".into();
    t.write_config();
    let config = std::fs::read_to_string(&t.config).unwrap();
    std::fs::write(
        &t.config,
        format!("{config}{}", kube_section(&kube.ns, listed)),
    )
    .unwrap();
    let (user, password) = t.login("current");
    kube.create::<Secret>(json!({"metadata": {"name": "app-db"}, "stringData": {"username": user, "password": password}}))
        .await;
    let agent = Agent::start(
        &kube,
        Database {
            port: t.cluster.port,
            dbname: DB.into(),
        },
    );
    Some(Setup { t, kube, agent })
}

impl Setup {
    /// Rewrites the target's `kubernetes:` section for `workloads` in `ns`.
    pub fn list(&self, ns: &str, workloads: &[(&str, &str)]) {
        let config = std::fs::read_to_string(&self.t.config).unwrap();
        let at = config.find("    kubernetes:").unwrap();
        std::fs::write(
            &self.t.config,
            format!("{}{}", &config[..at], kube_section(ns, workloads)),
        )
        .unwrap();
    }

    pub async fn seesaw(&self, args: &[&str]) -> Run {
        let env = [
            ("KUBECONFIG", Some(self.kube.kubeconfig.as_os_str())),
            ("KUBERNETES_SERVICE_HOST", None),
        ];
        self.t.seesaw_with(args, &env).await
    }

    /// Waits until `pods` pods log in, i.e. the first rollouts are done.
    pub async fn settled(&self, pods: u64) {
        for _ in 0..600 {
            if self.agent.logins.running() >= pods && self.agent.logins.ok() >= pods {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "{} of {pods} pods running after 60 s",
            self.agent.logins.running()
        );
    }

    pub fn assert_no_failed_login(&self) {
        let l = &self.agent.logins;
        assert_eq!(
            l.failed(),
            0,
            "zero downtime: no pod may fail to log in: {:#?}",
            l.failures()
        );
    }

    pub async fn events(&self) -> Vec<Event> {
        self.kube
            .api::<Event>()
            .list(&Default::default())
            .await
            .unwrap()
            .items
    }
}

pub use crate::support::process::must;

/// A kubeconfig for the control plane that authenticates as `token`.
pub fn token_kubeconfig(admin: &std::path::Path, token: &str, to: &std::path::Path) {
    let text = std::fs::read_to_string(admin).unwrap();
    let mut config: Value = serde_yaml_ng::from_str(&text).unwrap();
    config["users"] = json!([{"name": "seesaw", "user": {"token": token.trim()}}]);
    config["contexts"][0]["context"]["user"] = json!("seesaw");
    std::fs::write(to, serde_yaml_ng::to_string(&config).unwrap()).unwrap();
}
