//! A stateful fake of the Kubernetes API subset seesaw uses, served over
//! plain HTTP on loopback (no API server can be installed here).
//!
//! Follows the documented behaviour of the real API where seesaw can tell:
//! - namespaced GET / LIST / POST / PUT / PATCH / DELETE on any resource
//!   (secrets, events, deployments, statefulsets, daemonsets, leases), and
//!   WATCH of one object by a `metadata.name` field selector (`watch.rs`);
//! - `resourceVersion` on every object, bumped on each write; a PUT, or a
//!   PATCH that carries `metadata.resourceVersion`, with a stale one gets
//!   409 Conflict; POST of an existing name gets 409 AlreadyExists;
//! - 404 NotFound; 403 Forbidden for verbs/resources denied by the test's
//!   RBAC rules (message shaped like the real one); 422 Invalid for a bad
//!   name or Secret data that is not base64;
//! - Secrets: `stringData` folded into base64 `data`;
//! - PATCH: JSON merge patch (RFC 7386). Strategic merge and server-side
//!   apply are treated as merge patches too: a simplification, exact for
//!   the map-only patches seesaw sends (lists would be merged differently);
//! - `metadata.generation` bumps when a workload's spec changes; status is
//!   written by the rollout simulator (see `sim`).
//!
//! - `dryRun=All`: authorized and validated like the write, stored never;
//!   SelfSubjectAccessReviews answered from the same denied rules
//!   (`access.rs`).
//!
//! Failures can be injected (`inject`) to test retries; they hit real
//! writes only, never their dry runs.

mod access;
mod discovery;
mod merge;
mod objects;
pub mod real;
mod server;
pub mod sim;
pub mod suite;
mod watch;

use axum::routing::any;
use axum::Router;
use base64::Engine as _;
pub use objects::is_workload;
use objects::{admit, kind_of};
use serde_json::{json, Value};
use server::dispatch;
pub use server::Shared;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

pub type Key = (String, String, String); // (resource, namespace, name)

#[derive(Default)]
pub struct Inner {
    pub objects: BTreeMap<Key, Value>,
    rv: u64,
    pub(crate) denied: Vec<(String, String)>,
    injections: Vec<(String, String, u16, u32)>,
    /// Every request as "VERB resource name".
    pub requests: Vec<String>,
    /// Server-side apply field ownership: object -> field path -> manager.
    managed: BTreeMap<Key, BTreeMap<String, String>>,
    /// Namespaces that exist: a create elsewhere is 404, as on a real
    /// API server.
    pub namespaces: std::collections::BTreeSet<String>,
}

impl Inner {
    pub fn next_rv(&mut self) -> String {
        self.rv += 1;
        self.rv.to_string()
    }
}

pub struct FakeKube {
    pub url: String,
    pub state: Arc<Mutex<Inner>>,
    pub sim: Arc<sim::Simulator>,
    dir: tempfile::TempDir,
    server: tokio::task::JoinHandle<()>,
    sim_task: tokio::task::JoinHandle<()>,
}

impl Drop for FakeKube {
    fn drop(&mut self) {
        self.server.abort();
        self.sim_task.abort();
        self.sim.stop_all();
    }
}

impl FakeKube {
    /// Starts the server and its rollout simulator. Pods log in to
    /// `database` when given.
    pub async fn start(database: Option<sim::Database>) -> FakeKube {
        seesaw::install_crypto_provider();
        let state = Arc::new(Mutex::new(Inner {
            namespaces: ["default", "shop", "ops"].map(String::from).into(),
            ..Default::default()
        }));
        let shared = Arc::new(Shared {
            state: state.clone(),
        });
        let app = Router::new()
            .route("/{*path}", any(dispatch))
            .with_state(shared);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        let sim = Arc::new(sim::Simulator::new(state.clone(), database));
        let sim_task = tokio::spawn(sim.clone().run());
        let dir = tempfile::tempdir().unwrap();
        let fake = FakeKube {
            url,
            state,
            sim,
            dir,
            server,
            sim_task,
        };
        std::fs::write(fake.kubeconfig(), fake.kubeconfig_text()).unwrap();
        fake
    }

