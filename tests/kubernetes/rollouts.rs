//! Rotations with live pods: no failed login, the control without gate or
//! wait, and an unfinished rollout blocking the next rotation.

use crate::common::{seesaw, settled, setup, MIXED, NS};
use std::time::Duration;

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
