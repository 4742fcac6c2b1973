//! Leader election between the release's two pods, through the Lease API
//! with the ServiceAccount token each pod's kubelet mounted.

use crate::release::{wait_until, Release, LEASE};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Pod;
use std::time::Duration;

/// `seesaw_leader` on the pod's /metrics, or `None` while it does not answer.
async fn leads(pod: &Pod) -> Option<bool> {
    let (code, body) = Release::get(pod, "/metrics").await?;
    (code == 200).then(|| body.lines().any(|l| l.trim() == "seesaw_leader 1"))
}

/// Whether the Lease's holder is `pod` (seesaw's identity is the pod's
/// name, its HOSTNAME, and a random suffix).
async fn holds(r: &Release, pod: &Pod) -> bool {
    let Some(lease) = r.kube.api::<Lease>().get_opt("seesaw").await.unwrap() else {
        return false;
    };
    let holder = lease
        .spec
        .and_then(|s| s.holder_identity)
        .unwrap_or_default();
    holder.starts_with(&format!("{}-", name(pod)))
}

fn name(pod: &Pod) -> String {
    pod.metadata.name.clone().unwrap()
}

/// Exactly one of the two pods leads (its /metrics and the Lease agree);
/// the leader's pod is deleted: another takes the Lease within the
/// lease duration, and the next slot is rotated exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_pod_leads_and_the_other_takes_over_when_it_is_deleted() {
    let Some(mut r) = Release::prepare().await else {
        return;
    };
    let values = r.values(2, &[]);
    r.install(&values);
    // Each pod's answer, until exactly one leads and the other follows.
    let mut pair = Vec::new();
    let started = std::time::Instant::now();
    loop {
        pair.clear();
        for pod in r.pods().await {
            pair.push((leads(&pod).await, pod));
        }
        let count = |want| pair.iter().filter(|(l, _)| *l == Some(want)).count();
        if count(true) == 1 && count(false) == 1 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "not exactly one leader after 60 s: {:?}",
            pair.iter().map(|(l, p)| (l, name(p))).collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let leader = pair
        .iter()
        .find(|(l, _)| *l == Some(true))
        .unwrap()
        .1
        .clone();
    let other = pair
        .iter()
        .find(|(l, _)| *l == Some(false))
        .unwrap()
        .1
        .clone();
    assert!(holds(&r, &leader).await, "the Lease names the leader");

    // The leader goes between two slots: the last one's rotation is done,
    // the takeover is over before the next one.
    wait_until("10 s past a slot", Duration::from_secs(60), || async {
        let s = chrono::Utc::now().timestamp() % 60;
        (10..35).contains(&s)
    })
    .await;
    let before = r.rotations();
    let (current, _) = r.login("current");
    r.kube
        .api::<Pod>()
        .delete(&name(&leader), &Default::default())
        .await
        .unwrap();
    // Another pod takes the Lease once it expires: the other replica, or
    // the pod the ReplicaSet started in the deleted one's place. They race,
    // because the stopping leader does not give the Lease up (it expires).
    let started = std::time::Instant::now();
    let successor = loop {
        let mut found = None;
        for pod in r.pods().await {
            if name(&pod) != name(&leader)
                && holds(&r, &pod).await
                && leads(&pod).await == Some(true)
            {
                found = Some(pod);
            }
        }
        if let Some(pod) = found {
            break pod;
        }
        assert!(
            started.elapsed() < LEASE + Duration::from_secs(10),
            "no pod took the Lease {:?} after the leader's pod was deleted",
            started.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let took = started.elapsed();
    let which = if name(&successor) == name(&other) {
        "the other replica"
    } else {
        "the deleted pod's replacement"
    };
    eprintln!("{which} took the Lease {took:?} after the leader's pod was deleted");
    // The Lease expires at most its duration after the leader's last
    // renewal (which came before the deletion), and is taken at expiry; the
    // slack is this loop's polling.
    assert!(
        took <= LEASE + Duration::from_secs(2),
        "took {took:?}, the lease lasts {LEASE:?}"
    );
    let mut leaders = 0;
    for pod in r.pods().await {
        leaders += usize::from(leads(&pod).await == Some(true));
    }
    assert_eq!(leaders, 1, "one leader among the running pods");

    // The next slot, and 25 s for its rotation.
    let next = 60 - chrono::Utc::now().timestamp() % 60;
    tokio::time::sleep(Duration::from_secs(next as u64 + 25)).await;
    assert_eq!(r.rotations(), before + 1, "the next slot, rotated once");
    // The store's history agrees: what was current is now the previous.
    let (previous, _) = r.login("previous");
    assert_eq!(previous, current);
    assert!(
        leads(&successor).await == Some(true),
        "the successor still leads"
    );
}
