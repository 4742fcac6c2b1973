//! The real control plane (`tests/kube/control-plane up DIR`: etcd,
//! kube-apiserver, controller-manager, scheduler and kwok), found through
//! `SEESAW_KUBECONFIG`, plus a pod agent that makes its pods log in.
//!
//! Each test gets its own namespace. The agent watches the Pods there and,
//! for each pod that becomes Running, resolves the credential the pod got
//! at its start the way the kubelet does (env `secretKeyRef`, `envFrom` and
//! Secret volumes of every container), then, until the pod is deleted,
//! holds one session open (a connection pool) and logs in anew every
//! 100 ms, counting the logins that fail.

use base64::Engine as _;
use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::{Namespace, Pod, PodSpec, Secret, ServiceAccount};
use kube::api::{Api, DeleteParams, ListParams, PostParams, WatchEvent, WatchParams};
use kube::core::NamespaceResourceScope;
use kube::Resource;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
use std::fmt::Debug;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const LOGIN_INTERVAL: Duration = Duration::from_millis(100);

pub struct RealKube {
    pub client: kube::Client,
    /// The cluster-admin kubeconfig `up` wrote.
    pub kubeconfig: PathBuf,
    /// The binaries directory (kubectl, helm).
    pub bin: PathBuf,
    pub ns: String,
}

/// Where the database the pods log in to listens.
#[derive(Clone)]
pub struct Database {
    pub port: u16,
    pub dbname: String,
}

impl RealKube {
    /// Connects to the running control plane and creates a fresh namespace;
    /// `None` outside CI when none runs (CI fails instead).
    pub async fn connect() -> Option<RealKube> {
        let Some(path) = std::env::var_os("SEESAW_KUBECONFIG").map(PathBuf::from) else {
            assert!(
                std::env::var_os("CI").is_none(),
                "SEESAW_KUBECONFIG is not set in CI: .ci/run starts the control plane with tests/kube/control-plane up"
            );
            eprintln!("skipped: no control plane (run tests/kube/control-plane up DIR and export the variables in DIR/env)");
            return None;
        };
        seesaw::install_crypto_provider();
        let file = kube::config::Kubeconfig::read_from(&path).expect("read SEESAW_KUBECONFIG");
        let config = kube::Config::from_custom_kubeconfig(file, &Default::default())
            .await
            .expect("kubeconfig");
        let client = kube::Client::try_from(config).expect("client");
        let ns = format!("t-{:08x}", rand::random::<u32>());
        let real = RealKube {
            client,
            kubeconfig: path,
            bin: std::env::var_os("SEESAW_KUBE_BIN")
                .map(PathBuf::from)
                .unwrap_or_default(),
            ns,
        };
        real.create_namespace(&real.ns.clone()).await;
        Some(real)
    }

    /// Moves to namespace `name` (created if missing): for the tests of the
    /// shipped manifests, which name theirs.
    pub async fn use_namespace(&mut self, name: &str) {
        self.create_namespace(name).await;
        self.ns = name.to_owned();
    }

