//! Kubernetes propagation against the fake API server, with pods that log
//! in to a real PostgreSQL.

mod support;

use serde_json::json;
use std::time::Duration;
use support::kube::{sim, suite, FakeKube};
use support::seesaw::{Target, DB};

const NS: &str = "shop";

fn kube_section(workloads: &[(&str, &str)], wait: bool) -> String {
    let mut s = format!(
        "    kubernetes:\n      secrets:\n        - name: app-db\n          namespace: {NS}\n          data:\n            username: \"{{{{ username }}}}\"\n            password: \"{{{{ password }}}}\"\n            DATABASE_URL: \"postgresql://{{{{ username | urlencode }}}}:{{{{ password | urlencode }}}}@{{{{ host }}}}:{{{{ port }}}}/{{{{ dbname }}}}\"\n      workloads:\n"
    );
    for (kind, name) in workloads {
        s += &format!("        - {{ kind: {kind}, name: {name}, namespace: {NS} }}\n");
    }
    s += &format!("      rollout: {{ wait: {wait}, timeout: 60s }}\n");
    s
}

/// A target whose config has a `kubernetes:` section, a fake API server
/// whose pods use the real database, and the Secret seeded with the
/// current credential.
async fn setup(workloads: &[(&str, &str)], wait: bool) -> (Target, FakeKube) {
    let mut t = Target::new(["app_a", "app_b"]).await;
    t.database_extra = "      standby_sessions: wait\n      standby_wait_timeout: 10s\n".into();
    t.write_config();
    let config = std::fs::read_to_string(&t.config).unwrap();
    std::fs::write(
        &t.config,
        format!("{config}{}", kube_section(workloads, wait)),
    )
    .unwrap();
    let kube = FakeKube::start(Some(sim::Database {
        port: t.cluster.port,
        dbname: DB.into(),
    }))
    .await;
    let (user, password) = t.login("current");
    kube.put("secrets", NS, json!({"apiVersion": "v1", "metadata": {"name": "app-db"}, "stringData": {"username": user, "password": password}}));
    for (kind, name) in workloads {
        let resource = format!("{}s", kind.to_lowercase());
        kube.workload(&resource, NS, name, 3, Some("app-db"));
    }
    (t, kube)
}

async fn seesaw(t: &Target, kube: &FakeKube, args: &[&str]) -> support::seesaw::Run {
    let kubeconfig = kube.kubeconfig();
    let env = [
        ("KUBECONFIG", Some(kubeconfig.as_os_str())),
        ("KUBERNETES_SERVICE_HOST", None),
    ];
    t.seesaw_with(args, &env).await
}

