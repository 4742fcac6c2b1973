//! Rotations through real rollouts by the real controllers: zero failed
//! logins, the control without rollouts, update strategies seesaw cannot
//! drive, and a rollout past its progress deadline.

use crate::setup::{daemon_set, deployment, setup, stateful_set};
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use k8s_openapi::api::core::v1::Secret;
use serde_json::json;
use std::time::Duration;

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
    let mut logins_per_round = Vec::new();
    for round in 1..=20 {
        let before = s.agent.logins.ok();
        let run = s.seesaw(&["rotate", "demo", "--now"]).await;
        logins_per_round.push(s.agent.logins.ok() - before);
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
    crate::support::kube::sim::assert_pods_kept_logging_in(
        &l.pod_lives(),
        std::time::Duration::from_secs(2),
        &logins_per_round,
    );
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
