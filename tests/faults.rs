//! The fault-injection suite: a rotation interrupted at every store call
//! and every database login and statement (before the call, and after it
//! took effect with its answer lost), on every store, then run again.
//! After each interruption the invariants of docs/protocol.md must hold:
//!
//! - I1: the store's current credential logs in;
//! - I2: the previous user logs in with a password the store holds
//!   (previous, or pending once the interrupted run set it);
//! - I4: the current version is unchanged unless promote completed;
//! - I3: one rerun converges: current and previous log in, no pending
//!   version is left, the users alternated, and a pending version was
//!   finished with its own password (resumed, not replaced).

mod support;

use secrecy::{ExposeSecret, SecretString};
use seesaw::config::{Config, StoreConfig, TargetConfig};
use seesaw::db::Postgres;
use seesaw::runtime::{Engine, NoProgress, RotateOptions};
use seesaw::secret::Credential;
use seesaw::store::{SecretStore, StoreState, Versioned};
use std::sync::Arc;
use support::fault::{FailAfter, Faults, FaultyDatabase, FaultyStore, When};
use support::seesaw::{Target, ADMIN, ADMIN_PASSWORD, DB};

fn target_config(t: &Target, store: &StoreConfig) -> TargetConfig {
    std::env::set_var("TEST_ADMIN_PASSWORD", ADMIN_PASSWORD);
    let mut config = Config::load(&t.config).unwrap().targets[0].clone();
    config.store = store.clone();
    config
}

async fn open(store: &StoreConfig) -> Box<dyn SecretStore> {
    seesaw::store::open(store).await.unwrap()
}

/// An engine whose every store and database call goes through `faults`.
async fn faulty_engine(t: &Target, store: &StoreConfig, faults: &Arc<Faults>) -> Engine {
    let config = target_config(t, store);
    let admin = (!t.admin_self).then(|| Credential::new(ADMIN, SecretString::from(ADMIN_PASSWORD)));
    let db = Postgres::new(&config.database).unwrap();
    Engine::with_backends(
        config,
        Box::new(FaultyDatabase {
            inner: Box::new(db),
            faults: faults.clone(),
        }),
        Box::new(FaultyStore {
            inner: open(store).await,
            faults: faults.clone(),
        }),
        admin,
    )
}

fn credential(v: &Versioned) -> Credential {
    v.document.credential().unwrap()
}

async fn logs_in(t: &Target, c: &Credential) -> bool {
    t.cluster
        .can_login(&c.username, c.password.expose_secret(), DB)
        .await
}

/// I1, I2 and I4 after an interrupted run that started from `before`.
async fn check_interrupted(t: &Target, before: &StoreState, now: &StoreState, point: &str) {
    let current = credential(&now.current);
    assert!(
        logs_in(t, &current).await,
        "I1 broken after {point}: the store's current {:?} does not log in",
        current.username
    );
    if now.current.version != before.current.version {
        // Promote completed: the old current is the previous now.
        let previous = now.previous.as_ref().expect("a previous version");
        assert_eq!(
            previous.document, before.current.document,
            "I4 broken after {point}: the current version changed but the previous is not the old current"
        );
        assert!(logs_in(t, &credential(previous)).await, "I2 after {point}");
    } else if let Some(previous) = &before.previous {
        let previous = credential(previous);
        let mut works = logs_in(t, &previous).await;
        if let Some(pending) = &now.pending {
            let pending = credential(pending);
            works |= pending.username == previous.username && logs_in(t, &pending).await;
        }
        assert!(
            works,
            "I2 broken after {point}: {:?} logs in with no password the store holds",
            previous.username
        );
    }
}