/// Waits until every pod of every workload is up (the first rollout).
async fn settled(kube: &FakeKube) {
    for _ in 0..400 {
        let all = ["deployments", "statefulsets", "daemonsets"]
            .iter()
            .flat_map(|r| kube.list(r))
            .collect::<Vec<_>>();
        let done = all.iter().all(|w| {
            let s = &w["status"];
            let want = w["spec"]["replicas"].as_i64().unwrap_or(3);
            s["readyReplicas"].as_i64().or(s["numberReady"].as_i64()) == Some(want)
        });
        if done {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("workloads did not come up");
}

const MIXED: &[(&str, &str)] = &[
    ("Deployment", "api"),
    ("Deployment", "worker"),
    ("StatefulSet", "ledger"),
    ("DaemonSet", "agent"),
];

#[tokio::test]
async fn twenty_rotations_with_live_pods_and_no_failed_login() {
    let (t, kube) = setup(MIXED, true).await;
    settled(&kube).await;
    let mut outputs = String::new();
    let mut expected = "app_a";
    for round in 1..=20 {
        let run = seesaw(&t, &kube, &["rotate", "demo"]).await;
        outputs += &run.all();
        assert_eq!(run.code, 0, "rotation {round}: {}", run.all());
        expected = if expected == "app_a" {
            "app_b"
        } else {
            "app_a"
        };
        let (user, password) = t.login("current");
        assert_eq!(user, expected);
        let data = kube.secret_data(NS, "app-db");
        assert_eq!(data["username"], user, "the Secret carries the new user");
        assert_eq!(data["password"], password);
    }
    assert!(
        kube.sim.ok_logins() > 100,
        "pods must actually have been logging in ({})",
        kube.sim.ok_logins()
    );
    assert_eq!(
        kube.sim.failed_logins(),
        0,
        "zero downtime: no pod may fail to log in"
    );
    // Progress was shown while waiting for rollouts.
    assert!(outputs.contains("updated"), "{outputs}");
    // Events (events.k8s.io, as kube's Recorder writes them) name the
    // rotation, never a secret value.
    let events = kube.list("events");
    assert!(events
        .iter()
        .any(|e| e["reason"] == "CredentialRotated" && e["regarding"]["kind"] == "Secret"));
    for kind in ["Deployment", "StatefulSet", "DaemonSet"] {
        assert!(
            events.iter().any(|e| e["regarding"]["kind"] == kind),
            "no Event on a {kind}"
        );
    }
    let (_, password) = t.login("current");
    let (_, previous) = t.login("previous");
    for e in &events {
        let m = e["note"].as_str().unwrap();
        assert!(
            !m.contains(&password) && !m.contains(&previous),
            "an Event holds a password"
        );
    }
    assert!(
        !outputs.contains(&password) && !outputs.contains(&previous),
        "seesaw printed a password"
    );
}

#[tokio::test]
async fn control_without_gate_or_wait_the_pods_fail_to_log_in() {
    let (t, kube) = setup(MIXED, false).await;
    kube.sim.set_pod_start(Duration::from_millis(150));
    settled(&kube).await;
    for round in 1..=20 {
        let run = seesaw(&t, &kube, &["rotate", "demo", "--force"]).await;
        assert_eq!(run.code, 0, "rotation {round}: {}", run.all());
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(kube.sim.failed_logins() > 0, "rotating a standby that pods still use must break logins; the zero-downtime test would be meaningless otherwise");
}

#[tokio::test]
async fn an_unfinished_rollout_blocks_the_next_rotation() {
    let (t, kube) = setup(&[("Deployment", "api")], false).await;
    kube.sim.set_pod_start(Duration::from_secs(30));
    let run = seesaw(&t, &kube, &["rotate", "demo"]).await;
    // The first pods are still starting: that rollout is unfinished.
    assert_eq!(run.code, 3, "{}", run.all());
    assert!(
        run.stderr.contains("[rollouts]") && run.stderr.contains("Deployment shop/api"),
        "{}",
        run.stderr
    );
}

struct FailAfter(&'static str);

impl seesaw::runtime::Progress for FailAfter {
    fn finished(&self, _: &str, step: &seesaw::rotation::Step, _: Duration) -> Result<(), String> {
        if step.name() == self.0 {
            Err("fault injected".into())
        } else {
            Ok(())
        }
    }
}

async fn engine(t: &Target, kube: &FakeKube) -> seesaw::runtime::Engine {
    std::env::set_var("TEST_ADMIN_PASSWORD", support::seesaw::ADMIN_PASSWORD);
    let config = seesaw::config::Config::load(&t.config).unwrap();
    let options = seesaw::runtime::EngineOptions {
        kube_context: None,
        kubeconfig: Some(kube.kubeconfig()),
        sync_permits: None,
        follow_only: false,
        kube_clients: None,
    };
    seesaw::runtime::Engine::from_config(&config.targets[0], &options)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_crash_between_publish_and_propagate_is_healed_by_the_next_run() {
    let (t, kube) = setup(&[("Deployment", "api")], true).await;
    settled(&kube).await;
    // The first run also fills in the Secret's DATABASE_URL: let it finish.
    assert_eq!(seesaw(&t, &kube, &["rotate", "demo"]).await.code, 0);
    let e = engine(&t, &kube).await;
    let err = e
        .rotate(Default::default(), &FailAfter("publish"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), "interrupted");
    let (published, _) = t.login("current");
    assert_ne!(
        kube.secret_data(NS, "app-db")["username"],
        published,
        "the crash left the Secret behind"
    );

    let plan = seesaw(&t, &kube, &["plan", "demo"]).await;
    assert_eq!(plan.code, 0, "{}", plan.all());
    assert!(
        plan.stdout.contains("healed first: Secret shop/app-db"),
        "{}",
        plan.stdout
    );
    assert_ne!(
        kube.secret_data(NS, "app-db")["username"],
        published,
        "plan must not change anything"
    );

    let run = seesaw(&t, &kube, &["rotate", "demo"]).await;
    assert_eq!(run.code, 0, "{}", run.all());
    assert_eq!(
        kube.secret_data(NS, "app-db")["username"],
        t.login("current").0
    );
    assert_eq!(kube.sim.failed_logins(), 0);
}

/// Healing writes consumers, so it happens only under the target's lock:
/// a run that finds the lock taken changes no Secret.
#[tokio::test]
async fn a_run_without_the_lock_heals_nothing() {
    let (t, kube) = setup(&[("Deployment", "api")], true).await;
    settled(&kube).await;
    let mut secret = kube.get("secrets", NS, "app-db").unwrap();
    secret["data"]["password"] = json!("aGFuZC1lZGl0ZWQ="); // "hand-edited"
    kube.put("secrets", NS, secret);
    let holder = t.hold_lock().await;
    let run = seesaw(&t, &kube, &["rotate", "demo"]).await;
    assert_eq!(run.code, 3, "{}", run.all());
    assert_eq!(
        kube.secret_data(NS, "app-db")["password"],
        "hand-edited",
        "healed without the lock"
    );
    drop(holder);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let run = seesaw(&t, &kube, &["rotate", "demo"]).await;
    assert_eq!(run.code, 0, "{}", run.all());
    assert_eq!(
        kube.secret_data(NS, "app-db")["password"],
        t.login("current").1
    );
}

#[tokio::test]
async fn follow_heals_a_hand_edited_secret_and_carries_new_versions() {
    let (t, kube) = setup(&[("Deployment", "api")], true).await;
    settled(&kube).await;
    let mut secret = kube.get("secrets", NS, "app-db").unwrap();
    secret["data"]["password"] = json!("aGFuZC1lZGl0ZWQ="); // "hand-edited"
    kube.put("secrets", NS, secret);
    // follow never logs in to the database, so it needs no admin password
    // (deploy/kubernetes/06-follow.yaml.example mounts none).
    let kubeconfig = kube.kubeconfig();
    let run = t
        .seesaw_with(
            &["follow", "demo", "--once"],
            &[
                ("KUBECONFIG", Some(kubeconfig.as_os_str())),
                ("KUBERNETES_SERVICE_HOST", None),
                ("TEST_ADMIN_PASSWORD", None),
            ],
        )
        .await;
    assert_eq!(run.code, 0, "{}", run.all());
    assert_eq!(
        kube.secret_data(NS, "app-db")["password"],
        t.login("current").1,
        "the edit was healed"
    );
    let restarted = kube.get("deployments", NS, "api").unwrap();
    assert!(
        restarted["spec"]["template"]["metadata"]["annotations"]["seesaw.io/restarted-at"]
            .is_string()
    );

    // Something else (the Lambda) rotates the store: follow carries it over.
    let lambda_config = t.cluster.dir().join("lambda.yaml");
    let text = std::fs::read_to_string(&t.config).unwrap();
    std::fs::write(
        &lambda_config,
        &text[..text.find("    kubernetes:").unwrap()],
    )
    .unwrap();
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_seesaw"))
        .arg("--config")
        .arg(&lambda_config)
        .args(["rotate", "demo"])
        .env("TEST_ADMIN_PASSWORD", support::seesaw::ADMIN_PASSWORD)
        .output()
        .await
        .unwrap();
    assert!(out.status.success());
    let run = seesaw(&t, &kube, &["follow", "demo", "--once", "--output", "json"]).await;
    assert_eq!(run.code, 0, "{}", run.all());
    let passes: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(passes[0]["username"], "app_b");
    assert_eq!(
        passes[0]["propagation"]["workloads_restarted"][0],
        "Deployment shop/api"
    );
    assert_eq!(kube.secret_data(NS, "app-db")["username"], "app_b");
    assert_eq!(kube.sim.failed_logins(), 0);
    // Nothing changed since: a second pass writes nothing.
    let before = kube.requests("patch");
    assert_eq!(
        seesaw(&t, &kube, &["follow", "demo", "--once"]).await.code,
        0
    );
    assert_eq!(
        kube.requests("patch"),
        before,
        "an up-to-date Secret must not be written"
    );
}

#[tokio::test]
async fn a_conflict_is_retried_and_the_url_round_trips() {
    let (t, kube) = setup(&[("Deployment", "api")], true).await;
    settled(&kube).await;
    let text = std::fs::read_to_string(&t.config).unwrap();
    std::fs::write(
        &t.config,
        text.replace("    store:", "    password: { length: 128 }\n    store:"),
    )
    .unwrap();
    kube.inject("patch", "secrets", 409, 1);
    let run = seesaw(&t, &kube, &["rotate", "demo"]).await;
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(kube.requests("patch secrets") >= 2, "the 409 was retried");
    let (_, password) = t.login("current");
    let data = kube.secret_data(NS, "app-db");
    let url = url::Url::parse(&data["DATABASE_URL"]).expect("DATABASE_URL parses");
    let decoded = percent_encoding::percent_decode_str(url.password().unwrap())
        .decode_utf8()
        .unwrap();
    assert_eq!(decoded, password, "the password survives the URL");
    assert_eq!(url.port(), Some(t.cluster.port));
}

#[tokio::test]
async fn forbidden_names_the_rule_and_a_missing_workload_is_clear() {
    let (t, kube) = setup(&[("Deployment", "api")], true).await;
    settled(&kube).await;
    assert_eq!(seesaw(&t, &kube, &["rotate", "demo"]).await.code, 0);
    kube.deny("patch", "secrets");
    let run = seesaw(&t, &kube, &["rotate", "demo"]).await;
    assert_eq!(run.code, 1, "{}", run.all());
    for expected in [
        "forbidden",
        "verbs: [\"patch\"]",
        "resources: [\"secrets\"]",
        "resourceNames: [\"app-db\"]",
        "policies/kubernetes",
    ] {
        assert!(
            run.stderr.contains(expected),
            "expected {expected:?}: {}",
            run.stderr
        );
    }
    // Published, and the previous user still works while the Secret lags.
    assert!(t.logs_in("current").await && t.logs_in("previous").await);

    kube.allow_all();
    let text = std::fs::read_to_string(&t.config).unwrap();
    std::fs::write(&t.config, text.replace("name: api,", "name: ghost,")).unwrap();
    let before = std::fs::read(&t.store).unwrap();
    let run = seesaw(&t, &kube, &["rotate", "demo"]).await;
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(
        run.stderr.contains(
            "Deployment shop/ghost is listed under kubernetes.workloads but does not exist"
        ),
        "{}",
        run.stderr
    );
    assert_eq!(std::fs::read(&t.store).unwrap(), before);
}

#[tokio::test]
async fn a_missing_secret_is_created_with_the_managed_by_label() {
    let (t, kube) = setup(&[], true).await;
    kube.state.lock().unwrap().objects.clear();
    let run = seesaw(&t, &kube, &["rotate", "demo"]).await;
    assert_eq!(run.code, 0, "{}", run.all());
    let secret = kube.get("secrets", NS, "app-db").expect("created");
    assert_eq!(
        secret["metadata"]["labels"]["app.kubernetes.io/managed-by"],
        "seesaw"
    );
    assert_eq!(
        kube.secret_data(NS, "app-db")["username"],
        t.login("current").0
    );
}

#[tokio::test]
async fn a_rollout_that_does_not_finish_times_out_with_a_clear_error() {
    let (t, kube) = setup(&[("Deployment", "api")], true).await;
    settled(&kube).await;
    // A first rotation fills in the Secret, so the timeout below hits propagate.
    assert_eq!(seesaw(&t, &kube, &["rotate", "demo"]).await.code, 0);
    let text = std::fs::read_to_string(&t.config).unwrap();
    std::fs::write(&t.config, text.replace("timeout: 60s", "timeout: 1s")).unwrap();
    kube.sim.set_pod_start(Duration::from_secs(60));
    let run = seesaw(&t, &kube, &["rotate", "demo"]).await;
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(
        run.stderr
            .contains("rollout not finished after 1s: Deployment shop/api"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("the previous user still works"),
        "{}",
        run.stderr
    );
    assert!(t.logs_in("current").await && t.logs_in("previous").await);
}

#[tokio::test]
async fn kube_context_selects_the_cluster() {
    let (t, kube) = setup(&[("Deployment", "api")], true).await;
    settled(&kube).await;
    // The current context points nowhere; --kube-context picks the fake.
    let text = std::fs::read_to_string(kube.kubeconfig()).unwrap();
    let two = text
        .replace("current-context: fake", "current-context: dead")
        .replace(
            "contexts:\n",
            "contexts:\n- name: dead\n  context:\n    cluster: dead\n    user: seesaw\n",
        )
        .replace(
            "clusters:\n",
            "clusters:\n- name: dead\n  cluster:\n    server: http://127.0.0.1:9\n",
        );
    let path = t.cluster.dir().join("two-contexts");
    std::fs::write(&path, two).unwrap();
    let path = path.to_str().unwrap();
    let run = seesaw(&t, &kube, &["--kubeconfig", path, "check"]).await;
    assert_ne!(run.code, 0, "the dead context must fail: {}", run.all());
    let run = seesaw(
        &t,
        &kube,
        &[
            "--kubeconfig",
            path,
            "--kube-context",
            "fake",
            "rotate",
            "demo",
        ],
    )
    .await;
    assert_eq!(run.code, 0, "{}", run.all());
}

/// The shared suite (support::kube::suite) on the fake API server; the
/// same cases run on the real control plane in tests/control_plane.rs.
async fn on_the_fake() -> (Target, FakeKube, suite::Cluster) {
    let t = Target::new(["app_a", "app_b"]).await;
    let kube = FakeKube::start(None).await;
    let config = kube::Config::new(kube.url.parse().unwrap());
    let cluster = suite::Cluster {
        client: kube::Client::try_from(config).unwrap(),
        kubeconfig: kube.kubeconfig(),
        ns: NS.into(),
    };
    (t, kube, cluster)
}

#[tokio::test]
async fn suite_a_rotation_writes_the_secret_rolls_and_records() {
    let (t, _kube, c) = on_the_fake().await;
    suite::a_rotation_writes_the_secret_rolls_and_records(&c, &t).await;
}

#[tokio::test]
async fn suite_an_immutable_secret_is_named_and_nothing_changes() {
    let (t, _kube, c) = on_the_fake().await;
    suite::an_immutable_secret_is_named_and_nothing_changes(&c, &t).await;
}

#[tokio::test]
async fn suite_a_paused_deployment_is_reported_not_restarted() {
    let (t, _kube, c) = on_the_fake().await;
    suite::a_paused_deployment_is_reported_not_restarted(&c, &t).await;
}

#[tokio::test]
async fn suite_a_missing_namespace_is_named_and_nothing_changes() {
    let (t, _kube, c) = on_the_fake().await;
    suite::a_missing_namespace_is_named_and_nothing_changes(&c, &t).await;
}
