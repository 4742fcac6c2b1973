//! The shipped Kubernetes manifests: kubectl accepts them (client-side dry
//! run against the fake API server, when kubectl is installed), the config
//! in the ConfigMap is valid, and the Role grants exactly what seesaw uses
//! on the Secrets and workloads that config names.

mod support;

use seesaw::config::{Config, WorkloadKind};
use serde_yaml_ng::Value;
use std::path::Path;

fn documents() -> Vec<Value> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/kubernetes");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let mut docs = Vec::new();
    for f in files
        .iter()
        .filter(|f| f.extension().is_some_and(|e| e == "yaml"))
    {
        let text = std::fs::read_to_string(f).unwrap();
        for doc in serde_yaml_ng::Deserializer::from_str(&text) {
            docs.push(Value::deserialize(doc).unwrap_or_else(|e| panic!("{}: {e}", f.display())));
        }
    }
    docs
}

use serde::Deserialize;

fn find<'a>(docs: &'a [Value], kind: &str) -> Vec<&'a Value> {
    docs.iter()
        .filter(|d| d["kind"].as_str() == Some(kind))
        .collect()
}

fn strings(v: &Value) -> Vec<String> {
    v.as_sequence()
        .map(|s| {
            s.iter()
                .filter_map(|x| x.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn the_configmap_holds_a_valid_config_and_the_role_covers_it() {
    let docs = documents();
    let cm = find(&docs, "ConfigMap")[0];
    let text = cm["data"]["seesaw.yaml"].as_str().unwrap();
    let config = Config::parse(
        text,
        "configmap seesaw-config",
        Path::new("/etc/seesaw/config"),
    )
    .expect("the shipped config is valid");
    let role = find(&docs, "Role")[0];
    let rules = role["rules"].as_sequence().unwrap();
    // As Kubernetes matches: `resourceNames` restricts only requests that
    // name an object, so a rule with it never authorizes a create; a list
    // or watch names one by a metadata.name field selector (seesaw's do).
    let allows = |group: &str, resource: &str, verb: &str, name: &str| {
        let named = !matches!(verb, "create" | "deletecollection");
        rules.iter().any(|r| {
            strings(&r["apiGroups"]).contains(&group.to_string())
                && strings(&r["resources"]).contains(&resource.to_string())
                && strings(&r["verbs"]).contains(&verb.to_string())
                && (r["resourceNames"].is_null()
                    || (named && strings(&r["resourceNames"]).contains(&name.to_string())))
        })
    };
    for t in &config.targets {
        let k = t.kubernetes.as_ref().unwrap();
        for s in &k.secrets {
            for verb in ["get", "patch"] {
                assert!(
                    allows("", "secrets", verb, &s.name),
                    "Role lacks {verb} on secret {}",
                    s.name
                );
            }
        }
        for w in &k.workloads {
            let resource = match w.kind {
                WorkloadKind::Deployment => "deployments",
                WorkloadKind::StatefulSet => "statefulsets",
                WorkloadKind::DaemonSet => "daemonsets",
            };
            for verb in ["get", "patch", "watch"] {
                assert!(
                    allows("apps", resource, verb, &w.name),
                    "Role lacks {verb} on {w}"
                );
            }
        }
    }
    for verb in ["create", "patch"] {
        assert!(
            allows("events.k8s.io", "events", verb, "x"),
            "Role lacks {verb} on events"
        );
    }
    for verb in ["get", "patch", "create"] {
        assert!(
            allows("coordination.k8s.io", "leases", verb, "seesaw"),
            "Role lacks {verb} on the Lease"
        );
    }
    // The daemon: replicas for leader election, probes on the HTTP endpoints.
    let d = find(&docs, "Deployment")[0];
    assert!(d["spec"]["replicas"].as_u64().unwrap() >= 2);
    let c = &d["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(
        c["livenessProbe"]["httpGet"]["path"].as_str(),
        Some("/healthz")
    );
    assert_eq!(
        c["readinessProbe"]["httpGet"]["path"].as_str(),
        Some("/readyz")
    );
    assert!(strings(&c["args"]).contains(&"run".to_string()));
    assert_eq!(
        config.daemon.leader_election.lease.as_deref(),
        Some("seesaw")
    );
    assert!(!find(&docs, "PodDisruptionBudget").is_empty());
    // Least privilege: no wildcard, no list/watch/delete on Secrets.
    for r in rules {
        assert!(!strings(&r["verbs"]).contains(&"*".to_string()));
        if strings(&r["resources"]).contains(&"secrets".to_string()) {
            assert!(
                !r["resourceNames"].is_null(),
                "Secret access must be limited by resourceNames"
            );
            for verb in ["list", "watch", "delete"] {
                assert!(!strings(&r["verbs"]).contains(&verb.to_string()));
            }
        }
    }
}

#[tokio::test]
async fn kubectl_accepts_the_manifests() {
    if std::process::Command::new("kubectl")
        .arg("version")
        .arg("--client")
        .output()
        .is_err()
    {
        // .ci/run builds kubectl with the test control plane (tests/kube/control-plane) and puts
        // it on PATH, so in CI this must not be skipped.
        assert!(std::env::var_os("CI").is_none(), "kubectl is missing in CI");
        eprintln!("kubectl is not installed; the YAML was checked by the other test only");
        return;
    }
    let kube = support::kube::FakeKube::start(None).await;
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/kubernetes");
    let out = tokio::process::Command::new("kubectl")
        .args(["apply", "--dry-run=client", "--validate=false", "-k"])
        .arg(&dir)
        .env("KUBECONFIG", kube.kubeconfig())
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "kubectl: {}{}",
        stdout,
        String::from_utf8_lossy(&out.stderr)
    );
    for kind in [
        "serviceaccount/seesaw",
        "role.rbac.authorization.k8s.io/seesaw",
        "configmap/seesaw-config",
        "rolebinding.rbac.authorization.k8s.io/seesaw",
        "deployment.apps/seesaw",
        "poddisruptionbudget.policy/seesaw",
    ] {
        assert!(
            stdout.contains(kind),
            "kubectl did not take {kind}: {stdout}"
        );
    }
}
