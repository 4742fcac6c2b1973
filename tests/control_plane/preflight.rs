//! The preflight on the real API server: every write a rotation will make
//! is tried without effect first (server-side dry runs, access reviews),
//! so a missing permission, an immutable Secret, a missing namespace or an
//! admission policy stops the run before the database, the store, the
//! Secret or a workload changes, and `check` says the same.

use crate::setup::{deployment, must, setup, token_kubeconfig, Setup};
use crate::support::seesaw::Run;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Secret;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The shipped Role, ServiceAccount and binding, moved to the test's
/// namespace; returns a kubeconfig with the ServiceAccount's token.
fn as_shipped_role(s: &Setup) -> PathBuf {
    let dir = env!("CARGO_MANIFEST_DIR");
    for f in [
        "00-serviceaccount.yaml",
        "01-role.yaml",
        "02-rolebinding.yaml",
    ] {
        let text = std::fs::read_to_string(format!("{dir}/deploy/kubernetes/{f}")).unwrap();
        apply(
            s,
            &text.replace("namespace: shop", &format!("namespace: {}", s.kube.ns)),
        );
    }
    let token = must(s.kube.kubectl().args([
        "create",
        "token",
        "seesaw",
        "-n",
        &s.kube.ns,
        "--duration=1h",
    ]));
    let kubeconfig = s.t.cluster.dir().join("seesaw-sa.kubeconfig");
    token_kubeconfig(&s.kube.kubeconfig, &token, &kubeconfig);
    kubeconfig
}

fn apply(s: &Setup, yaml: &str) -> String {
    let file = tempfile::Builder::new().suffix(".yaml").tempfile().unwrap();
    std::fs::write(file.path(), yaml).unwrap();
    must(s.kube.kubectl().args(["apply", "-f"]).arg(file.path()))
}

async fn as_seesaw(s: &Setup, kubeconfig: &Path, args: &[&str]) -> Run {
    let env = [
        ("KUBECONFIG", Some(kubeconfig.as_os_str())),
        ("KUBERNETES_SERVICE_HOST", None),
    ];
    s.t.seesaw_with(args, &env).await
}

/// One rule of the Role, by index, gets these verbs.
fn set_verbs(s: &Setup, rule: usize, verbs: &[&str]) {
    must(
        s.kube
            .kubectl()
            .args([
                "-n",
                &s.kube.ns,
                "patch",
                "role",
                "seesaw",
                "--type=json",
                "-p",
            ])
            .arg(
                json!([{"op": "replace", "path": format!("/rules/{rule}/verbs"), "value": verbs}])
                    .to_string(),
            ),
    );
}

/// Everything a refused rotation must leave as it was.
#[derive(Debug, PartialEq)]
struct Snapshot {
    store: Vec<u8>,
    secret: (Option<String>, Value),
    template: Value,
}

async fn snapshot(s: &Setup) -> Snapshot {
    let secret = s.kube.api::<Secret>().get("app-db").await.unwrap();
    let api = s.kube.api::<Deployment>().get("api").await.unwrap();
    Snapshot {
        store: std::fs::read(&s.t.store).unwrap(),
        secret: (secret.metadata.resource_version, json!(secret.data)),
        template: json!(api.spec.unwrap().template),
    }
}

/// `rotate` and `check` both refuse before any change and name `expected`;
/// both stored credentials still log in.
async fn refused(s: &Setup, kubeconfig: &Path, case: &str, expected: &[&str]) {
    let before = snapshot(s).await;
    let run = as_seesaw(s, kubeconfig, &["rotate", "demo", "--now"]).await;
    assert_eq!(
        run.code,
        3,
        "{case}: a refused write is a gate: {}",
        run.all()
    );
    for text in ["[writes]", "nothing was changed"].iter().chain(expected) {
        assert!(
            run.stderr.contains(text),
            "{case}: expected {text:?}: {}",
            run.stderr
        );
    }
    let check = as_seesaw(s, kubeconfig, &["check", "demo"]).await;
    assert_eq!(check.code, 1, "{case}: {}", check.all());
    assert!(
        check.stdout.contains("NOT OK") && check.stdout.contains("DENIED"),
        "{case}: {}",
        check.all()
    );
    for text in expected {
        assert!(
            check.stdout.contains(text),
            "{case}: check names {text:?}: {}",
            check.stdout
        );
    }
    assert_eq!(snapshot(s).await, before, "{case}: nothing may change");
    assert!(
        s.t.logs_in("current").await && s.t.logs_in("previous").await,
        "{case}"
    );
}

async fn rotates(s: &Setup, kubeconfig: &Path, case: &str) -> Run {
    let run = as_seesaw(s, kubeconfig, &["rotate", "demo", "--now"]).await;
    assert_eq!(
        run.code,
        0,
        "{case}: restored, the next rotation succeeds: {}",
        run.all()
    );
    let (user, password) = s.t.login("current");
    let data = s.kube.secret_data("app-db").await;
    assert_eq!(
        (&data["username"], &data["password"]),
        (&user, &password),
        "{case}"
    );
    run
}

