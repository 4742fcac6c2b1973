//! One suite, two API servers: the Kubernetes behaviours seesaw relies on,
//! written once against the Kubernetes API and run against the fake
//! (tests/kubernetes/) and the real control plane (tests/control_plane/).
//! A case that passes on the real server and fails on the fake is a defect
//! of the fake, which the crash-point and injected-error tests rely on.

use crate::support::seesaw::{Run, Target};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Event, Secret};
use kube::api::{Api, PostParams};
use kube::core::NamespaceResourceScope;
use serde::de::DeserializeOwned;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::time::Duration;

/// The API server a case runs against: a client with full rights, the
/// kubeconfig seesaw is given, and the namespace the case works in.
pub struct Cluster {
    pub client: kube::Client,
    pub kubeconfig: PathBuf,
    pub ns: String,
}

const VERSION: &str = "seesaw.io/credential-version";

impl Cluster {
    fn api<K>(&self) -> Api<K>
    where
        K: kube::Resource<Scope = NamespaceResourceScope, DynamicType = ()>,
    {
        Api::namespaced(self.client.clone(), &self.ns)
    }

    async fn create<K>(&self, object: Value) -> K
    where
        K: kube::Resource<Scope = NamespaceResourceScope, DynamicType = ()>
            + Clone
            + DeserializeOwned
            + serde::Serialize
            + std::fmt::Debug,
    {
        let typed: K = serde_json::from_value(object).unwrap();
        self.api::<K>()
            .create(&PostParams::default(), &typed)
            .await
            .unwrap()
    }

    /// `seesaw` with this cluster's kubeconfig (never the in-cluster config).
    async fn seesaw(&self, t: &Target, args: &[&str]) -> Run {
        let env = [
            ("KUBECONFIG", Some(self.kubeconfig.as_os_str())),
            ("KUBERNETES_SERVICE_HOST", None),
        ];
        tokio::time::timeout(Duration::from_secs(90), t.seesaw_with(args, &env))
            .await
            .expect("seesaw never hangs on Kubernetes")
    }

    /// The target's `kubernetes:` section: Secret `app-db` in `secret_ns`,
    /// the Deployments `deployments` in this namespace, waited for.
    fn configure(&self, t: &Target, secret_ns: &str, deployments: &[&str]) {
        let config = std::fs::read_to_string(&t.config).unwrap();
        let config = match config.find("    kubernetes:") {
            Some(at) => config[..at].to_owned(),
            None => config,
        };
        let mut section = format!(
            "    kubernetes:\n      secrets:\n        - name: app-db\n          namespace: {secret_ns}\n      workloads:\n"
        );
        for name in deployments {
            section += &format!(
                "        - {{ kind: Deployment, name: {name}, namespace: {} }}\n",
                self.ns
            );
        }
        section += "      rollout: { wait: true, timeout: 60s }\n";
        std::fs::write(&t.config, format!("{config}{section}")).unwrap();
    }

    async fn seed_secret(&self, t: &Target, immutable: bool) {
        let (user, password) = t.login("current");
        self.create::<Secret>(json!({
            "metadata": {"name": "app-db"},
            "immutable": immutable,
            "stringData": {"username": user, "password": password},
        }))
        .await;
    }

    async fn secret(&self) -> Secret {
        self.api::<Secret>().get("app-db").await.unwrap()
    }
}

fn deployment(name: &str, paused: bool) -> Value {
    json!({
        "metadata": {"name": name},
        "spec": {
            "replicas": 1,
            "paused": paused,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{
                    "name": "app",
                    "image": "app:1",
                    "envFrom": [{"secretRef": {"name": "app-db"}}],
                }]},
            },
        },
    })
}

/// Who wrote the object, as its managedFields list them.
fn managers(meta: &kube::core::ObjectMeta) -> Vec<String> {
    meta.managed_fields
        .clone()
        .unwrap_or_default()
        .into_iter()
        .filter_map(|m| m.manager)
        .collect()
}

fn decoded(secret: &Secret, key: &str) -> String {
    let data = secret.data.as_ref().expect("the Secret has data");
    String::from_utf8(data[key].0.clone()).unwrap()
}