/// Interrupts one rotation at every call and checks each rerun; returns the
/// number of points covered.
async fn every_crash_point_converges(t: &Target, store: &StoreConfig, label: &str) -> usize {
    let faults = Arc::new(Faults::default());
    let engine = faulty_engine(t, store, &faults).await;
    let checker = open(store).await;
    // Two clean rotations: the store gets a previous version, and the
    // second counts the calls of a rotation from such a state.
    engine
        .rotate(RotateOptions::default(), &NoProgress)
        .await
        .unwrap();
    faults.disarm();
    engine
        .rotate(RotateOptions::default(), &NoProgress)
        .await
        .unwrap();
    let calls = faults.count();
    assert!(calls >= 8, "{label}: only {calls} calls counted");
    let mut points = 0;
    for n in 0..calls {
        for when in [When::Before, When::After] {
            let before = checker.read().await.unwrap();
            let active = credential(&before.current).username;
            faults.arm(n, when);
            let result = engine.rotate(RotateOptions::default(), &NoProgress).await;
            let point = format!("{label}: fault {when:?} call {n} ({})", faults.call(n));
            faults.disarm();
            let now = checker.read().await.unwrap();
            check_interrupted(t, &before, &now, &point).await;
            let promoted = now.current.version != before.current.version;
            if let Err(e) = &result {
                let text = e.to_string();
                assert!(!text.contains("Password-"), "{point}: a password in {text}");
            }
            // I3: one rerun converges.
            let report = engine
                .rotate(RotateOptions::default(), &NoProgress)
                .await
                .unwrap_or_else(|e| panic!("{point}: the rerun failed: {e}"));
            assert!(report.new_version.is_some(), "{point}");
            let done = checker.read().await.unwrap();
            assert!(done.pending.is_none(), "{point}: a pending version is left");
            let current = credential(&done.current);
            let previous = credential(done.previous.as_ref().unwrap());
            assert!(
                logs_in(t, &current).await,
                "{point}: current after the rerun"
            );
            assert!(
                logs_in(t, &previous).await,
                "{point}: previous after the rerun"
            );
            let expected_active = if promoted || result.is_ok() {
                active.clone() // the interrupted run rotated; the rerun rotated back
            } else {
                t.users.iter().find(|u| **u != active).unwrap().clone()
            };
            assert_eq!(
                current.username, expected_active,
                "{point}: users did not alternate"
            );
            if let Some(pending) = &now.pending {
                let pending = credential(pending);
                if pending.username == current.username && !promoted {
                    assert_eq!(
                        pending.password.expose_secret(),
                        current.password.expose_secret(),
                        "{point}: the rerun replaced the pending password instead of resuming it"
                    );
                }
            }
            points += 1;
        }
    }
    eprintln!(
        "{label}: {points} crash points covered ({calls} calls x before/after), all converged"
    );
    points
}

fn file_store(t: &Target) -> StoreConfig {
    StoreConfig::File(seesaw::config::FileStoreConfig {
        path: t.store.clone(),
    })
}

#[tokio::test]
async fn file_store_every_crash_point_converges() {
    let t = Target::new(["app_a", "app_b"]).await;
    assert!(every_crash_point_converges(&t, &file_store(&t), "file").await > 0);
}

#[tokio::test]
async fn admin_self_every_crash_point_converges() {
    let mut t = Target::new(["app_a", "app_b"]).await;
    // Self mode needs the standby's password in the store's previous version.
    t.set_password("app_b", "standby-Password-2").await;
    t.write_store(serde_json::json!({
        "current": {"username": "app_a", "password": "initial-Password-1"},
        "previous": {"username": "app_b", "password": "standby-Password-2"}
    }));
    t.admin_self = true;
    t.write_config();
    assert!(every_crash_point_converges(&t, &file_store(&t), "file, admin: self").await > 0);
}

#[tokio::test]
async fn aws_every_crash_point_converges() {
    let Some(moto) = support::moto::Moto::start() else {
        return;
    };
    let t = Target::new(["app_a", "app_b"]).await;
    moto.create(
        "faults/app",
        &serde_json::json!({"username": "app_a", "password": "initial-Password-1"}),
    )
    .await;
    let store = StoreConfig::Aws(moto.config("faults/app"));
    assert!(every_crash_point_converges(&t, &store, "aws").await > 0);
}

#[tokio::test]
async fn gcp_every_crash_point_converges() {
    let Some(drongo) = support::drongo::Drongo::start() else {
        return;
    };
    let t = Target::new(["app_a", "app_b"]).await;
    drongo
        .create(
            "faults-app",
            &serde_json::json!({"username": "app_a", "password": "initial-Password-1"}),
        )
        .await;
    let store = StoreConfig::Gcp(drongo.config("faults-app"));
    assert!(every_crash_point_converges(&t, &store, "gcp").await > 0);
}

#[tokio::test]
async fn azure_every_crash_point_converges() {
    let vault = support::keyvault::Vault::start();
    let t = Target::new(["app_a", "app_b"]).await;
    vault.set(
        "faults-app",
        &serde_json::json!({"username": "app_a", "password": "initial-Password-1"}),
    );
    let store = StoreConfig::Azure(vault.config("faults-app"));
    assert!(every_crash_point_converges(&t, &store, "azure").await > 0);
}