    /// Creates `name` and waits for its `default` ServiceAccount (pods
    /// are refused until the controller-manager made it).
    pub async fn create_namespace(&self, name: &str) {
        let api: Api<Namespace> = Api::all(self.client.clone());
        let ns: Namespace = serde_json::from_value(json!({"metadata": {"name": name}})).unwrap();
        match api.create(&PostParams::default(), &ns).await {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.code == 409 => {}
            Err(e) => panic!("create namespace {name}: {e}"),
        }
        let sa: Api<ServiceAccount> = Api::namespaced(self.client.clone(), name);
        for _ in 0..300 {
            if sa.get_opt("default").await.unwrap().is_some() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("namespace {name} got no default ServiceAccount in 30 s: is kube-controller-manager running?");
    }

    pub fn api<K>(&self) -> Api<K>
    where
        K: Resource<Scope = NamespaceResourceScope>,
        <K as Resource>::DynamicType: Default,
    {
        Api::namespaced(self.client.clone(), &self.ns)
    }

    /// Creates an object of type `K` in the test namespace from JSON.
    pub async fn create<K>(&self, object: Value) -> K
    where
        K: Resource<Scope = NamespaceResourceScope> + Clone + Debug + DeserializeOwned + Serialize,
        <K as Resource>::DynamicType: Default,
    {
        let object: K = serde_json::from_value(object).expect("object");
        self.api::<K>()
            .create(&PostParams::default(), &object)
            .await
            .unwrap_or_else(|e| panic!("create {:?}: {e}", object.meta().name))
    }

    /// The decoded data of a Secret in the test namespace.
    pub async fn secret_data(&self, name: &str) -> BTreeMap<String, String> {
        let s: Secret = self.api().get(name).await.expect("get secret");
        decode(&s)
    }

    pub async fn delete_pods(&self, selector: &str) {
        let api: Api<Pod> = self.api();
        api.delete_collection(
            &DeleteParams::default(),
            &ListParams::default().labels(selector),
        )
        .await
        .expect("delete pods");
    }

    /// `kubectl` against this control plane, with the admin kubeconfig.
    pub fn kubectl(&self) -> std::process::Command {
        let mut c = std::process::Command::new(self.bin.join("kubectl"));
        c.arg("--kubeconfig").arg(&self.kubeconfig);
        c
    }
}

impl Drop for RealKube {
    /// The namespace goes with the test (its pods would otherwise fill the
    /// fake nodes over a run); `shop`, which the manifests name, stays.
    fn drop(&mut self) {
        if self.ns.starts_with("t-") {
            let _ = self
                .kubectl()
                .args(["delete", "namespace", &self.ns, "--wait=false"])
                .output();
        }
    }
}

fn decode(s: &Secret) -> BTreeMap<String, String> {
    s.data
        .clone()
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| (k, String::from_utf8_lossy(&v.0).into_owned()))
        .collect()
}

/// Counts of the pods' logins.
#[derive(Default)]
pub struct Logins {
    pub ok: AtomicU64,
    pub failed: AtomicU64,
    /// "pod: user: error" for each failed login (the first 20).
    pub failures: Mutex<Vec<String>>,
    /// Pods with a login loop now.
    pub running: AtomicU64,
}

impl Logins {
    pub fn ok(&self) -> u64 {
        self.ok.load(Ordering::SeqCst)
    }
    pub fn failed(&self) -> u64 {
        self.failed.load(Ordering::SeqCst)
    }
    pub fn running(&self) -> u64 {
        self.running.load(Ordering::SeqCst)
    }
    pub fn failures(&self) -> Vec<String> {
        self.failures.lock().unwrap().clone()
    }
    fn fail(&self, what: String) {
        self.failed.fetch_add(1, Ordering::SeqCst);
        let mut f = self.failures.lock().unwrap();
        if f.len() < 20 {
            f.push(what);
        }
    }
}

