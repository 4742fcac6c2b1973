//! The advisory lock: a second process kept out, a lost lock stopping the
//! publish, and concurrent runs making one rotation per due slot.

use crate::common::{credential, file_store, open};
use crate::support::seesaw::Target;
use seesaw::runtime::{Engine, NoProgress, RotateOptions};

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
    // The second run finished the rotation: rerunning would rotate again.
    assert!(
        text.contains("Another run finished a rotation meanwhile")
            && text.contains("nothing to do"),
        "{text}"
    );
    assert!(!text.contains("run again to continue"), "{text}");
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