#[tokio::test]
async fn a_refused_write_stops_the_rotation_before_any_change() {
    let Some(s) = setup(&[("Deployment", "api")]).await else {
        return;
    };
    s.kube.create::<Deployment>(deployment("api", 1)).await;
    s.settled(1).await;
    let kubeconfig = as_shipped_role(&s);
    rotates(&s, &kubeconfig, "the shipped Role").await;

    // Rule 0: the Secret (get, patch); rule 1: the Deployments (get,
    // patch, watch); rule 2: Events (create, patch).
    set_verbs(&s, 0, &["get"]);
    refused(
        &s,
        &kubeconfig,
        "no patch on the Secret",
        &[
            "patch secrets",
            "verbs: [\"patch\"], resourceNames: [\"app-db\"]",
        ],
    )
    .await;
    set_verbs(&s, 0, &["get", "patch"]);
    rotates(&s, &kubeconfig, "Secret patch restored").await;

    set_verbs(&s, 1, &["get", "watch"]);
    refused(
        &s,
        &kubeconfig,
        "no patch on the Deployment",
        &[
            "patch deployments",
            "resources: [\"deployments\"], verbs: [\"patch\"]",
        ],
    )
    .await;
    set_verbs(&s, 1, &["get", "patch"]);
    refused(
        &s,
        &kubeconfig,
        "no watch on the Deployment",
        &[
            "watch Deployment",
            "verbs: [\"watch\"], resourceNames: [\"api\"]",
        ],
    )
    .await;
    set_verbs(&s, 1, &["get", "patch", "watch"]);
    rotates(&s, &kubeconfig, "Deployment rule restored").await;

    // Events are best effort: the rotation goes on and warns.
    set_verbs(&s, 2, &["patch"]);
    let run = rotates(&s, &kubeconfig, "no create on Events").await;
    assert!(
        run.stdout.contains("warning: create Events in"),
        "{}",
        run.all()
    );
    set_verbs(&s, 2, &["create", "patch"]);

    // An immutable Secret: Kubernetes refuses any change to its data.
    must(s.kube.kubectl().args([
        "-n",
        &s.kube.ns,
        "patch",
        "secret",
        "app-db",
        "-p",
        r#"{"immutable": true}"#,
    ]));
    refused(&s, &kubeconfig, "an immutable Secret", &["immutable"]).await;
    let data = s.kube.secret_data("app-db").await;
    must(
        s.kube
            .kubectl()
            .args(["-n", &s.kube.ns, "delete", "secret", "app-db"]),
    );
    s.kube
        .create::<Secret>(json!({"metadata": {"name": "app-db"}, "stringData": data}))
        .await;
    rotates(&s, &kubeconfig, "the Secret made anew").await;
}

/// A ValidatingAdmissionPolicy (built into the API server) that refuses
/// updates of Secrets labelled `locked=true`: RBAC allows the patch, the
/// policy does not, and the message says which.
#[tokio::test]
async fn an_admission_policy_and_a_missing_namespace_stop_the_rotation_before_any_change() {
    let Some(s) = setup(&[("Deployment", "api")]).await else {
        return;
    };
    s.kube.create::<Deployment>(deployment("api", 1)).await;
    s.settled(1).await;
    let kubeconfig = s.kube.kubeconfig.clone();
    rotates(&s, &kubeconfig, "before the policy").await;
    let ns = s.kube.ns.clone();
    let name = format!("locked-{ns}");
    apply(
        &s,
        &format!(
            r#"
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {{name: {name}}}
spec:
  failurePolicy: Fail
  matchConstraints:
    resourceRules:
    - {{apiGroups: [""], apiVersions: ["v1"], operations: ["UPDATE"], resources: ["secrets"]}}
  validations:
  - expression: "!has(oldObject.metadata.labels) || !('locked' in oldObject.metadata.labels) || oldObject.metadata.labels['locked'] != 'true'"
    message: "Secrets labelled locked=true are not changed"
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {{name: {name}}}
spec:
  policyName: {name}
  validationActions: [Deny]
  matchResources:
    namespaceSelector: {{matchLabels: {{kubernetes.io/metadata.name: {ns}}}}}
"#
        ),
    );
    must(
        s.kube
            .kubectl()
            .args(["-n", &ns, "label", "secret", "app-db", "locked=true"]),
    );
    // The API server loads a new policy within a second or so.
    let mut enforced = false;
    for _ in 0..100 {
        let probe = s
            .kube
            .kubectl()
            .args([
                "-n",
                &ns,
                "annotate",
                "secret",
                "app-db",
                "probe=1",
                "--dry-run=server",
            ])
            .output()
            .unwrap();
        if !probe.status.success() {
            enforced = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(enforced, "the policy was never enforced");
    refused(
        &s,
        &kubeconfig,
        "a ValidatingAdmissionPolicy",
        &[
            "refused by admission control",
            "Secrets labelled locked=true are not changed",
        ],
    )
    .await;
    let run = as_seesaw(&s, &kubeconfig, &["rotate", "demo", "--now"]).await;
    assert!(
        !run.stderr.contains("Add to seesaw's Role"),
        "no RBAC rule helps: {}",
        run.stderr
    );
    must(
        s.kube
            .kubectl()
            .args(["delete", "validatingadmissionpolicybinding", &name]),
    );
    must(
        s.kube
            .kubectl()
            .args(["delete", "validatingadmissionpolicy", &name]),
    );
    let mut rotated = false;
    for _ in 0..50 {
        if as_seesaw(&s, &kubeconfig, &["rotate", "demo", "--now"])
            .await
            .code
            == 0
        {
            rotated = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(rotated, "the policy removed, the rotation succeeds");

    // A second Secret in a namespace that does not exist.
    let config = std::fs::read_to_string(&s.t.config).unwrap();
    let extra =
        format!("      secrets:\n        - name: elsewhere\n          namespace: nowhere-{ns}\n");
    std::fs::write(&s.t.config, config.replacen("      secrets:\n", &extra, 1)).unwrap();
    refused(
        &s,
        &kubeconfig,
        "a missing namespace",
        &["namespace nowhere-", "does not exist"],
    )
    .await;
    std::fs::write(&s.t.config, config).unwrap();
    rotates(&s, &kubeconfig, "the namespace dropped from the config").await;
}