pub struct Agent {
    pub logins: Arc<Logins>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Agent {
    fn drop(&mut self) {
        self.task.abort();
    }
}

struct PodLoop {
    alive: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl Agent {
    pub fn start(kube: &RealKube, db: Database) -> Agent {
        let logins = Arc::new(Logins::default());
        let api: Api<Pod> = kube.api();
        let secrets: Api<Secret> = kube.api();
        let task = tokio::spawn(watch(api, secrets, db, logins.clone()));
        Agent { logins, task }
    }
}

async fn watch(api: Api<Pod>, secrets: Api<Secret>, db: Database, logins: Arc<Logins>) {
    let mut pods: HashMap<String, PodLoop> = HashMap::new();
    loop {
        // List, then watch from the list's resourceVersion; start over when
        // the watch ends or its version expired (410).
        let list = match api.list(&ListParams::default()).await {
            Ok(l) => l,
            Err(e) => {
                eprintln!("pod agent: list pods: {e}");
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
        };
        let mut rv = list.metadata.resource_version.clone().unwrap_or_default();
        let listed: Vec<String> = list
            .items
            .iter()
            .filter_map(|p| p.metadata.uid.clone())
            .collect();
        pods.retain(|uid, l| {
            let keep = listed.contains(uid);
            if !keep {
                stop(l, &logins);
            }
            keep
        });
        for pod in list.items {
            observe(&mut pods, pod, false, &secrets, &db, &logins);
        }
        let params = WatchParams::default().timeout(290);
        let stream = match api.watch(&params, &rv).await {
            Ok(s) => s,
            Err(e) => {
                eprintln!("pod agent: watch pods: {e}");
                continue;
            }
        };
        let mut stream = stream.boxed();
        while let Ok(Some(event)) = stream.try_next().await {
            match event {
                WatchEvent::Added(p) | WatchEvent::Modified(p) => {
                    rv = p.metadata.resource_version.clone().unwrap_or(rv);
                    observe(&mut pods, p, false, &secrets, &db, &logins);
                }
                WatchEvent::Deleted(p) => observe(&mut pods, p, true, &secrets, &db, &logins),
                WatchEvent::Bookmark(_) => {}
                WatchEvent::Error(_) => break,
            }
        }
    }
}

fn stop(l: &PodLoop, logins: &Logins) {
    if l.alive.swap(false, Ordering::SeqCst) {
        logins.running.fetch_sub(1, Ordering::SeqCst);
    }
    l.task.abort();
}

fn observe(
    pods: &mut HashMap<String, PodLoop>,
    pod: Pod,
    deleted: bool,
    secrets: &Api<Secret>,
    db: &Database,
    logins: &Arc<Logins>,
) {
    let Some(uid) = pod.metadata.uid.clone() else {
        return;
    };
    // A pod being deleted is gone for the agent: kwok deletes with a grace
    // period of 0, so its process would be dead already.
    if deleted || pod.metadata.deletion_timestamp.is_some() {
        if let Some(l) = pods.remove(&uid) {
            stop(&l, logins);
        }
        return;
    }
    let running = pod.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running");
    if !running || pods.contains_key(&uid) {
        return;
    }
    let alive = Arc::new(AtomicBool::new(true));
    logins.running.fetch_add(1, Ordering::SeqCst);
    let name = pod.metadata.name.clone().unwrap_or_default();
    let spec = pod.spec.clone().unwrap_or_default();
    let task = tokio::spawn(pod_loop(
        name,
        spec,
        secrets.clone(),
        db.clone(),
        logins.clone(),
        alive.clone(),
    ));
    pods.insert(uid, PodLoop { alive, task });
}

async fn pod_loop(
    name: String,
    spec: PodSpec,
    secrets: Api<Secret>,
    db: Database,
    logins: Arc<Logins>,
    alive: Arc<AtomicBool>,
) {
    let (user, password) = match credential(&spec, &secrets).await {
        Ok(c) => c,
        Err(e) => {
            logins.fail(format!("{name}: cannot start: {e}"));
            return;
        }
    };
    let mut config = tokio_postgres::Config::new();
    config
        .host("127.0.0.1")
        .port(db.port)
        .user(&user)
        .password(&password)
        .dbname(&db.dbname)
        .application_name(&name)
        .connect_timeout(Duration::from_secs(5));
    let connect = || config.connect(tokio_postgres::NoTls);
    // The pool's long-lived session: it is what the standby-sessions gate
    // sees while this pod runs.
    let _pool = match connect().await {
        Ok((client, conn)) => {
            tokio::spawn(conn);
            Some(client)
        }
        Err(e) => {
            if alive.load(Ordering::SeqCst) {
                logins.fail(format!("{name}: {user}: {e}"));
            }
            None
        }
    };
    loop {
        if !alive.load(Ordering::SeqCst) {
            return;
        }
        match connect().await {
            Ok((client, conn)) => {
                let conn = tokio::spawn(conn);
                let worked = client.query_one("SELECT 1", &[]).await;
                drop(client);
                let _ = conn.await;
                match worked {
                    Ok(_) => {
                        logins.ok.fetch_add(1, Ordering::SeqCst);
                    }
                    Err(e) if alive.load(Ordering::SeqCst) => {
                        logins.fail(format!("{name}: {user}: {e}"))
                    }
                    Err(_) => return,
                }
            }
            Err(e) if alive.load(Ordering::SeqCst) => logins.fail(format!("{name}: {user}: {e}")),
            Err(_) => return,
        }
        tokio::time::sleep(LOGIN_INTERVAL).await;
    }
}

/// The username and password a container of `spec` sees, resolved as the
/// kubelet does at container start: env `secretKeyRef`, `envFrom`
/// `secretRef` (with its prefix) and Secret volumes mounted by the
/// container, across every container. Names looked for: `username` /
/// `PGUSER` and `password` / `PGPASSWORD` (env names or file names).
pub async fn credential(spec: &PodSpec, secrets: &Api<Secret>) -> Result<(String, String), String> {
    let mut cache: HashMap<String, BTreeMap<String, String>> = HashMap::new();
    let mut seen: BTreeMap<String, String> = BTreeMap::new();
    let volumes: HashMap<String, (String, Option<Files>)> = spec
        .volumes
        .clone()
        .unwrap_or_default()
        .into_iter()
        .filter_map(|v| {
            let s = v.secret?;
            let items = s
                .items
                .map(|items| items.into_iter().map(|i| (i.key, i.path)).collect());
            Some((v.name, (s.secret_name?, items)))
        })
        .collect();
    for c in &spec.containers {
        for e in c.env_from.clone().unwrap_or_default() {
            if let Some(r) = e.secret_ref {
                let data = fetch(secrets, &mut cache, &r.name).await?;
                let prefix = e.prefix.unwrap_or_default();
                for (k, v) in data {
                    seen.insert(format!("{prefix}{k}"), v);
                }
            }
        }
        for e in c.env.clone().unwrap_or_default() {
            let Some(r) = e.value_from.and_then(|v| v.secret_key_ref) else {
                continue;
            };
            let data = fetch(secrets, &mut cache, &r.name).await?;
            let v = data
                .get(&r.key)
                .ok_or_else(|| format!("secret {} has no key {}", r.name, r.key))?;
            seen.insert(e.name, v.clone());
        }
        for m in c.volume_mounts.clone().unwrap_or_default() {
            let Some((secret, items)) = volumes.get(&m.name) else {
                continue;
            };
            let data = fetch(secrets, &mut cache, secret).await?;
            let files: Vec<(String, String)> = match items {
                Some(items) => items.clone(),
                None => data.keys().map(|k| (k.clone(), k.clone())).collect(),
            };
            for (key, path) in files {
                if let Some(v) = data.get(&key) {
                    seen.insert(path, v.clone());
                }
            }
        }
    }
    let pick = |names: &[&str]| names.iter().find_map(|n| seen.get(*n).cloned());
    let user = pick(&["username", "PGUSER"]).ok_or("no username in the pod's env or volumes")?;
    let password =
        pick(&["password", "PGPASSWORD"]).ok_or("no password in the pod's env or volumes")?;
    Ok((user, password))
}

/// A Secret volume's `items`: (key, file name) pairs.
type Files = Vec<(String, String)>;

async fn fetch(
    secrets: &Api<Secret>,
    cache: &mut HashMap<String, BTreeMap<String, String>>,
    name: &str,
) -> Result<BTreeMap<String, String>, String> {
    if let Some(d) = cache.get(name) {
        return Ok(d.clone());
    }
    let data = secrets
        .get(name)
        .await
        .map(|s| decode(&s))
        .map_err(|e| format!("secret {name}: {e}"))?;
    cache.insert(name.to_owned(), data.clone());
    Ok(data)
}

/// Kubernetes' base64 for a Secret's `data`.
pub fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}
