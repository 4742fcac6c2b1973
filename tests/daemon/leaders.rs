//! Several daemons on one target: leader election and its handover, and
//! replicas without a leader or that both lead rotating each slot once.

use crate::common::{options, rotations, sleep_until_sim, two_targets, SPEED};
use crate::support;
use crate::support::daemon::{get, start};
use crate::support::seesaw::Target;
use seesaw::schedule::{utc, Clock};
use std::net::SocketAddr;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_daemons_one_leader_and_a_handover_when_it_dies() {
    let extra =
        "leader_election: { enabled: always, lease: seesaw, namespace: ops, duration: 2s }\n";
    let t = two_targets(extra).await;
    let kube = support::kube::FakeKube::start(None).await;
    let clock = Clock::starting_at(
        utc(2026, 6, 1, 12, 0) + chrono::Duration::seconds(30),
        SPEED,
    );
    let with_kube = || {
        let mut o = options(clock);
        o.engine.kubeconfig = Some(kube.kubeconfig());
        o
    };
    let rt_a = tokio::runtime::Runtime::new().unwrap();
    let rt_b = tokio::runtime::Runtime::new().unwrap();
    let (addr_a, _stop_a, _task_a) = start(rt_a.handle(), &t.config, with_kube()).await;
    let (addr_b, _stop_b, _task_b) = start(rt_b.handle(), &t.config, with_kube()).await;
    sleep_until_sim(
        &clock,
        utc(2026, 6, 1, 12, 3) + chrono::Duration::seconds(30),
    )
    .await;
    assert_eq!(
        rotations(&t, ["app_a", "app_b"]),
        3,
        "exactly one rotation per slot with two daemons"
    );
    assert_eq!(rotations(&t, ["app_c", "app_d"]), 3);
    let leads = |text: &str| text.lines().any(|l| l.trim() == "seesaw_leader 1");
    let (a, b) = (
        get(addr_a, "/metrics").await.1,
        get(addr_b, "/metrics").await.1,
    );
    assert!(leads(&a) != leads(&b), "exactly one leader");
    let (leader_rt, survivor_rt, survivor) = if leads(&a) {
        (rt_a, rt_b, addr_b)
    } else {
        (rt_b, rt_a, addr_a)
    };
    // The leader dies without releasing the Lease.
    leader_rt.shutdown_background();
    sleep_until_sim(
        &clock,
        utc(2026, 6, 1, 12, 9) + chrono::Duration::seconds(30),
    )
    .await;
    assert!(
        leads(&get(survivor, "/metrics").await.1),
        "the survivor took over"
    );
    for users in [["app_a", "app_b"], ["app_c", "app_d"]] {
        let n = rotations(&t, users);
        assert!((6..=9).contains(&n), "{users:?}: {n} rotations for 9 slots: the survivor rotates after taking over, never twice a slot");
    }
    assert!(t.logs_in("current").await && t.logs_in("previous").await);
    survivor_rt.shutdown_background();
    drop(kube);
}

/// A leader that stops (SIGTERM, a rolling update) gives the Lease up: a
/// replica that starts then (the rolling update's new pod) leads at once,
/// not when a 60 s Lease would have expired. (A replica already waiting
/// sleeps until the expiry it last read, as kube-lease-manager does.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_that_stops_releases_the_lease() {
    let extra =
        "leader_election: { enabled: always, lease: seesaw, namespace: ops, duration: 60s }\n";
    let t = two_targets(extra).await;
    let kube = support::kube::FakeKube::start(None).await;
    let clock = Clock::starting_at(utc(2026, 6, 1, 12, 0), 1.0);
    let with_kube = || {
        let mut o = options(clock);
        o.engine.kubeconfig = Some(kube.kubeconfig());
        o
    };
    let leads = |text: String| text.lines().any(|l| l.trim() == "seesaw_leader 1");
    let until_leads = |addr: SocketAddr, what: &'static str| async move {
        let started = std::time::Instant::now();
        while !leads(get(addr, "/metrics").await.1) {
            assert!(
                started.elapsed() < std::time::Duration::from_secs(15),
                "{what} did not lead within 15 s (the Lease lasts 60 s)"
            );
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        started.elapsed()
    };
    let rt_a = tokio::runtime::Runtime::new().unwrap();
    let (addr_a, stop_a, task_a) = start(rt_a.handle(), &t.config, with_kube()).await;
    until_leads(addr_a, "the first replica").await;
    let _ = stop_a.send(());
    task_a.await.unwrap().unwrap();
    // As a process ends when `run` returns: whatever it left running stops.
    rt_a.shutdown_background();
    let rt_c = tokio::runtime::Runtime::new().unwrap();
    let (addr_c, _stop_c, _task_c) = start(rt_c.handle(), &t.config, with_kube()).await;
    let took = until_leads(addr_c, "the replica started after the leader stopped").await;
    eprintln!("the new replica led {took:?} after it started");
    rt_c.shutdown_background();
    drop(kube);
}