/// A rotation writes the new credential into the Secret as seesaw (its
/// field manager), marks the Secret and the Deployment's pod template with
/// the same version (the restart), and records an Event naming no password.
pub async fn a_rotation_writes_the_secret_rolls_and_records(c: &Cluster, t: &Target) {
    c.configure(t, &c.ns, &["api"]);
    c.seed_secret(t, false).await;
    c.create::<Deployment>(deployment("api", false)).await;
    let run = c.seesaw(t, &["rotate", "demo"]).await;
    assert_eq!(run.code, 0, "{}", run.all());

    let (user, password) = t.login("current");
    let secret = c.secret().await;
    assert_eq!(decoded(&secret, "username"), user);
    assert_eq!(decoded(&secret, "password"), password);
    let writers = managers(&secret.metadata);
    assert!(writers.iter().any(|m| m == "seesaw"), "{writers:?}");
    let version = secret.metadata.annotations.unwrap_or_default()[VERSION].clone();
    let d: Deployment = c.api().get("api").await.unwrap();
    let template = d.spec.unwrap().template.metadata.unwrap_or_default();
    assert_eq!(template.annotations.unwrap_or_default()[VERSION], version);

    let events = c
        .api::<Event>()
        .list(&Default::default())
        .await
        .unwrap()
        .items;
    assert!(
        events
            .iter()
            .any(|e| e.reason.as_deref() == Some("CredentialRotated")
                && e.involved_object.kind.as_deref() == Some("Secret")
                && e.involved_object.name.as_deref() == Some("app-db")),
        "no CredentialRotated Event on the Secret: {events:?}"
    );
    // Every write is seesaw's, the Recorder's Events too (it sends no
    // field manager; the client's user agent names it).
    for e in events
        .iter()
        .filter(|e| e.reason.as_deref() == Some("CredentialRotated"))
    {
        let writers = managers(&e.metadata);
        assert!(
            writers.iter().all(|m| m == "seesaw") && !writers.is_empty(),
            "{writers:?}"
        );
    }
    let (_, previous) = t.login("previous");
    for e in &events {
        let m = e.message.as_deref().unwrap_or_default();
        assert!(
            !m.contains(&password) && !m.contains(&previous),
            "an Event holds a password"
        );
    }
}

/// An immutable Secret stops the rotation before the database changes,
/// naming the Secret and the way out.
pub async fn an_immutable_secret_is_named_and_nothing_changes(c: &Cluster, t: &Target) {
    c.configure(t, &c.ns, &[]);
    c.seed_secret(t, true).await;
    let before = t.login("current");
    let run = c.seesaw(t, &["rotate", "demo"]).await;
    assert_eq!(run.code, 1, "{}", run.all());
    let named = format!("secret {}/app-db is immutable", c.ns);
    assert!(run.stderr.contains(&named), "{}", run.stderr);
    assert!(run.stderr.contains("Delete it"), "{}", run.stderr);
    assert_eq!(t.login("current"), before);
    assert!(t.logs_in("current").await);
    assert_eq!(decoded(&c.secret().await, "password"), before.1);
}

/// A paused Deployment is reported, not restarted (it rolls when resumed)
/// and not waited for.
pub async fn a_paused_deployment_is_reported_not_restarted(c: &Cluster, t: &Target) {
    c.configure(t, &c.ns, &["paused"]);
    c.seed_secret(t, false).await;
    c.create::<Deployment>(deployment("paused", true)).await;
    let run = c.seesaw(t, &["rotate", "demo"]).await;
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(run.all().contains("paused, not restarted"), "{}", run.all());
    let d: Deployment = c.api().get("paused").await.unwrap();
    let template = d.spec.unwrap().template.metadata.unwrap_or_default();
    assert!(
        !template
            .annotations
            .unwrap_or_default()
            .contains_key(VERSION),
        "a paused Deployment must not be annotated"
    );
}

/// A Secret in a namespace that does not exist: a clear error naming it,
/// before the database changes.
pub async fn a_missing_namespace_is_named_and_nothing_changes(c: &Cluster, t: &Target) {
    c.configure(t, "nowhere", &[]);
    let before = t.login("current");
    let run = c.seesaw(t, &["rotate", "demo"]).await;
    assert_ne!(run.code, 0, "{}", run.all());
    assert!(run.stderr.contains("nowhere"), "{}", run.stderr);
    assert_eq!(t.login("current"), before);
    assert!(t.logs_in("current").await);
}
