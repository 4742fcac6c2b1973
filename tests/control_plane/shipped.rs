//! What seesaw ships for Kubernetes (the Role, the manifests and the Helm
//! chart) against the real API server, RBAC really enforced.

use crate::setup::{deployment, must, setup, token_kubeconfig};
use crate::support::kube::real::RealKube;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Event, Secret};
use serde_json::{json, Value};

/// `kubectl apply --dry-run=server` of rendered manifests, in `shop`.
fn server_dry_run(kube: &RealKube, yaml: &str) -> String {
    let file = tempfile::Builder::new().suffix(".yaml").tempfile().unwrap();
    std::fs::write(file.path(), yaml).unwrap();
    must(
        kube.kubectl()
            .args(["apply", "--dry-run=server", "-n", "shop", "-f"])
            .arg(file.path()),
    )
}

/// The rule a Forbidden error tells the operator to add, as JSON.
/// The rules a Forbidden error tells the operator to add, as JSON (the
/// preflight names every refused write at once).
fn hinted_rules(stderr: &str) -> Vec<Value> {
    let mut rules = Vec::new();
    for (at, _) in stderr.match_indices("Add to seesaw's Role: ") {
        let start = at + 22;
        let end = start + stderr[start..].find('}').unwrap() + 1;
        let rule =
            serde_yaml_ng::from_str(&stderr[start..end]).expect("the hinted rule parses as YAML");
        if !rules.contains(&rule) {
            rules.push(rule);
        }
    }
    assert!(!rules.is_empty(), "a rule in the error: {stderr}");
    rules
}

/// seesaw with the identity the shipped manifests give it (a
/// ServiceAccount token from TokenRequest, bound by the shipped Role)
/// rotates; with a rule removed it names the rule, and the rule it names
/// is one Kubernetes authorizes (adding exactly it fixes the run).
#[tokio::test]
async fn the_shipped_role_allows_exactly_what_seesaw_does() {
    let Some(mut s) = setup(&[]).await else {
        return;
    };
    s.kube.use_namespace("shop").await;
    let dir = env!("CARGO_MANIFEST_DIR");
    for f in [
        "00-serviceaccount.yaml",
        "01-role.yaml",
        "02-rolebinding.yaml",
    ] {
        must(
            s.kube
                .kubectl()
                .args(["apply", "-f"])
                .arg(format!("{dir}/deploy/kubernetes/{f}")),
        );
    }
    let secrets = s.kube.api::<Secret>();
    let _ = secrets.delete("app-db", &Default::default()).await;
    let (user, password) = s.t.login("current");
    s.kube
        .create::<Secret>(json!({"metadata": {"name": "app-db"}, "stringData": {"username": user, "password": password}}))
        .await;
    for name in ["api", "worker"] {
        let _ = s
            .kube
            .api::<Deployment>()
            .delete(name, &Default::default())
            .await;
        s.kube.create::<Deployment>(deployment(name, 1)).await;
    }
    s.list("shop", &[("Deployment", "api"), ("Deployment", "worker")]);
    let token =
        must(
            s.kube
                .kubectl()
                .args(["create", "token", "seesaw", "-n", "shop", "--duration=1h"]),
        );
    let kubeconfig = s.t.cluster.dir().join("seesaw-sa.kubeconfig");
    token_kubeconfig(&s.kube.kubeconfig, &token, &kubeconfig);
    let as_seesaw = |args: Vec<&'static str>| {
        let env = [
            ("KUBECONFIG", Some(kubeconfig.as_os_str().to_owned())),
            ("KUBERNETES_SERVICE_HOST", None),
        ];
        let t = &s.t;
        async move {
            let env: Vec<(&str, Option<&std::ffi::OsStr>)> =
                env.iter().map(|(k, v)| (*k, v.as_deref())).collect();
            t.seesaw_with(&args, &env).await
        }
    };

    let rotated = |events: Vec<Event>| {
        events
            .iter()
            .filter(|e| e.reason.as_deref() == Some("CredentialRotated"))
            .count()
    };
    let before = rotated(s.events().await);
    let run = as_seesaw(vec!["rotate", "demo", "--now"]).await;
    assert_eq!(run.code, 0, "with the shipped Role: {}", run.all());
    // The Events rule fits kube's Recorder (events.k8s.io): the Secret's
    // and both Deployments' Events were recorded as the ServiceAccount.
    assert!(
        !run.all().contains("could not record a Kubernetes Event"),
        "{}",
        run.all()
    );
    assert_eq!(rotated(s.events().await), before + 3, "{}", run.all());

    // Take away the workloads rule: the error names the rules; add exactly
    // what it names until the rotation passes: get, patch and watch (by
    // name, through a metadata.name field selector) of each Deployment.
    // The reads fail first (exit 1); the preflight then names every
    // refused write at once, before any change (a gate: exit 3).
    must(s.kube.kubectl().args([
        "-n",
        "shop",
        "patch",
        "role",
        "seesaw",
        "--type=json",
        "-p",
        r#"[{"op": "remove", "path": "/rules/1"}]"#,
    ]));
    let mut added = Vec::new();
    loop {
        let run = as_seesaw(vec!["rotate", "demo", "--now"]).await;
        if run.code == 0 {
            break;
        }
        assert!(run.code == 1 || run.code == 3, "{}", run.all());
        assert!(run.stderr.contains("forbidden"), "{}", run.stderr);
        assert!(s.t.logs_in("current").await && s.t.logs_in("previous").await);
        for rule in hinted_rules(&run.stderr) {
            assert!(
                added.len() < 6 && !added.contains(&rule),
                "the hint does not converge: {added:?} then {rule}"
            );
            must(
                s.kube
                    .kubectl()
                    .args(["-n", "shop", "patch", "role", "seesaw", "--type=json", "-p"])
                    .arg(json!([{"op": "add", "path": "/rules/-", "value": rule}]).to_string()),
            );
            added.push(rule);
        }
    }
    assert!(
        !added.is_empty(),
        "removing the rule must have failed the rotation"
    );
    assert!(s.t.logs_in("current").await && s.t.logs_in("previous").await);
    // Back to the shipped Role: a rollout that is done at its first read
    // is never watched, so the rules added above can lack a watch that a
    // later, slower rollout needs.
    must(
        s.kube
            .kubectl()
            .args(["replace", "-f"])
            .arg(format!("{dir}/deploy/kubernetes/01-role.yaml")),
    );

    // A missing Secret: the shipped Role cannot create it (create cannot be
    // limited to a name); the preflight refuses before any change and
    // says how to create it first.
    secrets.delete("app-db", &Default::default()).await.unwrap();
    let before = std::fs::read(&s.t.store).unwrap();
    let run = as_seesaw(vec!["rotate", "demo", "--now"]).await;
    assert_eq!(run.code, 3, "{}", run.all());
    assert_eq!(std::fs::read(&s.t.store).unwrap(), before);
    assert!(
        run.stderr
            .contains("kubectl create secret generic app-db -n shop"),
        "{}",
        run.stderr
    );
    assert!(
        !run.stderr.contains("verbs: [\"create\"], resourceNames"),
        "{}",
        run.stderr
    );
    must(
        s.kube
            .kubectl()
            .args(["-n", "shop", "create", "secret", "generic", "app-db"]),
    );
    let run = as_seesaw(vec!["rotate", "demo", "--now"]).await;
    assert_eq!(run.code, 0, "{}", run.all());
    let data = s.kube.secret_data("app-db").await;
    assert_eq!(data["username"], s.t.login("current").0);
}

