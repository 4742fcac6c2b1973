//! A fault after each protocol step leaves the active credential working,
//! and the next rotation completes.

mod support;

use seesaw::runtime::{NoProgress, RotateOptions};
use std::time::Duration;
use support::fault::FailAfter;
use support::seesaw::Target;

#[tokio::test]
async fn a_fault_after_each_step_is_safe_and_the_next_run_completes() {
    let t = Target::new(["app_a", "app_b"]).await;
    let engine = t.engine().await;
    for step in ["set_password", "verify", "publish"] {
        let before = t.read_store();
        let err = engine
            .rotate(RotateOptions::default(), &FailAfter(step))
            .await
            .expect_err("the fault should stop the run");
        assert_eq!(err.kind(), "interrupted", "{err}");
        assert!(err.to_string().contains(step), "{err}");
        assert!(
            t.logs_in("current").await,
            "after a fault at {step}: the active credential stopped working"
        );
        if step == "publish" {
            // Published: the standby is now active and the old user still works.
            assert_eq!(t.read_store()["previous"], before["current"]);
            assert!(t.logs_in("previous").await);
        } else {
            assert_eq!(
                t.read_store(),
                before,
                "a fault before publish must not change the store"
            );
        }
        let report = engine
            .rotate(RotateOptions::default(), &NoProgress)
            .await
            .unwrap_or_else(|e| panic!("the rotation after a fault at {step} failed: {e}"));
        assert!(report.new_version.is_some());
        assert!(t.logs_in("current").await, "after recovering from {step}");
        assert!(t.logs_in("previous").await, "after recovering from {step}");
    }
}

#[tokio::test]
async fn a_second_process_is_kept_out_by_the_advisory_lock() {
    let t = Target::new(["app_a", "app_b"]).await;
    // Hold the target's lock the way another seesaw would: on the target database.
    let holder = t
        .cluster
        .connect(
            "postgres",
            support::pg::SUPERUSER_PASSWORD,
            support::seesaw::DB,
        )
        .await
        .unwrap();
    holder
        .query_one(
            "SELECT pg_advisory_lock($1)",
            &[&seesaw::db::lock_key("demo")],
        )
        .await
        .unwrap();
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
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(t.seesaw(&["rotate", "demo"]).await.code, 0);
}