/// The step boundaries, through the engine's progress hook (the daemon's
/// shutdown and a Lambda's deadline stop a run there).
#[tokio::test]
async fn a_stop_after_each_step_converges() {
    let t = Target::new(["app_a", "app_b"]).await;
    let engine = t.engine().await;
    let store = open(&file_store(&t)).await;
    for step in ["stage", "set_password", "verify", "publish"] {
        let before = store.read().await.unwrap();
        let err = engine
            .rotate(RotateOptions::default(), &FailAfter(step))
            .await
            .expect_err("the fault should stop the run");
        assert_eq!(err.kind(), "interrupted", "{err}");
        let now = store.read().await.unwrap();
        check_interrupted(&t, &before, &now, step).await;
        if step != "publish" {
            assert_eq!(now.current.version, before.current.version, "{step}");
            assert!(now.pending.is_some(), "{step}: the pending version is kept");
        }
        engine
            .rotate(RotateOptions::default(), &seesaw::runtime::NoProgress)
            .await
            .unwrap_or_else(|e| panic!("the rotation after a stop at {step} failed: {e}"));
        assert!(t.logs_in("current").await, "after {step}");
        assert!(t.logs_in("previous").await, "after {step}");
    }
}

#[tokio::test]
async fn a_second_process_is_kept_out_by_the_advisory_lock() {
    let t = Target::new(["app_a", "app_b"]).await;
    let holder = t.hold_lock().await;
    let before = std::fs::read(&t.store).unwrap();
    let run = t.seesaw(&["rotate", "demo", "--force"]).await;
    assert_eq!(run.code, 3, "{}", run.all());
    assert!(
        run.stderr.contains("holds the advisory lock"),
        "{}",
        run.stderr
    );
    assert_eq!(std::fs::read(&t.store).unwrap(), before);
    drop(holder);
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(t.seesaw(&["rotate", "demo"]).await.code, 0);
}

/// Between verify and publish, the first run's session is terminated (as a
/// restart, `pg_terminate_backend` or a network reset would) and a second
/// run takes the lock and rotates. The first must not publish; the second
/// finishes the first's pending version; the store's current logs in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_lock_stops_the_publish_and_the_next_run_finishes_the_rotation() {
    use seesaw::rotation::Step;
    use seesaw::runtime::Progress;
    struct LoseLock<'a> {
        t: &'a Target,
        second: &'a Engine,
        outcome: std::sync::Mutex<Option<Result<seesaw::runtime::Report, String>>>,
    }
    impl Progress for LoseLock<'_> {
        fn finished(&self, _: &str, step: &Step, _: std::time::Duration) -> Result<(), String> {
            if step.name() != "verify" {
                return Ok(());
            }
            let outcome = tokio::task::block_in_place(|| {
                tokio::runtime::Handle::current().block_on(async {
                    let su = self.t.cluster.superuser().await;
                    su.execute(
                        "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND granted AND pid <> pg_backend_pid()",
                        &[],
                    )
                    .await
                    .unwrap();
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    self.second
                        .rotate(RotateOptions::default(), &NoProgress)
                        .await
                        .map_err(|e| e.to_string())
                })
            });
            *self.outcome.lock().unwrap() = Some(outcome);
            Ok(())
        }
    }
    let t = Target::new(["app_a", "app_b"]).await;
    let first = t.engine().await;
    let second = t.engine().await;
    let store = open(&file_store(&t)).await;
    let hook = LoseLock {
        t: &t,
        second: &second,
        outcome: Default::default(),
    };
    let err = first
        .rotate(RotateOptions::default(), &hook)
        .await
        .expect_err("the run that lost its lock must not publish");
    assert_eq!(err.kind(), "lock_lost", "{err}");
    let text = err.to_string();
    assert!(text.contains("nothing was published"), "{text}");
    assert!(
        text.contains("the session holding it is gone (connection_lost)"),
        "a dropped session is not reported as `cannot connect`: {text}"
    );
    assert!(
        text.contains("Checked just now") && text.contains("\"app_b\" logs in"),
        "the hint must come from a fresh probe: {text}"
    );
    let second_run = hook
        .outcome
        .lock()
        .unwrap()
        .take()
        .expect("the second run ran");
    second_run.expect("the second run finishes the rotation");
    let state = store.read().await.unwrap();
    assert_eq!(credential(&state.current).username, "app_b");
    assert!(state.pending.is_none());
    assert!(t.logs_in("current").await, "I1");
    assert!(t.logs_in("previous").await, "I2");
}