    fn kubeconfig_text(&self) -> String {
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: fake\n  cluster:\n    server: {}\nusers:\n- name: seesaw\n  user:\n    token: fake-token\ncontexts:\n- name: fake\n  context:\n    cluster: fake\n    user: seesaw\n    namespace: default\ncurrent-context: fake\n",
            self.url
        )
    }

    /// A kubeconfig pointing at this server (context `fake`).
    pub fn kubeconfig(&self) -> PathBuf {
        self.dir.path().join("kubeconfig")
    }

    pub fn deny(&self, verb: &str, resource: &str) {
        self.state
            .lock()
            .unwrap()
            .denied
            .push((verb.into(), resource.into()));
    }

    pub fn allow_all(&self) {
        self.state.lock().unwrap().denied.clear();
    }

    /// The next `times` requests of `verb` on `resource` fail with `code`.
    pub fn inject(&self, verb: &str, resource: &str, code: u16, times: u32) {
        self.state
            .lock()
            .unwrap()
            .injections
            .push((verb.into(), resource.into(), code, times));
    }

    pub fn requests(&self, prefix: &str) -> usize {
        self.state
            .lock()
            .unwrap()
            .requests
            .iter()
            .filter(|r| r.starts_with(prefix))
            .count()
    }

    pub fn get(&self, resource: &str, namespace: &str, name: &str) -> Option<Value> {
        self.state
            .lock()
            .unwrap()
            .objects
            .get(&(resource.into(), namespace.into(), name.into()))
            .cloned()
    }

    pub fn list(&self, resource: &str) -> Vec<Value> {
        self.state
            .lock()
            .unwrap()
            .objects
            .iter()
            .filter(|((r, _, _), _)| r == resource)
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// Writes an object directly, as another client would.
    pub fn put(&self, resource: &str, namespace: &str, mut obj: Value) {
        let mut inner = self.state.lock().unwrap();
        admit(resource, &mut obj).unwrap();
        let name = obj["metadata"]["name"].as_str().unwrap().to_owned();
        obj["metadata"]["namespace"] = Value::String(namespace.into());
        obj["metadata"]["resourceVersion"] = Value::String(inner.next_rv());
        obj["kind"] = Value::String(kind_of(resource).into());
        if is_workload(resource) && obj["metadata"]["generation"].is_null() {
            obj["metadata"]["generation"] = json!(1);
        }
        inner
            .objects
            .insert((resource.into(), namespace.into(), name), obj);
    }

    /// A Secret's data, decoded.
    pub fn secret_data(&self, namespace: &str, name: &str) -> BTreeMap<String, String> {
        let secret = self.get("secrets", namespace, name).expect("secret exists");
        secret["data"]
            .as_object()
            .map(|m| {
                m.iter()
                    .map(|(k, v)| {
                        let bytes = base64::engine::general_purpose::STANDARD
                            .decode(v.as_str().unwrap())
                            .unwrap();
                        (k.clone(), String::from_utf8(bytes).unwrap())
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// A workload whose pods read `secret` through envFrom, as most
    /// applications consume database credentials.
    pub fn workload(
        &self,
        resource: &str,
        namespace: &str,
        name: &str,
        replicas: i64,
        secret: Option<&str>,
    ) {
        let env_from = secret
            .map(|s| json!([{"secretRef": {"name": s}}]))
            .unwrap_or(json!([]));
        self.put(resource, namespace, json!({
            "apiVersion": "apps/v1",
            "metadata": {"name": name},
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": {"app": name}},
                "template": {
                    "metadata": {"labels": {"app": name}},
                    "spec": {"containers": [{"name": "app", "image": "app:1", "envFrom": env_from}]}
                }
            }
        }));
    }
}
