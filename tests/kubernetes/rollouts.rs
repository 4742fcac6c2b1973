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
    let mut logins_per_round = Vec::new();
    for round in 1..=20 {
        let before = kube.sim.ok_logins();
        let run = seesaw(&t, &kube, &["rotate", "demo"]).await;
        logins_per_round.push(kube.sim.ok_logins() - before);
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
    crate::support::kube::sim::assert_pods_kept_logging_in(
        &kube.sim.pod_lives(),
        Duration::from_secs(1),
        &logins_per_round,
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

/// Rollouts are followed by watching each workload, not by asking again
/// and again: a three-second rollout costs a few GETs per workload, and
/// every workload is watched, by name (a Role limited by resourceNames
/// allows that).
#[tokio::test]
async fn a_rollout_is_followed_by_a_watch_per_workload_not_by_polling() {
    let (t, kube) = setup(MIXED, true).await;
    settled(&kube).await;
    // The first run also restarts every workload to carry the version
    // annotation (healing): two rollouts. Count the second run's one.
    let first = seesaw(&t, &kube, &["rotate", "demo"]).await;
    assert_eq!(first.code, 0, "{}", first.all());
    // Three pods replaced one by one: over a second per workload.
    kube.sim.set_pod_start(Duration::from_millis(400));
    let before = |verb: &str| {
        ["deployments", "statefulsets", "daemonsets"]
            .iter()
            .map(|r| kube.requests(&format!("{verb} {r}")))
            .sum::<usize>()
    };
    let (gets, watches) = (before("get"), before("watch"));
    let started = std::time::Instant::now();
    let run = seesaw(&t, &kube, &["rotate", "demo"]).await;
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(
        started.elapsed() > Duration::from_secs(1),
        "the rollouts must have taken a while for this test to mean anything"
    );
    let gets = before("get") - gets;
    let watches = before("watch") - watches;
    eprintln!(
        "one rotation, {} workloads, {:.1} s: {gets} GETs, {watches} WATCHes",
        MIXED.len(),
        started.elapsed().as_secs_f64()
    );
    assert!(
        watches >= MIXED.len(),
        "each workload is watched: {watches}"
    );
    // Per workload: the rollout gate, the restart and the report after
    // the wait read it once each, and its watch starts from a GET.
    // Polling every 50-500 ms asked dozens each.
    assert!(
        gets <= 4 * MIXED.len(),
        "{gets} GETs of {} workloads while waiting",
        MIXED.len()
    );
    for (_, name) in MIXED {
        assert!(
            kube.state
                .lock()
                .unwrap()
                .requests
                .iter()
                .any(|r| r.starts_with("watch") && r.ends_with(&format!(" {name}"))),
            "{name} was not watched by name"
        );
    }
}

/// A watch the server refuses for now (429, 503) or whose version is gone
/// (410) is opened again from a fresh read: the rotation still waits for
/// the rollout and passes.
#[tokio::test]
async fn a_refused_watch_is_opened_again_and_the_rollout_still_awaited() {
    let (t, kube) = setup(&[("Deployment", "api")], true).await;
    settled(&kube).await;
    let first = seesaw(&t, &kube, &["rotate", "demo"]).await;
    assert_eq!(first.code, 0, "{}", first.all());
    // Slow enough that the rollout is still going when the fourth watch
    // opens (the 429 and the 503 are each retried after a second).
    kube.sim.set_pod_start(Duration::from_millis(1500));
    for code in [429, 503, 410] {
        kube.inject("watch", "deployments", code, 1);
    }
    let watches = kube.requests("watch deployments");
    let run = seesaw(&t, &kube, &["rotate", "demo"]).await;
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(
        kube.requests("watch deployments") - watches >= 4,
        "three refused watches, then one that followed the rollout"
    );
    let api = kube.get("deployments", NS, "api").unwrap();
    assert_eq!(
        api["status"]["updatedReplicas"], api["spec"]["replicas"],
        "the rotation returned after the rollout finished: {api}"
    );
}