/// I5: 8 processes started together on one target with `min_interval`
/// make exactly one rotation; the others find it up to date (or the lock
/// taken) and change nothing. 10 rounds.
#[tokio::test]
async fn concurrent_runs_make_one_rotation_per_due_slot() {
    let mut t = Target::new(["app_a", "app_b"]).await;
    t.target_extra = "    min_interval: 2s\n".into();
    t.write_config();
    let mut rotations = Vec::new();
    for round in 0..10 {
        let runs = futures::future::join_all((0..8).map(|_| t.seesaw(&["rotate", "demo"]))).await;
        let mut rotated = 0;
        for run in &runs {
            match run.code {
                0 if run.stdout.contains("rotated demo") => rotated += 1,
                0 => assert!(run.stdout.contains("up to date"), "{}", run.all()),
                3 => assert!(
                    run.stderr.contains("holds the advisory lock"),
                    "{}",
                    run.all()
                ),
                _ => panic!("round {round}: {}", run.all()),
            }
        }
        rotations.push(rotated);
        assert!(
            t.logs_in("current").await,
            "round {round}: {:?}",
            t.read_store()
        );
        assert!(
            t.logs_in("previous").await,
            "round {round}: {:?} {}",
            t.read_store(),
            runs.iter()
                .map(|r| r.all())
                .collect::<Vec<_>>()
                .join("\n---\n")
        );
        tokio::time::sleep(std::time::Duration::from_millis(2300)).await;
    }
    assert_eq!(rotations, vec![1; 10], "rotations per round");
    // --now overrides min_interval and says so.
    let forced = t.seesaw(&["rotate", "demo", "--now"]).await;
    assert_eq!(forced.code, 0, "{}", forced.all());
    let again = t.seesaw(&["rotate", "demo", "--now"]).await;
    assert!(again.stdout.contains("rotated demo"), "{}", again.all());
    assert!(
        again.stderr.contains("--now: ignoring min_interval 2s"),
        "{}",
        again.all()
    );
}

/// Rollback needs only the previous credential: it repairs a broken current.
#[tokio::test]
async fn rollback_repairs_a_broken_current_credential() {
    let t = Target::new(["app_a", "app_b"]).await;
    assert_eq!(t.seesaw(&["rotate", "demo"]).await.code, 0);
    // Someone changed app_b's password behind seesaw's back.
    t.set_password("app_b", "changed-by-hand-1").await;
    let rotate = t.seesaw(&["rotate", "demo"]).await;
    assert_eq!(rotate.code, 1, "{}", rotate.all());
    assert!(
        rotate
            .stderr
            .contains("The previous version logs in: `seesaw rollback demo`"),
        "{}",
        rotate.stderr
    );
    let rollback = t.seesaw(&["rollback", "demo"]).await;
    assert_eq!(rollback.code, 0, "{}", rollback.all());
    assert_eq!(t.login("current").0, "app_a");
    assert!(t.logs_in("current").await);
    // With neither credential working, the hint says so instead.
    t.set_password("app_a", "changed-by-hand-2").await;
    let rotate = t.seesaw(&["rotate", "demo"]).await;
    assert!(
        rotate.stderr.contains("does not log in either"),
        "{}",
        rotate.stderr
    );
}

/// An open transaction holding the standby's pg_authid row would make
/// ALTER ROLE wait forever: lock_timeout ends it, naming the blocker, and
/// the rerun (once the transaction ends) finishes with the same pending.
#[tokio::test]
async fn a_locked_standby_row_fails_fast_naming_the_blocker() {
    let mut t = Target::new(["app_a", "app_b"]).await;
    t.database_extra = "      lock_timeout: 1s\n".into();
    t.write_config();
    let blocker = t.cluster.superuser().await;
    blocker
        .batch_execute(
            "SET application_name = 'migration-tool'; BEGIN; ALTER ROLE app_b CONNECTION LIMIT 50",
        )
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let run = t.seesaw(&["rotate", "demo"]).await;
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(started.elapsed() < std::time::Duration::from_secs(15));
    assert!(run.stderr.contains("lock_timeout"), "{}", run.stderr);
    assert!(run.stderr.contains("migration-tool"), "{}", run.stderr);
    let pending = t.read_store()["pending"].clone();
    assert_eq!(pending["username"], "app_b");
    assert!(t.logs_in("current").await, "I1");
    blocker.batch_execute("ROLLBACK").await.unwrap();
    let run = t.seesaw(&["rotate", "demo"]).await;
    assert_eq!(run.code, 0, "{}", run.all());
    assert_eq!(t.read_store()["current"]["password"], pending["password"]);
    assert!(t.logs_in("previous").await);
}

