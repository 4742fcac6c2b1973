//! seesaw against a real Kubernetes control plane (etcd, kube-apiserver,
//! kube-controller-manager, kube-scheduler and kwok, started by
//! `tests/kube/control-plane up`): real rollouts by the real controllers,
//! pods that log in to a real PostgreSQL, RBAC really enforced.

mod support;

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{Event, Secret};
use serde_json::{json, Value};
use std::time::Duration;
use support::kube::real::{Agent, Database, RealKube};
use support::kube::suite;
use support::seesaw::{Run, Target, DB};

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

fn deployment(name: &str, replicas: i32) -> Value {
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

fn stateful_set(name: &str, replicas: i32, strategy: Value) -> Value {
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

fn daemon_set(name: &str) -> Value {
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

struct Setup {
    t: Target,
    kube: RealKube,
    agent: Agent,
}

/// A target whose `kubernetes:` section lists `listed`, the Secret seeded
/// with the current credential and the pod agent running.
async fn setup(listed: &[(&str, &str)]) -> Option<Setup> {
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
    fn list(&self, ns: &str, workloads: &[(&str, &str)]) {
        let config = std::fs::read_to_string(&self.t.config).unwrap();
        let at = config.find("    kubernetes:").unwrap();
        std::fs::write(
            &self.t.config,
            format!("{}{}", &config[..at], kube_section(ns, workloads)),
        )
        .unwrap();
    }

    async fn seesaw(&self, args: &[&str]) -> Run {
        let env = [
            ("KUBECONFIG", Some(self.kube.kubeconfig.as_os_str())),
            ("KUBERNETES_SERVICE_HOST", None),
        ];
        self.t.seesaw_with(args, &env).await
    }

    /// Waits until `pods` pods log in, i.e. the first rollouts are done.
    async fn settled(&self, pods: u64) {
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

    fn assert_no_failed_login(&self) {
        let l = &self.agent.logins;
        assert_eq!(
            l.failed(),
            0,
            "zero downtime: no pod may fail to log in: {:#?}",
            l.failures()
        );
    }

    async fn events(&self) -> Vec<Event> {
        self.kube
            .api::<Event>()
            .list(&Default::default())
            .await
            .unwrap()
            .items
    }
}

#[tokio::test]
async fn twenty_rotations_through_real_rollouts_without_a_failed_login() {
    let listed = [
        ("Deployment", "api"),
        ("StatefulSet", "ledger"),
        ("DaemonSet", "agent"),
    ];
    let Some(s) = setup(&listed).await else {
        return;
    };
    s.kube.create::<Deployment>(deployment("api", 3)).await;
    s.kube
        .create::<StatefulSet>(stateful_set("ledger", 2, json!({"type": "RollingUpdate"})))
        .await;
    s.kube.create::<DaemonSet>(daemon_set("agent")).await;
    s.settled(3 + 2 + 2).await;

    let mut expected = "app_a";
    let mut outputs = String::new();
    for round in 1..=20 {
        let run = s.seesaw(&["rotate", "demo", "--now"]).await;
        outputs += &run.all();
        assert_eq!(run.code, 0, "rotation {round}: {}", run.all());
        expected = if expected == "app_a" {
            "app_b"
        } else {
            "app_a"
        };
        let (user, password) = s.t.login("current");
        assert_eq!(user, expected);
        let data = s.kube.secret_data("app-db").await;
        assert_eq!(data["username"], user);
        assert_eq!(data["password"], password);
    }
    let l = &s.agent.logins;
    assert!(l.ok() > 200, "pods must have been logging in ({})", l.ok());
    s.assert_no_failed_login();
    assert!(
        outputs.contains("updated"),
        "progress while waiting: {outputs}"
    );

    let events = s.events().await;
    for kind in ["Secret", "Deployment", "StatefulSet", "DaemonSet"] {
        assert!(
            events
                .iter()
                .any(|e| e.reason.as_deref() == Some("CredentialRotated")
                    && e.involved_object.kind.as_deref() == Some(kind)),
            "no CredentialRotated Event on a {kind}"
        );
    }
    let (_, password) = s.t.login("current");
    let (_, previous) = s.t.login("previous");
    for e in &events {
        let m = e.message.as_deref().unwrap_or_default();
        assert!(
            !m.contains(&password) && !m.contains(&previous),
            "an Event holds a password"
        );
    }
    // Every write names seesaw as its field manager.
    let secret: Secret = s.kube.api().get("app-db").await.unwrap();
    let managers: Vec<_> = secret
        .metadata
        .managed_fields
        .unwrap_or_default()
        .into_iter()
        .filter_map(|m| m.manager)
        .collect();
    assert!(managers.iter().any(|m| m == "seesaw"), "{managers:?}");
}

/// The control: with no rollouts (the workloads are not listed) and the
/// standby's sessions terminated instead of waited for, pods keep the
/// credential they started with and fail once its user is rotated again.
/// Without it the test above proves nothing.
#[tokio::test]
async fn control_without_rollouts_the_pods_fail_to_log_in() {
    let Some(s) = setup(&[]).await else {
        return;
    };
    let config = std::fs::read_to_string(&s.t.config).unwrap();
    std::fs::write(
        &s.t.config,
        config.replace("standby_sessions: wait", "standby_sessions: terminate"),
    )
    .unwrap();
    let su = s.t.cluster.superuser().await;
    su.batch_execute("GRANT pg_signal_backend TO seesaw_admin")
        .await
        .unwrap();
    s.kube.create::<Deployment>(deployment("api", 2)).await;
    s.settled(2).await;
    for round in 1..=2 {
        let run = s.seesaw(&["rotate", "demo", "--now", "--force"]).await;
        assert_eq!(run.code, 0, "rotation {round}: {}", run.all());
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        s.agent.logins.failed() > 0,
        "rotating the user the pods still use must break their logins"
    );
}

/// A partitioned StatefulSet counts as rolled out once its pods at and
/// above the partition are updated; OnDelete ones are reported and not
/// waited for. The pods left on the old credential hold the next rotation
/// (the rollout gate for OnDelete, the standby-sessions gate for the
/// partition's lower ordinals) until they are replaced.
#[tokio::test]
async fn partition_and_on_delete_are_reported_and_their_old_pods_protected() {
    let listed = [
        ("StatefulSet", "part"),
        ("StatefulSet", "manual"),
        ("DaemonSet", "node-agent"),
    ];
    let Some(s) = setup(&[]).await else {
        return;
    };
    // A first rotation, before the workloads exist, completes the Secret
    // (its DATABASE_URL): a Secret change is what OnDelete pods miss.
    let run = s.seesaw(&["rotate", "demo"]).await;
    assert_eq!(run.code, 0, "{}", run.all());
    s.list(&s.kube.ns, &listed);
    s.kube
        .create::<StatefulSet>(stateful_set(
            "part",
            3,
            json!({"type": "RollingUpdate", "rollingUpdate": {"partition": 1}}),
        ))
        .await;
    s.kube
        .create::<StatefulSet>(stateful_set("manual", 2, json!({"type": "OnDelete"})))
        .await;
    let mut ds = daemon_set("node-agent");
    ds["spec"]["updateStrategy"] = json!({"type": "OnDelete"});
    s.kube.create::<DaemonSet>(ds).await;
    s.settled(3 + 2 + 2).await;

    let run = tokio::time::timeout(Duration::from_secs(90), s.seesaw(&["rotate", "demo"]))
        .await
        .expect("a rotation never hangs on a rollout Kubernetes will not make");
    assert_eq!(run.code, 0, "{}", run.all());
    for expected in [
        "StatefulSet {ns}/part: rollingUpdate.partition 1",
        "StatefulSet {ns}/manual: updateStrategy OnDelete",
        "DaemonSet {ns}/node-agent: updateStrategy OnDelete",
    ] {
        let expected = expected.replace("{ns}", &s.kube.ns);
        assert!(run.all().contains(&expected), "{expected}: {}", run.all());
    }
    let warnings: Vec<_> = s
        .events()
        .await
        .into_iter()
        .filter(|e| e.reason.as_deref() == Some("CredentialNotRolledOut"))
        .filter_map(|e| e.involved_object.name)
        .collect();
    assert!(warnings.contains(&"manual".to_string()), "{warnings:?}");

    // The next rotation would change the password the old pods use: the
    // OnDelete workloads' status counts them (seesaw annotated the
    // template), so the rollout gate holds it (exit 3) and says what to do.
    let run = s.seesaw(&["rotate", "demo", "--now"]).await;
    assert_eq!(run.code, 3, "{}", run.all());
    assert!(
        run.stderr.contains("[rollouts]") && run.stderr.contains("delete its old pods"),
        "{}",
        run.stderr
    );

    // The operator replaces them; then the rotation goes through.
    s.kube.delete_pods("app in (manual, node-agent)").await;
    let part: kube::Api<k8s_openapi::api::core::v1::Pod> = s.kube.api();
    part.delete("part-0", &Default::default()).await.unwrap();
    let mut last = String::new();
    for _ in 0..20 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let run = s.seesaw(&["rotate", "demo", "--now"]).await;
        if run.code == 0 {
            s.assert_no_failed_login();
            return;
        }
        last = run.all();
    }
    panic!("the rotation never went through after the old pods were replaced: {last}");
}

#[tokio::test]
async fn a_rollout_past_its_progress_deadline_fails_with_the_condition() {
    let Some(s) = setup(&[("Deployment", "api")]).await else {
        return;
    };
    let mut d = deployment("api", 2);
    d["spec"]["progressDeadlineSeconds"] = json!(3);
    s.kube.create::<Deployment>(d).await;
    s.settled(2).await;
    // A first rotation fills in the Secret, so the failure below hits the
    // rollout of a rotation, after the publish.
    let run = s.seesaw(&["rotate", "demo"]).await;
    assert_eq!(run.code, 0, "{}", run.all());
    // A quota that admits no further pod: the new ReplicaSet cannot scale.
    s.kube
        .create::<k8s_openapi::api::core::v1::ResourceQuota>(
            json!({"metadata": {"name": "full"}, "spec": {"hard": {"pods": "2"}}}),
        )
        .await;
    tokio::time::sleep(Duration::from_secs(2)).await; // the quota controller counts the pods
    let run = tokio::time::timeout(Duration::from_secs(60), s.seesaw(&["rotate", "demo"]))
        .await
        .expect("seesaw must not wait out its whole timeout");
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(
        run.stderr.contains("rollout of Deployment")
            && run.stderr.contains("ProgressDeadlineExceeded"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("the previous user still works"),
        "{}",
        run.stderr
    );
    assert!(s.t.logs_in("current").await && s.t.logs_in("previous").await);
    s.assert_no_failed_login();
}

/// Runs `cmd`, failing the test with its output unless it succeeds.
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

fn must(cmd: &mut std::process::Command) -> String {
    let out = cmd.output().expect("run");
    assert!(
        out.status.success(),
        "{cmd:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A kubeconfig for the control plane that authenticates as `token`.
fn token_kubeconfig(admin: &std::path::Path, token: &str, to: &std::path::Path) {
    let text = std::fs::read_to_string(admin).unwrap();
    let mut config: Value = serde_yaml_ng::from_str(&text).unwrap();
    config["users"] = json!([{"name": "seesaw", "user": {"token": token.trim()}}]);
    config["contexts"][0]["context"]["user"] = json!("seesaw");
    std::fs::write(to, serde_yaml_ng::to_string(&config).unwrap()).unwrap();
}

/// The rule a Forbidden error tells the operator to add, as JSON.
fn hinted_rule(stderr: &str) -> Value {
    let start = stderr
        .find("Add to seesaw's Role: ")
        .expect("a rule in the error")
        + 22;
    let end = start + stderr[start..].find('}').unwrap() + 1;
    serde_yaml_ng::from_str(&stderr[start..end]).expect("the hinted rule parses as YAML")
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

    // Take away the workloads rule: the error names a rule; add exactly
    // what it names until the rotation passes.
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
        assert_eq!(run.code, 1, "{}", run.all());
        assert!(run.stderr.contains("forbidden"), "{}", run.stderr);
        let rule = hinted_rule(&run.stderr);
        assert!(
            added.len() < 4 && !added.contains(&rule),
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
    assert!(
        !added.is_empty(),
        "removing the rule must have failed the rotation"
    );
    assert!(s.t.logs_in("current").await && s.t.logs_in("previous").await);

    // A missing Secret: the shipped Role cannot create it (create cannot be
    // limited to a name); the error says how to create it first.
    secrets.delete("app-db", &Default::default()).await.unwrap();
    let run = as_seesaw(vec!["rotate", "demo", "--now"]).await;
    assert_eq!(run.code, 1, "{}", run.all());
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

/// Leader election on the real API server, the leader's access stalled by
/// a proxy that stops forwarding: the other replica takes the Lease once it
/// expires, while the stalled one, its renewal hanging, still believes it
/// leads. Both rotate; each slot is still rotated once (the target's lock,
/// and under it the rule that a version published within half a period of
/// the slot is that slot's rotation). The schedule runs on the daemons'
/// test clock, 30 times real time: a slot every 2 s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_leader_and_its_successor_rotate_each_slot_once() {
    use seesaw::runtime::daemon::DaemonOptions;
    use seesaw::schedule::{utc, Clock};
    use support::daemon::{get, start};
    let Some(kube) = RealKube::connect().await else {
        return;
    };
    let t = Target::new(["app_a", "app_b"]).await;
    let config = std::fs::read_to_string(&t.config).unwrap().replacen(
        "targets:\n",
        &format!(
            "defaults:\n  schedule: \"* * * * *\"\nleader_election: {{ enabled: always, lease: stall, namespace: {}, duration: 3s }}\nretry: {{ blocked: 300ms }}\ntargets:\n",
            kube.ns
        ),
        1,
    );
    std::fs::write(&t.config, config).unwrap();
    let api =
        std::env::var("SEESAW_KUBE_API").expect("SEESAW_KUBE_API (DIR/env of control-plane up)");
    let api = api.trim_start_matches("https://");
    let proxy = support::stall::StallProxy::start(api).await;
    let via_proxy = t.cluster.dir().join("kubeconfig-via-proxy");
    std::fs::write(
        &via_proxy,
        std::fs::read_to_string(&kube.kubeconfig)
            .unwrap()
            .replace(api, &proxy.addr.to_string()),
    )
    .unwrap();
    std::env::set_var("TEST_ADMIN_PASSWORD", support::seesaw::ADMIN_PASSWORD);
    let clock = Clock::starting_at(utc(2026, 6, 1, 12, 0) + chrono::Duration::seconds(30), 30.0);
    let options = |kubeconfig: std::path::PathBuf| {
        let mut o = DaemonOptions {
            http_address: Some("127.0.0.1:0".into()),
            clock,
            reload_poll: Duration::from_millis(100),
            ..Default::default()
        };
        o.engine.kubeconfig = Some(kubeconfig);
        o
    };
    let leads = |text: &str| text.lines().any(|l| l.trim() == "seesaw_leader 1");
    let rt_a = tokio::runtime::Runtime::new().unwrap();
    let (addr_a, _stop_a, _task_a) = start(rt_a.handle(), &t.config, options(via_proxy)).await;
    for _ in 0..200 {
        if leads(&get(addr_a, "/metrics").await.1) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(leads(&get(addr_a, "/metrics").await.1), "A leads first");
    let rt_b = tokio::runtime::Runtime::new().unwrap();
    let (addr_b, _stop_b, _task_b) =
        start(rt_b.handle(), &t.config, options(kube.kubeconfig.clone())).await;
    let rotations = || {
        t.cluster
            .server_log()
            .lines()
            .filter(|l| l.contains("PASSWORD 'SCRAM-SHA-256$"))
            .count()
    };
    // Slots 12:01 and 12:02 under A alone.
    tokio::time::sleep(clock.until(utc(2026, 6, 1, 12, 2) + chrono::Duration::seconds(40))).await;
    let before_stall = rotations();
    assert_eq!(before_stall, 2, "one rotation for each of 12:01 and 12:02");
    proxy.stall();
    // B takes the Lease once it expires; A still believes it leads.
    let mut both = false;
    for _ in 0..200 {
        let (a, b) = (
            get(addr_a, "/metrics").await.1,
            get(addr_b, "/metrics").await.1,
        );
        if leads(&a) && leads(&b) {
            both = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        both,
        "the stalled leader and its successor both lead for a while (else this test shows nothing)"
    );
    let split_at = clock.now();
    // Five more slots with two leaders.
    let end = split_at + chrono::Duration::minutes(5) + chrono::Duration::seconds(5);
    tokio::time::sleep(clock.until(end)).await;
    let slots = (end - utc(2026, 6, 1, 12, 0)).num_minutes() as usize;
    let n = rotations();
    assert!(
        n <= slots && n + 1 >= slots,
        "{n} rotations for {slots} slots: never twice a slot, and on"
    );
    assert!(t.logs_in("current").await && t.logs_in("previous").await);
    rt_a.shutdown_background();
    rt_b.shutdown_background();
}

/// The shared suite (support::kube::suite) on the real API server; the
/// same cases run on the fake in tests/kubernetes.rs.
async fn on_the_real_server() -> Option<(Target, RealKube, suite::Cluster)> {
    let kube = RealKube::connect().await?;
    let t = Target::new(["app_a", "app_b"]).await;
    let cluster = suite::Cluster {
        client: kube.client.clone(),
        kubeconfig: kube.kubeconfig.clone(),
        ns: kube.ns.clone(),
    };
    Some((t, kube, cluster))
}

#[tokio::test]
async fn suite_a_rotation_writes_the_secret_rolls_and_records() {
    let Some((t, _kube, c)) = on_the_real_server().await else {
        return;
    };
    suite::a_rotation_writes_the_secret_rolls_and_records(&c, &t).await;
}

#[tokio::test]
async fn suite_an_immutable_secret_is_named_and_nothing_changes() {
    let Some((t, _kube, c)) = on_the_real_server().await else {
        return;
    };
    suite::an_immutable_secret_is_named_and_nothing_changes(&c, &t).await;
}

#[tokio::test]
async fn suite_a_paused_deployment_is_reported_not_restarted() {
    let Some((t, _kube, c)) = on_the_real_server().await else {
        return;
    };
    suite::a_paused_deployment_is_reported_not_restarted(&c, &t).await;
}

#[tokio::test]
async fn suite_a_missing_namespace_is_named_and_nothing_changes() {
    let Some((t, _kube, c)) = on_the_real_server().await else {
        return;
    };
    suite::a_missing_namespace_is_named_and_nothing_changes(&c, &t).await;
}
