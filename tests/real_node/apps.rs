//! The applications: containers of the app-client image
//! (tests/kube/node/images/app) that read the credential from the Secret
//! as env when they start and log in every 100 ms, each pod leaving its
//! counts in a hostPath directory that the test reads.

use crate::node::{placement, Node};
use crate::release::{wait_until, Release};
use crate::support::seesaw::DB;
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use serde::Deserialize;
use serde_json::{json, Value};
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// One pod's counts, as app-client writes them.
#[derive(Debug, Clone, Deserialize)]
pub struct PodCount {
    pub pod: String,
    pub user: String,
    #[serde(rename = "started_unix_ms")]
    pub started: i64,
    #[serde(rename = "updated_unix_ms")]
    pub updated: i64,
    pub ok: u64,
    pub failed: u64,
    pub last_error: Option<String>,
    /// SIGTERM came and the last count was written.
    pub stopped: bool,
}

/// The hostPath directory the application pods write their counts to.
pub struct Counts {
    dir: tempfile::TempDir,
}

impl Counts {
    pub fn new() -> Counts {
        let dir = tempfile::Builder::new()
            .prefix("seesaw-apps-")
            .tempdir()
            .unwrap();
        // app-client runs as 65532, as the image says.
        std::os::unix::fs::chown(dir.path(), Some(65532), Some(65532)).unwrap();
        Counts { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Every pod's counts so far, gone pods included.
    pub fn read(&self) -> Vec<PodCount> {
        let mut all: Vec<PodCount> = std::fs::read_dir(self.dir.path())
            .unwrap()
            .filter_map(|e| {
                let path = e.unwrap().path();
                (path.extension()? == "json").then(|| {
                    let text = std::fs::read(&path).unwrap();
                    serde_json::from_slice(&text)
                        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
                })
            })
            .collect();
        all.sort_by_key(|c| c.started);
        all
    }

    pub fn failed(&self) -> u64 {
        self.read().iter().map(|c| c.failed).sum()
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// Pods still logging in: not stopped, and counted within the last 3 s.
pub fn live(counts: &[PodCount]) -> Vec<&PodCount> {
    let now = now_ms();
    counts
        .iter()
        .filter(|c| !c.stopped && now - c.updated < 3000)
        .collect()
}

/// The applications, each a Deployment of `(name, replicas)` (a name
/// ending in `-sts`: a StatefulSet), returning once each pod logs in.
pub async fn applications(r: &Release, workloads: &[(&str, i32)]) {
    let db = (r.t.cluster.port, DB);
    for (name, replicas) in workloads {
        let template = pod_template(name, &r.node, &r.counts, db);
        if name.ends_with("-sts") {
            r.kube
                .create::<StatefulSet>(stateful_set(name, *replicas, template))
                .await;
        } else {
            r.kube
                .create::<Deployment>(deployment(name, *replicas, template))
                .await;
        }
    }
    let pods = workloads.iter().map(|(_, n)| *n as usize).sum::<usize>();
    let took = wait_until(
        "the applications log in",
        Duration::from_secs(120),
        || async {
            let counts = r.counts.read();
            let live = live(&counts);
            live.len() == pods && live.iter().all(|c| c.ok > 0)
        },
    )
    .await;
    eprintln!("{pods} application pods logging in after {took:?}");
}

/// A pod of app-client, on the real node, logging in to `db` with the
/// credential of Secret `secret` (keys `username`, `password`).
pub fn pod_template(app: &str, node: &Node, counts: &Counts, db: (u16, &str)) -> Value {
    let secret = |key: &str| json!({"secretKeyRef": {"name": "app-db", "key": key}});
    let field = |path: &str| json!({"fieldRef": {"fieldPath": path}});
    let mut spec = json!({
        "terminationGracePeriodSeconds": 5,
        "volumes": [{"name": "counts", "hostPath": {"path": counts.path(), "type": "Directory"}}],
        "containers": [{
            "name": "app",
            "image": node.app_image,
            "imagePullPolicy": "Never",
            "env": [
                {"name": "PGUSER", "valueFrom": secret("username")},
                {"name": "PGPASSWORD", "valueFrom": secret("password")},
                {"name": "PGHOST", "value": node.host},
                {"name": "PGPORT", "value": db.0.to_string()},
                {"name": "PGDATABASE", "value": db.1},
                {"name": "COUNT_DIR", "value": "/counts"},
                {"name": "POD_NAME", "valueFrom": field("metadata.name")},
                {"name": "POD_UID", "valueFrom": field("metadata.uid")},
            ],
            "volumeMounts": [{"name": "counts", "mountPath": "/counts"}],
        }],
    });
    merge(&mut spec, placement());
    json!({"metadata": {"labels": {"app": app}}, "spec": spec})
}

pub fn deployment(name: &str, replicas: i32, template: Value) -> Value {
    json!({
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
            "template": template,
        }
    })
}

pub fn stateful_set(name: &str, replicas: i32, template: Value) -> Value {
    json!({
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "serviceName": name,
            "selector": {"matchLabels": {"app": name}},
            "template": template,
        }
    })
}

/// Adds `extra`'s keys to the object `into`.
pub fn merge(into: &mut Value, extra: Value) {
    let into = into.as_object_mut().unwrap();
    for (k, v) in extra.as_object().unwrap() {
        into.insert(k.clone(), v.clone());
    }
}
