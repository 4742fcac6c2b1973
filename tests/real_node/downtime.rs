//! Zero downtime for real: the kubelet restarts real application
//! containers with the new credential after each rotation, and none of
//! their logins fails; without the rollout they do fail.

use crate::apps::{applications, live, PodCount};
use crate::release::{wait_until, Release};
use crate::support::seesaw::DB;
use std::time::Duration;

/// 3 Deployment pods and 2 StatefulSet pods log in every 100 ms while the
/// release's leader rotates on its schedule (every minute) 5 times: after
/// each rotation every running pod was started anew by the kubelet with
/// the new credential (read from the Secret as env), and not one login of
/// any pod failed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_rotations_restart_real_applications_without_a_failed_login() {
    let Some(mut r) = Release::prepare().await else {
        return;
    };
    applications(&r, &[("app", 3), ("app-sts", 2)]).await;
    let workloads = [("Deployment", "app"), ("StatefulSet", "app-sts")];
    let values = r.values(2, &workloads);
    r.install(&values);
    for i in 1..=5 {
        wait_until("a rotation", Duration::from_secs(150), || async {
            r.rotations() >= i
        })
        .await;
        if i == 1 {
            eprintln!(
                "helm install -> first rotation: {:?}",
                r.installed.elapsed()
            );
        }
        // Rotation i leaves users[i % 2] current; the rollout has replaced
        // every pod once all five running ones log in as it.
        let user = &r.t.users[i % 2];
        let took = wait_until(
            "every running pod restarted with the new credential",
            Duration::from_secs(120),
            || async {
                let counts = r.counts.read();
                let live = live(&counts);
                live.len() == 5 && live.iter().all(|c| &c.user == user && c.ok > 0)
            },
        )
        .await;
        eprintln!("rotation {i}: all five pods log in as {user} {took:?} after it");
    }
    let counts = r.counts.read();
    let failures: Vec<&PodCount> = counts.iter().filter(|c| c.failed > 0).collect();
    assert!(
        failures.is_empty(),
        "zero downtime: no login may fail: {failures:#?}"
    );
    // Five pods at the start and five more per rotation, each of which
    // logged in at a steady pace while it ran (the counter is alive).
    assert_eq!(counts.len(), 30, "{counts:#?}");
    for c in &counts {
        let ran = (c.updated - c.started).max(0) as u64;
        assert!(
            c.ok >= ran / 400,
            "{} logged in {} times in {ran} ms",
            c.pod,
            c.ok
        );
    }
    let logins: u64 = counts.iter().map(|c| c.ok).sum();
    eprintln!(
        "{logins} logins by {} pods, 0 failed, 5 rotations",
        counts.len()
    );
    for which in ["current", "previous"] {
        let (u, p) = r.login(which);
        assert!(r.t.cluster.can_login(&u, &p, DB).await, "{which}");
    }
}

/// The control: the same applications, a release whose target lists no
/// workload (the Secret changes, nothing restarts). By the second rotation
/// the password the running pods started with is gone, and their logins
/// fail, so the counter above can fail.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_rollout_the_running_applications_fail_to_log_in() {
    let Some(mut r) = Release::prepare().await else {
        return;
    };
    applications(&r, &[("app", 2)]).await;
    let mut values = r.values(1, &[]);
    // Else the gate protects the running pods: their sessions on the
    // standby would hold the second rotation back.
    values["config"]["targets"][0]["database"]["standby_sessions"] = "terminate".into();
    r.install(&values);
    wait_until("two rotations", Duration::from_secs(200), || async {
        r.rotations() >= 2
    })
    .await;
    wait_until("a failed login", Duration::from_secs(30), || async {
        r.counts.failed() > 0
    })
    .await;
    let counts = r.counts.read();
    let failed: Vec<&PodCount> = counts.iter().filter(|c| c.failed > 0).collect();
    assert_eq!(counts.len(), 2, "nothing restarted the pods: {counts:#?}");
    assert!(
        failed.iter().all(|c| c
            .last_error
            .as_deref()
            .is_some_and(|e| e.contains("password authentication failed"))),
        "{failed:#?}"
    );
}