/// The real binary, SIGKILLed at points spread over a rotation's run time
/// (process start, lock, stage, ALTER ROLE, verify, promote: whatever the
/// moment holds), then run again: I1-I4 after each kill, and the rerun
/// converges.
async fn killing_the_process_converges(t: &Target, store: &StoreConfig, label: &str) {
    let checker = open(store).await;
    // Two runs: a previous version exists, and the second is timed.
    assert_eq!(t.seesaw(&["rotate", "demo"]).await.code, 0);
    let started = std::time::Instant::now();
    assert_eq!(t.seesaw(&["rotate", "demo"]).await.code, 0);
    let took = started.elapsed();
    let points = 24;
    let mut interrupted = 0;
    for i in 0..points {
        let before = checker.read().await.unwrap();
        let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_seesaw"))
            .arg("--config")
            .arg(&t.config)
            .args(["rotate", "demo"])
            .env("TEST_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        tokio::time::sleep(took.mul_f64(i as f64 / points as f64)).await;
        let _ = child.start_kill();
        let status = child.wait().await.unwrap();
        interrupted += usize::from(!status.success());
        let now = checker.read().await.unwrap();
        let point = format!("{label}: killed at {i}/{points} of {took:?}");
        check_interrupted(t, &before, &now, &point).await;
        let rerun = t.seesaw(&["rotate", "demo"]).await;
        assert_eq!(rerun.code, 0, "{point}: {}", rerun.all());
        let done = checker.read().await.unwrap();
        assert!(done.pending.is_none(), "{point}");
        assert!(logs_in(t, &credential(&done.current)).await, "{point}");
        assert!(
            logs_in(t, &credential(done.previous.as_ref().unwrap())).await,
            "{point}"
        );
    }
    eprintln!(
        "{label}: {points} kills over {took:?}, {interrupted} interrupted a run, all converged"
    );
    assert!(
        interrupted > points / 2,
        "{label}: most kills should land inside the run"
    );
}

#[tokio::test]
async fn file_store_killing_the_process_converges() {
    let t = Target::new(["app_a", "app_b"]).await;
    killing_the_process_converges(&t, &file_store(&t), "file").await;
    let leftovers: Vec<_> = std::fs::read_dir(t.store.parent().unwrap())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(
        leftovers.is_empty(),
        "temporary files left behind: {leftovers:?}"
    );
}

#[tokio::test]
async fn aws_killing_the_process_converges() {
    let Some(moto) = support::moto::Moto::start() else {
        return;
    };
    let t = Target::new(["app_a", "app_b"]).await;
    let store = on_moto(&t, &moto, "kills/app").await;
    killing_the_process_converges(&t, &store, "aws").await;
}

/// An endpoint that accepts the connection and never answers: the run ends
/// within the store's timeout with a clear error, and no password changed.
#[tokio::test]
async fn a_store_that_never_answers_times_out_and_changes_nothing() {
    let t = Target::new(["app_a", "app_b"]).await;
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", silent.local_addr().unwrap());
    let hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = silent.accept().await {
            held.push(socket); // accepted, never answered
        }
    });
    t.use_store(&format!(
        "aws: {{ secret_id: silent/app, region: us-east-1, endpoint_url: \"{url}\", timeout: 2s }}"
    ));
    let started = std::time::Instant::now();
    let run = t
        .seesaw_with(
            &["rotate", "demo"],
            &[
                ("AWS_ACCESS_KEY_ID", Some("testing".as_ref())),
                ("AWS_SECRET_ACCESS_KEY", Some("testing".as_ref())),
            ],
        )
        .await;
    let took = started.elapsed();
    hold.abort();
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(took < std::time::Duration::from_secs(15), "took {took:?}");
    assert!(
        run.stderr.contains("no answer within 2s")
            || run.stderr.contains("timed out")
            || run.stderr.contains("timeout"),
        "{}",
        run.stderr
    );
    assert!(!t.cluster.server_log().contains("PASSWORD 'SCRAM-SHA-256"));
}

/// Points the target at a moto secret holding `app_a`'s credential.
async fn on_moto(t: &Target, moto: &support::moto::Moto, secret: &str) -> StoreConfig {
    moto.create(
        secret,
        &serde_json::json!({"username": "app_a", "password": "initial-Password-1"}),
    )
    .await;
    t.use_store(&format!(
        "aws: {{ secret_id: {secret}, region: us-east-1, endpoint_url: \"{}\" }}",
        moto.url
    ));
    StoreConfig::Aws(moto.config(secret))
}

