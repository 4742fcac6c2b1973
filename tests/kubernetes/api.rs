//! The API server's answers and the client's config: conflicts retried,
//! Forbidden naming the rule, missing objects, timeouts, kube contexts.

use crate::common::{seesaw, settled, setup, NS};
use std::time::Duration;

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
    let before = std::fs::read(&t.store).unwrap();
    let run = seesaw(&t, &kube, &["rotate", "demo"]).await;
    // Refused by the preflight, before any change (a gate: exit 3).
    assert_eq!(run.code, 3, "{}", run.all());
    assert_eq!(std::fs::read(&t.store).unwrap(), before);
    for expected in [
        "[writes]",
        "nothing was changed",
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
    assert!(t.logs_in("current").await && t.logs_in("previous").await);

    kube.allow_all();
    let text = std::fs::read_to_string(&t.config).unwrap();
    std::fs::write(&t.config, text.replace("name: api,", "name: ghost,")).unwrap();
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
