//! A Helm release of deploy/helm/seesaw on the real node, as an operator
//! installs it: the real image, the chart's ServiceAccount, Role and
//! RoleBinding, its config in the chart's ConfigMap, the admin password in
//! a Secret, the file store on a hostPath volume claimed through a PVC, and
//! a PostgreSQL of the test's own on this machine.

use crate::apps::Counts;
use crate::node::{must, placement, seesaw_image, Node};
use crate::support::kube::real::RealKube;
use crate::support::seesaw::{Target, ADMIN, ADMIN_PASSWORD, DB};
use k8s_openapi::api::core::v1::{Pod, Secret};
use kube::api::ListParams;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

pub const RELEASE: &str = "seesaw";
/// The lease duration the release runs with (the takeover bound).
pub const LEASE: Duration = Duration::from_secs(10);

pub struct Release {
    pub kube: RealKube,
    pub node: Node,
    pub t: Target,
    pub counts: Counts,
    /// The hostPath behind the PV that holds the file store.
    state: tempfile::TempDir,
    pv: String,
    /// When `helm install` returned.
    pub installed: Instant,
}

/// Polls `check` every 200 ms until it holds, failing with `what` after
/// `limit`.
pub async fn wait_until<F, Fut>(what: &str, limit: Duration, mut check: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    while !check().await {
        assert!(started.elapsed() < limit, "{what}: not after {limit:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    started.elapsed()
}

impl Release {
    /// Everything but seesaw itself: the database (admitting the node's
    /// pods), the store on a hostPath PV bound to the chart's claim, the
    /// admin password and app-db Secrets. `None` (skip) without a node.
    pub async fn prepare() -> Option<Release> {
        let node = Node::find()?;
        let kube = RealKube::connect().await?;
        // The target's database, admitting the node's pods (which come from
        // their own addresses through the node's DNAT to 127.0.0.1).
        let t = Target::new(["app_a", "app_b"]).await;
        let hba = t.cluster.dir().join("data/pg_hba.conf");
        let mut lines = std::fs::read_to_string(&hba).unwrap();
        lines += &format!("host all all {} scram-sha-256\n", node.pod_cidr);
        std::fs::write(&hba, lines).unwrap();
        t.cluster
            .superuser()
            .await
            .batch_execute("SELECT pg_reload_conf()")
            .await
            .unwrap();

        // The store, owned by the image's user (a hostPath gets no fsGroup).
        let state = tempfile::Builder::new()
            .prefix("seesaw-state-")
            .tempdir()
            .unwrap();
        let store = state.path().join("secret.json");
        std::fs::copy(&t.store, &store).unwrap();
        for p in [state.path(), store.as_path()] {
            std::os::unix::fs::chown(p, Some(65532), Some(65532)).unwrap();
        }
        let pv = format!("{}-state", kube.ns);
        let pv_yaml = json!({
            "apiVersion": "v1", "kind": "PersistentVolume",
            "metadata": {"name": pv},
            "spec": {
                "capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteMany"],
                "storageClassName": "", "persistentVolumeReclaimPolicy": "Retain",
                "claimRef": {"namespace": kube.ns, "name": "seesaw-state"},
                "hostPath": {"path": state.path(), "type": "Directory"},
            }
        });
        let pvc = json!({
            "apiVersion": "v1", "kind": "PersistentVolumeClaim",
            "metadata": {"name": "seesaw-state", "namespace": kube.ns},
            "spec": {"accessModes": ["ReadWriteMany"], "storageClassName": "", "volumeName": pv,
                     "resources": {"requests": {"storage": "1Gi"}}}
        });
        apply(
            &kube,
            &json!({"apiVersion": "v1", "kind": "List", "items": [pv_yaml, pvc]}),
        );
        kube.create::<Secret>(json!({"metadata": {"name": "seesaw-admin"}, "stringData": {"password": ADMIN_PASSWORD}}))
            .await;
        let (user, password) = t.login("current");
        kube.create::<Secret>(json!({"metadata": {"name": "app-db"}, "stringData": {"username": user, "password": password}}))
            .await;
        Some(Release {
            kube,
            node,
            t,
            counts: Counts::new(),
            state,
            pv,
            installed: Instant::now(),
        })
    }

    /// The store as seesaw in the pods keeps it.
    pub fn store(&self) -> PathBuf {
        self.state.path().join("secret.json")
    }

    /// The target's config, as the pods see it: the database at the node's
    /// gateway, the admin password from the mounted Secret, the store on
    /// the claim, the app-db Secret and `workloads` rolled out.
    pub fn target(&self, workloads: &[(&str, &str)]) -> Value {
        let ns = &self.kube.ns;
        let workloads: Vec<Value> = workloads
            .iter()
            .map(|(kind, name)| json!({"kind": kind, "name": name, "namespace": ns}))
            .collect();
        json!({
            "name": "demo",
            "database": {
                "engine": "postgres", "host": self.node.host, "port": self.t.cluster.port,
                "dbname": DB, "tls": "disable", "users": self.t.users,
                "admin": {"username": ADMIN, "password_file": "/etc/seesaw/admin/password"},
                "connect_timeout": "3s", "standby_sessions": "wait", "standby_wait_timeout": "30s",
            },
            "store": {"file": {"path": "/var/lib/seesaw/secret.json"}},
            "kubernetes": {
                "secrets": [{"name": "app-db", "namespace": ns,
                             "data": {"username": "{{ username }}", "password": "{{ password }}"}}],
                "workloads": workloads,
                "rollout": {"wait": true, "timeout": "120s"},
            },
        })
    }

    /// The chart's values: every minute (cron's fastest), no window, no
    /// minimum interval; RBAC for exactly the objects the target names.
    pub fn values(&self, replicas: i32, workloads: &[(&str, &str)]) -> Value {
        let (repository, tag) = seesaw_image();
        let names = |kind: &str| -> Vec<&str> {
            workloads
                .iter()
                .filter(|(k, _)| *k == kind)
                .map(|(_, n)| *n)
                .collect()
        };
        let mut values = json!({
            "image": {"repository": repository, "tag": tag, "pullPolicy": "Never"},
            "replicaCount": replicas,
            "caConfigMap": "",
            "rbac": {"secrets": ["app-db"], "deployments": names("Deployment"),
                     "statefulsets": names("StatefulSet")},
            "config": {
                "defaults": {"schedule": "* * * * *", "timezone": "UTC", "window": "0s", "min_interval": "0s"},
                "leader_election": {"enabled": "auto", "lease": "seesaw",
                                    "duration": format!("{}s", LEASE.as_secs())},
                "shutdown_timeout": "5s",
                "targets": [self.target(workloads)],
            },
        });
        crate::apps::merge(&mut values, placement());
        values
    }

    /// `helm install` with `values`, waiting until the Deployment is
    /// available (both pods Ready, through the chart's probes).
    pub fn install(&mut self, values: &Value) {
        let file = self.t.cluster.dir().join("values.json");
        std::fs::write(&file, values.to_string()).unwrap();
        let started = Instant::now();
        must(
            self.helm()
                .args(["install", RELEASE, "--namespace", &self.kube.ns, "--wait"])
                .args(["--timeout", "180s", "-f"])
                .arg(&file)
                .arg(format!("{}/deploy/helm/seesaw", env!("CARGO_MANIFEST_DIR"))),
        );
        self.installed = Instant::now();
        eprintln!("helm install --wait: {:?}", started.elapsed());
    }

    pub fn helm(&self) -> std::process::Command {
        let mut c = std::process::Command::new(self.kube.bin.join("helm"));
        c.arg("--kubeconfig").arg(&self.kube.kubeconfig);
        c
    }

    /// seesaw's pods (the release's, not yet being deleted).
    pub async fn pods(&self) -> Vec<Pod> {
        let selector = format!("app.kubernetes.io/instance={RELEASE}");
        let pods = self
            .kube
            .api::<Pod>()
            .list(&ListParams::default().labels(&selector))
            .await
            .unwrap()
            .items;
        pods.into_iter()
            .filter(|p| p.metadata.deletion_timestamp.is_none())
            .collect()
    }

    /// GET `path` on a pod's HTTP port (the host reaches pod addresses on
    /// the node's bridge): (status, body); `None` while it does not answer.
    pub async fn get(pod: &Pod, path: &str) -> Option<(u16, String)> {
        let ip = pod.status.as_ref()?.pod_ip.as_ref()?;
        let addr: SocketAddr = format!("{ip}:8080").parse().unwrap();
        tokio::net::TcpStream::connect(addr).await.ok()?;
        Some(crate::support::daemon::get(addr, path).await)
    }

    /// Rotations so far: each sets one password, as a SCRAM verifier.
    pub fn rotations(&self) -> usize {
        self.t
            .cluster
            .server_log()
            .lines()
            .filter(|l| l.contains("PASSWORD 'SCRAM-SHA-256$"))
            .count()
    }

    /// The store's `current` or `previous` (username, password).
    pub fn login(&self, which: &str) -> (String, String) {
        let doc = crate::support::seesaw::read_json(&self.store());
        crate::support::seesaw::login_in(&doc, which)
    }
}

/// `kubectl apply` of a JSON object (cluster-scoped ones included).
pub fn apply(kube: &RealKube, object: &Value) {
    let file = tempfile::Builder::new().suffix(".json").tempfile().unwrap();
    std::fs::write(file.path(), object.to_string()).unwrap();
    must(kube.kubectl().args(["apply", "-f"]).arg(file.path()));
}

impl Drop for Release {
    /// The namespace goes with RealKube; the PV is cluster-wide.
    fn drop(&mut self) {
        let _ = self
            .kube
            .kubectl()
            .args(["delete", "pv", &self.pv, "--wait=false"])
            .output();
    }
}