/// Writes `user`'s credential as the store's pending version, as a run
/// killed right after staging (or another tool) would leave it.
async fn stage(store: &dyn SecretStore, user: &str, password: &str, token: &str) {
    let state = store.read().await.unwrap();
    let document = state.current.document.with_credential(&Credential::new(
        user,
        SecretString::from(password.to_owned()),
    ));
    store
        .stage(seesaw::store::PublishRequest {
            document: &document,
            replaces: &state.current.version,
            token,
        })
        .await
        .unwrap();
}

/// Issue item 1: killed after PutSecretValue (staged AWSPENDING) and before
/// UpdateSecretVersionStage. The rerun finishes that version with its own
/// password, and AWSPREVIOUS keeps logging in.
#[tokio::test]
async fn aws_a_version_left_pending_by_a_killed_run_is_finished_with_its_password() {
    let Some(moto) = support::moto::Moto::start() else {
        return;
    };
    let t = Target::new(["app_a", "app_b"]).await;
    let store = on_moto(&t, &moto, "left/app").await;
    assert_eq!(t.seesaw(&["rotate", "demo"]).await.code, 0); // app_b current, app_a previous
    let aws = open(&store).await;
    // What the killed run had written: app_a's next credential, pending.
    stage(
        aws.as_ref(),
        "app_a",
        "left-pending-Password-7",
        "77777777777777777777777777777777",
    )
    .await;
    for rerun in 0..2 {
        let run = t.seesaw(&["rotate", "demo", "--now"]).await;
        assert_eq!(run.code, 0, "rerun {rerun}: {}", run.all());
        let now = aws.read().await.unwrap();
        assert!(now.pending.is_none());
        assert!(logs_in(&t, &credential(&now.current)).await);
        assert!(logs_in(&t, &credential(now.previous.as_ref().unwrap())).await);
        if rerun == 0 {
            assert_eq!(
                credential(&now.current).password.expose_secret(),
                "left-pending-Password-7",
                "the rerun resumed the pending version instead of setting another password"
            );
        }
    }
}

/// A pending version seesaw cannot explain (for the active user, or
/// registered by RotateSecret without a value) is refused before the
/// database changes, with the command that clears it.
#[tokio::test]
async fn aws_a_foreign_pending_version_is_refused_before_any_change() {
    let Some(moto) = support::moto::Moto::start() else {
        return;
    };
    let t = Target::new(["app_a", "app_b"]).await;
    let store = on_moto(&t, &moto, "foreign/app").await;
    let aws = open(&store).await;
    stage(
        aws.as_ref(),
        "app_a",
        "someone-else-Password-8",
        "88888888888888888888888888888888",
    )
    .await;
    let run = t.seesaw(&["rotate", "demo"]).await;
    assert_eq!(run.code, 3, "{}", run.all());
    assert!(
        run.stderr.contains("seesaw cannot explain it"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("update-secret-version-stage --secret-id foreign/app --version-stage AWSPENDING --remove-from-version-id 88888888888888888888888888888888"),
        "{}",
        run.stderr
    );
    assert!(!run.all().contains("someone-else-Password-8"));
    assert!(!t.cluster.server_log().contains("PASSWORD 'SCRAM-SHA-256"));
    // Cleared as told, the next run rotates.
    moto.client()
        .await
        .update_secret_version_stage()
        .secret_id("foreign/app")
        .version_stage("AWSPENDING")
        .remove_from_version_id("88888888888888888888888888888888")
        .send()
        .await
        .unwrap();
    assert_eq!(t.seesaw(&["rotate", "demo"]).await.code, 0);
    // A value-less AWSPENDING (RotateSecret registering a rotation for a
    // Lambda) cannot be resumed either: reported, never overwritten.
    moto.start_rotation("foreign/app", "99999999999999999999999999999999")
        .await;
    let run = t.seesaw(&["rotate", "demo", "--now"]).await;
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(
        run.stderr
            .contains("--remove-from-version-id 99999999999999999999999999999999"),
        "{}",
        run.stderr
    );
    let alter_roles = t
        .cluster
        .server_log()
        .matches("PASSWORD 'SCRAM-SHA-256")
        .count();
    assert_eq!(alter_roles, 1, "only the one rotation changed a password");
}
