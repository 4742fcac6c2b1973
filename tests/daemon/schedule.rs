//! One daemon on its schedule: every slot rotated, health and metrics
//! served, and a broken reload that keeps the old schedule.

use crate::common::{options, rotations, sleep_until_sim, two_targets, SPEED};
use crate::support::daemon::{get, start};
use seesaw::schedule::{utc, Clock};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotates_each_slot_and_serves_health_and_metrics() {
    let t = two_targets("").await;
    let clock = Clock::starting_at(
        utc(2026, 6, 1, 12, 0) + chrono::Duration::seconds(30),
        SPEED,
    );
    let (addr, stop, task) = start(
        &tokio::runtime::Handle::current(),
        &t.config,
        options(clock),
    )
    .await;
    assert_eq!(get(addr, "/healthz").await.0, 200);
    // Ready once the targets are scheduled and leadership is known (the
    // HTTP server is up before that, answering 503).
    let mut ready = get(addr, "/readyz").await;
    for _ in 0..100 {
        if ready.0 == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        ready = get(addr, "/readyz").await;
    }
    let (code, body) = ready;
    assert_eq!(code, 200, "{body}");
    assert!(body.contains("2 target(s), leader"), "{body}");
    sleep_until_sim(
        &clock,
        utc(2026, 6, 1, 12, 2) + chrono::Duration::seconds(30),
    )
    .await;
    assert_eq!(
        rotations(&t, ["app_a", "app_b"]),
        2,
        "one rotation per slot (12:01, 12:02)"
    );
    assert_eq!(rotations(&t, ["app_c", "app_d"]), 2);
    assert!(t.logs_in("current").await && t.logs_in("previous").await);

    let status = t.seesaw(&["status", "--output", "json"]).await;
    let status: serde_json::Value = serde_json::from_str(&status.stdout).unwrap();
    for s in status.as_array().unwrap() {
        assert!(
            s["next_due"].as_str().is_some_and(|d| d.contains('T')),
            "status shows the next due time: {s}"
        );
    }

    let (code, text) = get(addr, "/metrics").await;
    assert_eq!(code, 200);
    let lines = text.lines().map(|l| Ok(l.to_owned()));
    let scrape =
        prometheus_parse::Scrape::parse(lines).expect("the metrics parse as Prometheus text");
    assert!(!scrape.samples.is_empty());
    for name in [
        "seesaw_rotations_total",
        "seesaw_rotation_duration_seconds_bucket",
        "seesaw_last_success_timestamp_seconds",
        "seesaw_next_rotation_timestamp_seconds",
        "seesaw_standby_sessions",
        "seesaw_leader",
    ] {
        assert!(
            text.lines().any(|l| l.starts_with(name)),
            "missing {name} in\n{text}"
        );
    }
    let success: f64 = scrape
        .samples
        .iter()
        .filter(|s| {
            s.metric == "seesaw_rotations_total" && s.labels.get("result") == Some("success")
        })
        .map(|s| match s.value {
            prometheus_parse::Value::Counter(v) | prometheus_parse::Value::Untyped(v) => v,
            _ => 0.0,
        })
        .sum();
    assert_eq!(success, 4.0, "{text}");
    for s in &scrape.samples {
        for (k, v) in s.labels.iter() {
            assert!(
                k == "target" || k == "result" || k == "reason" || k == "le" || k == "step",
                "unexpected label {k}"
            );
            assert!(v.len() < 64, "label values are bounded: {v}");
        }
    }
    let _ = stop.send(());
    tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .expect("stops")
        .unwrap()
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_reload_keeps_the_old_schedule_and_says_so() {
    let t = two_targets("").await;
    let clock = Clock::starting_at(
        utc(2026, 6, 1, 12, 0) + chrono::Duration::seconds(30),
        SPEED,
    );
    let (addr, stop, task) = start(
        &tokio::runtime::Handle::current(),
        &t.config,
        options(clock),
    )
    .await;
    let good = std::fs::read_to_string(&t.config).unwrap();
    std::fs::write(
        &t.config,
        good.replace("schedule: \"* * * * *\"", "schedule: \"every minute\""),
    )
    .unwrap();
    tokio::time::sleep(Duration::from_millis(600)).await;
    let (code, body) = get(addr, "/readyz").await;
    assert_eq!(code, 503, "{body}");
    assert!(
        body.contains("rejected") && body.contains("defaults.schedule"),
        "{body}"
    );
    // The old schedule keeps rotating.
    sleep_until_sim(
        &clock,
        utc(2026, 6, 1, 12, 1) + chrono::Duration::seconds(30),
    )
    .await;
    assert_eq!(rotations(&t, ["app_a", "app_b"]), 1);
    std::fs::write(&t.config, &good).unwrap();
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(get(addr, "/readyz").await.0, 200);
    let _ = stop.send(());
    tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .expect("stops")
        .unwrap()
        .unwrap();
}