/// deploy/kubernetes (with its kustomization) and the Helm chart (which
/// passes `helm lint --strict`) are accepted by the real API server (server-side dry run: admission and
/// schema validation, nothing stored).
#[tokio::test]
async fn the_shipped_manifests_and_chart_are_accepted() {
    let Some(mut kube) = RealKube::connect().await else {
        return;
    };
    kube.use_namespace("shop").await;
    let dir = env!("CARGO_MANIFEST_DIR");
    let out = must(
        kube.kubectl()
            .args(["apply", "--dry-run=server", "-k"])
            .arg(format!("{dir}/deploy/kubernetes")),
    );
    for kind in [
        "serviceaccount/seesaw",
        "role.rbac.authorization.k8s.io/seesaw",
        "deployment.apps/seesaw",
    ] {
        assert!(out.contains(kind), "{kind} not applied: {out}");
    }
    must(
        std::process::Command::new(kube.bin.join("helm"))
            .args(["lint", "--strict"])
            .arg(format!("{dir}/deploy/helm/seesaw")),
    );
    let rendered = must(
        std::process::Command::new(kube.bin.join("helm"))
            .args(["template", "seesaw", "--namespace", "shop"])
            .arg(format!("{dir}/deploy/helm/seesaw")),
    );
    let out = server_dry_run(&kube, &rendered);
    assert!(out.contains("deployment.apps/seesaw"), "{out}");

    // With a cloud identity, an extra pod label and no mounted volumes (a
    // cloud store needs no state claim): still accepted, and as asked.
    let rendered = must(
        std::process::Command::new(kube.bin.join("helm"))
            .args(["template", "seesaw", "--namespace", "shop"])
            .args(["--set-json", r#"serviceAccount.annotations={"eks.amazonaws.com/role-arn":"arn:aws:iam::123456789012:role/seesaw"}"#])
            .args(["--set-json", r#"podLabels={"azure.workload.identity/use":"true"}"#])
            .args(["--set", "stateClaim=", "--set", "caConfigMap="])
            .arg(format!("{dir}/deploy/helm/seesaw")),
    );
    assert!(rendered.contains("eks.amazonaws.com/role-arn: arn:aws:iam::123456789012:role/seesaw"));
    assert!(rendered.contains("azure.workload.identity/use: \"true\""));
    assert!(!rendered.contains("persistentVolumeClaim") && !rendered.contains("name: ca"));
    let out = server_dry_run(&kube, &rendered);
    assert!(out.contains("serviceaccount/seesaw"), "{out}");
    // The schema refuses what the chart cannot use.
    let bad = std::process::Command::new(kube.bin.join("helm"))
        .args(["template", "seesaw", "--set", "replicaCount=two"])
        .arg(format!("{dir}/deploy/helm/seesaw"))
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("replicaCount"));
    // What `helm install` prints after installing.
    let notes = must(
        std::process::Command::new(kube.bin.join("helm"))
            // A release name no other test uses in `shop` (a dry run still
            // refuses objects another owner made).
            .args([
                "install",
                "notes",
                "--dry-run=server",
                "--namespace",
                "shop",
            ])
            .arg("--kubeconfig")
            .arg(std::env::var_os("SEESAW_KUBECONFIG").unwrap())
            .arg(format!("{dir}/deploy/helm/seesaw")),
    );
    assert!(notes.contains("No targets yet"), "{notes}");
    assert!(notes.contains("rollout status deployment/notes"), "{notes}");
}
