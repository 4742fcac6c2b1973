//! Leader election on the real API server, the leader's access stalled.

use crate::support;
use crate::support::kube::real::RealKube;
use crate::support::seesaw::Target;
use std::time::Duration;

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
    let clock = Clock::starting_at(utc(2026, 6, 1, 12, 0) + chrono::Duration::seconds(30), 30.0);
    let options = |kubeconfig: std::path::PathBuf| {
        let mut o = DaemonOptions {
            http_address: Some("127.0.0.1:0".into()),
            clock,
            reload_poll: Duration::from_millis(100),
            engine: support::seesaw::engine_options(),
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
    // Slots 12:01 and 12:02 under A alone. A loaded machine may finish
    // the second a little late: wait for it until just before 12:03.
    tokio::time::sleep(clock.until(utc(2026, 6, 1, 12, 2) + chrono::Duration::seconds(40))).await;
    while rotations() < 2 && clock.now() < utc(2026, 6, 1, 12, 2) + chrono::Duration::seconds(58) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
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