/// Two daemons on one config, each on a runtime of its own (two
/// processes, as far as they can tell).
struct Replicas {
    /// The first one's HTTP address.
    addr: SocketAddr,
    runtimes: Vec<tokio::runtime::Runtime>,
    _stops: Vec<tokio::sync::oneshot::Sender<()>>,
}

impl Replicas {
    async fn start(t: &Target, clock: Clock) -> Replicas {
        let mut runtimes = Vec::new();
        let mut stops = Vec::new();
        let mut addrs = Vec::new();
        for _ in 0..2 {
            let rt = tokio::runtime::Runtime::new().unwrap();
            let (addr, stop, _task) = start(rt.handle(), &t.config, options(clock)).await;
            addrs.push(addr);
            stops.push(stop);
            runtimes.push(rt);
        }
        Replicas {
            addr: addrs[0],
            runtimes,
            _stops: stops,
        }
    }

    fn stop(self) {
        for rt in self.runtimes {
            rt.shutdown_background();
        }
    }
}

/// I5 across daemons: two replicas without leader election, due at the
/// same instant. The lock lets one rotate; the other, once it gets the
/// lock, re-reads the store, finds it rotated within min_interval and
/// changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_daemons_without_a_leader_rotate_once_per_slot() {
    let extra =
        "  min_interval: 30m\nleader_election: { enabled: never }\nretry: { blocked: 300ms }\n";
    let t = two_targets(extra).await;
    let clock = Clock::starting_at(
        utc(2026, 6, 1, 12, 0) + chrono::Duration::seconds(30),
        SPEED,
    );
    let replicas = Replicas::start(&t, clock).await;
    let addr_a = replicas.addr;
    sleep_until_sim(
        &clock,
        utc(2026, 6, 1, 12, 3) + chrono::Duration::seconds(30),
    )
    .await;
    assert_eq!(
        rotations(&t, ["app_a", "app_b"]),
        1,
        "one rotation for the 12:01 slot; min_interval covers 12:02 and 12:03"
    );
    assert_eq!(rotations(&t, ["app_c", "app_d"]), 1);
    assert!(t.logs_in("current").await && t.logs_in("previous").await);
    // Nothing is running now, and the metrics say so.
    let text = get(addr_a, "/metrics").await.1;
    assert!(
        text.lines()
            .filter(|l| l.starts_with("seesaw_rotation_started_timestamp_seconds"))
            .all(|l| l.ends_with(" 0.0") || l.ends_with(" 0")),
        "{text}"
    );
    replicas.stop();
}

/// Two replicas that both believe they lead (no election here; a stalled
/// leader that lost its lease is the same) and no `min_interval`: each slot
/// is rotated once, not once per replica. The second to get the lock finds
/// the version published within half a period of the slot.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_that_both_lead_rotate_each_slot_once() {
    let extra = "leader_election: { enabled: never }\nretry: { blocked: 300ms }\n";
    let t = two_targets(extra).await;
    let clock = Clock::starting_at(
        utc(2026, 6, 1, 12, 0) + chrono::Duration::seconds(30),
        SPEED,
    );
    let replicas = Replicas::start(&t, clock).await;
    sleep_until_sim(
        &clock,
        utc(2026, 6, 1, 12, 3) + chrono::Duration::seconds(45),
    )
    .await;
    for users in [["app_a", "app_b"], ["app_c", "app_d"]] {
        assert_eq!(
            rotations(&t, users),
            3,
            "{users:?}: the slots 12:01, 12:02 and 12:03, once each"
        );
    }
    assert!(t.logs_in("current").await && t.logs_in("previous").await);
    replicas.stop();
}
