//! Retries: a database outage with backoff, a blocked gate sooner.

use crate::common::{options, rotations, sleep_until_sim, two_targets, SPEED};
use crate::support::daemon::{get, start};
use crate::support::seesaw::DB;
use seesaw::schedule::{utc, Clock};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_outage_is_retried_with_backoff_and_a_blocked_gate_sooner() {
    let extra = "retry: { attempts: 6, initial_backoff: 300ms, max_backoff: 1s, blocked: 300ms }\n";
    let mut t = two_targets(extra).await;
    // The test cluster runs with synchronous_commit off: make the setup
    // durable before the crash below.
    t.cluster
        .superuser()
        .await
        .batch_execute("CHECKPOINT")
        .await
        .unwrap();
    let clock = Clock::starting_at(
        utc(2026, 6, 1, 12, 0) + chrono::Duration::seconds(50),
        SPEED / 10.0,
    );
    let (addr, stop, task) = start(
        &tokio::runtime::Handle::current(),
        &t.config,
        options(clock),
    )
    .await;
    // The database is down when 12:01 comes (10 s of schedule time = 3.3 s real).
    t.cluster.stop();
    sleep_until_sim(
        &clock,
        utc(2026, 6, 1, 12, 1) + chrono::Duration::seconds(5),
    )
    .await;
    t.cluster.start_again();
    sleep_until_sim(
        &clock,
        utc(2026, 6, 1, 12, 1) + chrono::Duration::seconds(30),
    )
    .await;
    assert_eq!(
        rotations(&t, ["app_a", "app_b"]),
        1,
        "retried after the outage"
    );
    assert_eq!(rotations(&t, ["app_c", "app_d"]), 1);

    // Now a session holds the standby of `demo`: the gate blocks, and is
    // retried every 300 ms until the session closes.
    let (standby, password) = t.login("previous");
    let session = t.cluster.connect(&standby, &password, DB).await.unwrap();
    sleep_until_sim(
        &clock,
        utc(2026, 6, 1, 12, 2) + chrono::Duration::seconds(10),
    )
    .await;
    assert_eq!(
        rotations(&t, ["app_a", "app_b"]),
        1,
        "blocked while the session is open"
    );
    let (_, metrics) = get(addr, "/metrics").await;
    assert!(
        metrics.contains("seesaw_gate_blocked{target=\"demo\",reason=\"standby_sessions\"} 1"),
        "{metrics}"
    );
    // The count is the one the blocked attempt saw, not the last success's.
    assert!(
        metrics.contains("seesaw_standby_sessions{target=\"demo\"} 1"),
        "{metrics}"
    );
    drop(session);
    sleep_until_sim(
        &clock,
        utc(2026, 6, 1, 12, 2) + chrono::Duration::seconds(25),
    )
    .await;
    assert_eq!(
        rotations(&t, ["app_a", "app_b"]),
        2,
        "rotated once the gate opened, before the next slot"
    );
    let (_, metrics) = get(addr, "/metrics").await;
    assert!(
        metrics.contains("seesaw_gate_blocked{target=\"demo\",reason=\"standby_sessions\"} 0"),
        "{metrics}"
    );
    assert!(t.logs_in("current").await && t.logs_in("previous").await);
    let _ = stop.send(());
    tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .expect("stops")
        .unwrap()
        .unwrap();
}

/// A statement that waited lock_timeout for another transaction changed
/// nothing: the daemon retries it with the configured backoff (not at the
/// next slot, a day away on a daily schedule), and the rotation finishes
/// once the transaction ends, with the pending version it staged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lock_timeout_is_retried_with_backoff_before_the_next_slot() {
    let extra =
        "retry: { attempts: 30, initial_backoff: 300ms, max_backoff: 600ms, blocked: 300ms }\n";
    let t = two_targets(extra).await;
    let config = std::fs::read_to_string(&t.config).unwrap();
    std::fs::write(
        &t.config,
        config.replace(
            "connect_timeout: 3s\n",
            "connect_timeout: 3s\n      lock_timeout: 300ms\n",
        ),
    )
    .unwrap();
    let blocker = t.hold_row_of("app_b").await;
    let clock = Clock::starting_at(
        utc(2026, 6, 1, 12, 0) + chrono::Duration::seconds(50),
        SPEED / 10.0,
    );
    let (_addr, stop, task) = start(
        &tokio::runtime::Handle::current(),
        &t.config,
        options(clock),
    )
    .await;
    sleep_until_sim(
        &clock,
        utc(2026, 6, 1, 12, 1) + chrono::Duration::seconds(15),
    )
    .await;
    // Each attempt sent one ALTER ROLE that waited and failed.
    let attempts = rotations(&t, ["app_a", "app_b"]);
    assert!(attempts >= 3, "{attempts} attempts in 5 s: not retried");
    assert_eq!(t.read_store()["current"]["username"], "app_a");
    assert_eq!(t.read_store()["pending"]["username"], "app_b");
    blocker.batch_execute("ROLLBACK").await.unwrap();
    sleep_until_sim(
        &clock,
        utc(2026, 6, 1, 12, 1) + chrono::Duration::seconds(40),
    )
    .await;
    let store = t.read_store();
    assert_eq!(store["current"]["username"], "app_b", "{store}");
    assert!(store.get("pending").is_none_or(|p| p.is_null()), "{store}");
    assert!(t.logs_in("current").await && t.logs_in("previous").await);
    let _ = stop.send(());
    tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .expect("stops")
        .unwrap()
        .unwrap();
}
