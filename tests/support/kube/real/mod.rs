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

mod agent;
mod kubelet;

// Every test binary compiles all of support; each uses only some of it.
#[allow(unused_imports)]
pub use self::{
    agent::{Agent, Logins},
    kubelet::{b64, credential},
};
use k8s_openapi::api::core::v1::{Namespace, Pod, Secret, ServiceAccount};
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use kube::core::NamespaceResourceScope;
use kube::Resource;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::fmt::Debug;
use std::path::PathBuf;
use std::time::Duration;

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
