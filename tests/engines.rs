//! The engine-neutral suite: the same scenarios (rotate and alternate, the
//! standby gate, the lock, crash points, hostile names) against PostgreSQL
//! and MariaDB, each a real server per test.

mod support;

use support::engines::{Postgres, TestTarget};

/// Three rotations alternate the pair; current and previous always log in.
async fn rotations_alternate<T: TestTarget>() {
    let t = T::create(["app_a", "app_b"], "").await;
    let mut users = Vec::new();
    for i in 0..3 {
        let run = t.seesaw(&["rotate", "demo"]).await;
        assert_eq!(run.code, 0, "rotation {i}: {}", run.all());
        assert!(t.logs_in("current").await && t.logs_in("previous").await);
        users.push(t.login("current").0);
    }
    assert_eq!(users, ["app_b", "app_a", "app_b"]);
}

/// A live session of the standby holds the rotation (exit 3, nothing
/// changed, the session still works); once it is gone the rotation runs.
async fn a_live_standby_session_holds_the_rotation<T: TestTarget>() {
    let t = T::create(["app_a", "app_b"], "").await;
    assert_eq!(t.seesaw(&["rotate", "demo"]).await.code, 0);
    let (standby, password) = t.login("previous");
    let session = t.session(&standby, &password).await;
    let before = t.read_store();
    let run = t.seesaw(&["rotate", "demo"]).await;
    assert_eq!(run.code, 3, "{}", run.all());
    assert!(run.all().contains("open session"), "{}", run.all());
    assert_eq!(t.read_store(), before);
    assert!(t.logs_in("previous").await);
    drop(session);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let run = t.seesaw(&["rotate", "demo"]).await;
    assert_eq!(run.code, 0, "{}", run.all());
}

/// Another holder of the target's lock keeps a run out, changing nothing.
async fn the_lock_keeps_a_second_run_out<T: TestTarget>() {
    let t = T::create(["app_a", "app_b"], "").await;
    let lock = t.hold_lock().await;
    let before = t.read_store();
    let run = t.seesaw(&["rotate", "demo"]).await;
    assert_eq!(run.code, 3, "{}", run.all());
    assert!(
        run.all().contains("another seesaw process holds"),
        "{}",
        run.all()
    );
    assert_eq!(t.read_store(), before);
    drop(lock);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(t.seesaw(&["rotate", "demo"]).await.code, 0);
}

/// A run stopped after any step leaves every stored credential logging in,
/// and the next run converges.
async fn a_crash_after_any_step_converges<T: TestTarget>() {
    let t = T::create(["app_a", "app_b"], "").await;
    for step in ["stage", "set_password", "verify", "publish"] {
        let engine = t.engine().await;
        let err = engine
            .rotate(Default::default(), &support::fault::FailAfter(step))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), "interrupted", "{err}");
        drop(engine);
        assert!(t.logs_in("current").await, "after {step}: current");
        let run = t.seesaw(&["rotate", "demo"]).await;
        assert_eq!(run.code, 0, "after a crash at {step}: {}", run.all());
        assert!(t.read_store()["pending"].is_null(), "after {step}");
        assert!(t.logs_in("current").await && t.logs_in("previous").await);
    }
}

/// Names with quotes, backslashes and spaces rotate both ways.
async fn hostile_names_rotate<T: TestTarget>() {
    let users = ["we'ird \"q\" x", "b`q\\ z"];
    let t = T::create(users, "").await;
    for _ in 0..2 {
        let run = t.seesaw(&["rotate", "demo"]).await;
        assert_eq!(run.code, 0, "{}", run.all());
        assert!(t.logs_in("current").await && t.logs_in("previous").await);
    }
    assert_eq!(t.login("current").0, users[0]);
}

macro_rules! suite {
    ($module:ident, $target:ty) => {
        mod $module {
            use super::*;
            #[tokio::test]
            async fn rotations_alternate() {
                super::rotations_alternate::<$target>().await
            }
            #[tokio::test]
            async fn a_live_standby_session_holds_the_rotation() {
                super::a_live_standby_session_holds_the_rotation::<$target>().await
            }
            #[tokio::test]
            async fn the_lock_keeps_a_second_run_out() {
                super::the_lock_keeps_a_second_run_out::<$target>().await
            }
            #[tokio::test]
            async fn a_crash_after_any_step_converges() {
                super::a_crash_after_any_step_converges::<$target>().await
            }
            #[tokio::test]
            async fn hostile_names_rotate() {
                super::hostile_names_rotate::<$target>().await
            }
        }
    };
}

suite!(postgres, Postgres);
#[cfg(feature = "mysql")]
suite!(mariadb, support::engines::MariaDb);
