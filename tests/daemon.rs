//! `seesaw run`: scheduling, metrics, reload, leader election, shutdown.
//! Daemons run in-process with a clock that starts at a chosen time and
//! runs 30 times faster than real time, so a cron slot every minute comes
//! every two seconds.

mod support;

use postgres_protocol::escape::{escape_identifier as ident, escape_literal as lit};
use seesaw::runtime::daemon::DaemonOptions;
use seesaw::schedule::{utc, Clock};
use serde_json::json;
use std::net::SocketAddr;
use std::time::Duration;
use support::daemon::{get, start};
use support::seesaw::{Target, ADMIN_PASSWORD, DB};

const SPEED: f64 = 30.0;

/// A cluster with target `demo` (app_a/app_b, from Target) and target
/// `second` (app_c/app_d) in one config, both every minute.
async fn two_targets(extra: &str) -> Target {
    let t = Target::new(["app_a", "app_b"]).await;
    let su = t
        .cluster
        .connect("postgres", support::pg::SUPERUSER_PASSWORD, DB)
        .await
        .unwrap();
    su.batch_execute(&format!(
        "CREATE ROLE app_c LOGIN IN ROLE app_owner PASSWORD {}; CREATE ROLE app_d LOGIN IN ROLE app_owner",
        lit("initial-Password-3")
    ))
    .await
    .unwrap();
    let second = t.cluster.dir().join("second.json");
    std::fs::write(
        &second,
        json!({"current": {"username": "app_c", "password": "initial-Password-3"}}).to_string(),
    )
    .unwrap();
    let demo = std::fs::read_to_string(&t.config).unwrap();
    let target_two = demo
        .split_once("  - name: demo\n")
        .unwrap()
        .1
        .replace("[\"app_a\",\"app_b\"]", "[\"app_c\",\"app_d\"]")
        .replace(
            &t.store.display().to_string(),
            &second.display().to_string(),
        );
    let body = demo.replacen(
        "targets:\n",
        &format!("defaults:\n  schedule: \"* * * * *\"\n{extra}targets:\n"),
        1,
    );
    std::fs::write(&t.config, format!("{body}  - name: second\n{target_two}")).unwrap();
    let _ = ident("");
    t
}

fn options(clock: Clock) -> DaemonOptions {
    std::env::set_var("TEST_ADMIN_PASSWORD", ADMIN_PASSWORD);
    DaemonOptions {
        http_address: Some("127.0.0.1:0".into()),
        clock,
        reload_poll: Duration::from_millis(100),
        ..Default::default()
    }
}

/// Rotations seesaw made, from the server log: one SCRAM `ALTER ROLE` each.
fn rotations(t: &Target, users: [&str; 2]) -> usize {
    t.cluster
        .server_log()
        .lines()
        .filter(|l| {
            l.contains("PASSWORD 'SCRAM-SHA-256$")
                && users
                    .iter()
                    .any(|u| l.contains(&format!("ALTER ROLE \"{u}\"")))
        })
        .count()
}

async fn sleep_until_sim(clock: &Clock, at: chrono::DateTime<chrono::Utc>) {
    tokio::time::sleep(clock.until(at)).await;
}

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

/// Starts `seesaw run` as a process.
fn spawn_daemon(t: &Target, args: &[&str]) -> tokio::process::Child {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_seesaw"))
        .arg("--config")
        .arg(&t.config)
        .args(["--log-format", "json", "run", "--http-addr", "127.0.0.1:0"])
        .args(args)
        .env("TEST_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .env("RUST_LOG", "info")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap()
}

fn sigterm(child: &tokio::process::Child) {
    let pid = child.id().unwrap().to_string();
    assert!(std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
}

#[tokio::test]
async fn sigterm_during_a_rotation_exits_promptly_and_the_next_start_completes_it() {
    let mut t = Target::new(["app_a", "app_b"]).await;
    t.database_extra = "      standby_sessions: wait\n      standby_wait_timeout: 10m\n".into();
    t.write_config();
    let config = std::fs::read_to_string(&t.config).unwrap();
    std::fs::write(
        &t.config,
        format!("shutdown_timeout: 3s\ndefaults: {{ schedule: \"0 3 * * 0\" }}\n{config}"),
    )
    .unwrap();
    // One rotation so app_a (the standby then) has a password; hold a session as it.
    assert_eq!(t.seesaw(&["rotate", "demo"]).await.code, 0);
    let (standby, password) = t.login("previous");
    let session = t.cluster.connect(&standby, &password, DB).await.unwrap();
    let before = t.read_store();

    let mut child = spawn_daemon(&t, &["--rotate-now", "demo"]);
    // Wait until the rotation is waiting on the session.
    let mut waited = 0;
    while !t.cluster.server_log().contains("pg_stat_activity") && waited < 100 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        waited += 1;
    }
    tokio::time::sleep(Duration::from_millis(700)).await;
    let started = std::time::Instant::now();
    sigterm(&child);
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .expect("exits within the bound")
        .unwrap();
    assert!(status.success(), "{status}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "exited after {:?}",
        started.elapsed()
    );
    let mut stderr = String::new();
    use tokio::io::AsyncReadExt;
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .await
        .unwrap();
    assert!(stderr.contains("shutting down"), "{stderr}");
    assert_eq!(t.read_store(), before, "stopped before publishing");
    assert!(t.logs_in("current").await && t.logs_in("previous").await);

    // The session goes away; the next start completes the rotation.
    drop(session);
    let mut child = spawn_daemon(&t, &["--rotate-now", "demo"]);
    let mut done = false;
    for _ in 0..100 {
        if t.read_store() != before {
            done = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    sigterm(&child);
    let _ = tokio::time::timeout(Duration::from_secs(10), child.wait()).await;
    assert!(done, "the next start rotated");
    assert_eq!(t.login("current").0, standby);
    assert!(t.logs_in("current").await && t.logs_in("previous").await);
    for p in [&t.login("current").1, &t.login("previous").1] {
        assert!(
            !stderr.contains(p.as_str()),
            "a password reached the daemon's log"
        );
    }
}

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
