//! A rotation interrupted at every store call and database statement, on
//! every store, and at every step boundary; each rerun converges.

use crate::common::{check_interrupted, credential, faulty_engine, file_store, logs_in, open};
use crate::support;
use crate::support::fault::{FailAfter, Faults, When};
use crate::support::seesaw::Target;
use secrecy::ExposeSecret;
use seesaw::config::StoreConfig;
use seesaw::runtime::{NoProgress, RotateOptions};
use std::sync::Arc;

/// What arms a crash at the n-th call of a run: the fault layer around the
/// store and database methods, or a relay before a store's every request.
pub trait CrashPoints {
    fn arm(&self, n: usize, when: When);
    fn disarm(&self);
    /// Calls since the last arm or disarm.
    fn count(&self) -> usize;
    fn fired(&self) -> bool;
    fn trace(&self) -> Vec<String>;
}

impl CrashPoints for Faults {
    fn arm(&self, n: usize, when: When) {
        Faults::arm(self, n, when)
    }
    fn disarm(&self) {
        Faults::disarm(self)
    }
    fn count(&self) -> usize {
        Faults::count(self)
    }
    fn fired(&self) -> bool {
        Faults::fired(self)
    }
    fn trace(&self) -> Vec<String> {
        self.trace.lock().unwrap().clone()
    }
}

/// Interrupts one rotation at every call and checks each rerun. `expected`
/// is the number of calls a rotation makes on this store (pinned: a
/// change to it is a change to what this suite covers, made on purpose).
async fn every_crash_point_converges(
    t: &Target,
    store: &StoreConfig,
    label: &str,
    expected: usize,
) {
    let faults = Arc::new(Faults::default());
    let engine = faulty_engine(t, store, &faults).await;
    let checker = open(store).await;
    converges_at_every_point(
        t,
        &engine,
        checker.as_ref(),
        faults.as_ref(),
        label,
        expected,
    )
    .await;
}

/// The crash-point loop over any [`CrashPoints`]: `engine` runs through
/// them, `checker` reads the store directly.
pub async fn converges_at_every_point(
    t: &Target,
    engine: &seesaw::runtime::Engine,
    checker: &dyn seesaw::store::SecretStore,
    faults: &dyn CrashPoints,
    label: &str,
    expected: usize,
) {
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
    eprintln!(
        "{label}: a rotation makes {calls} calls: {:?}",
        faults.trace()
    );
    assert_eq!(calls, expected, "{label}: the calls of a rotation changed; pin the new count once the trace above is what a rotation should do");
    let mut points = 0;
    for n in 0..calls {
        for when in [When::Before, When::After] {
            let before = checker.read().await.unwrap();
            let active = credential(&before.current).username;
            faults.arm(n, when);
            let result = engine.rotate(RotateOptions::default(), &NoProgress).await;
            let point = format!(
                "{label}: fault {when:?} call {n} ({})",
                faults.trace().get(n).cloned().unwrap_or_default()
            );
            assert!(
                faults.fired(),
                "{point}: the armed fault was never reached (the run made {} calls)",
                faults.count()
            );
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
    assert_eq!(points, 2 * expected);
}

#[tokio::test]
async fn file_store_every_crash_point_converges() {
    let t = Target::new(["app_a", "app_b"]).await;
    every_crash_point_converges(&t, &file_store(&t), "file", 17).await;
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
    every_crash_point_converges(&t, &file_store(&t), "file, admin: self", 16).await;
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
    every_crash_point_converges(&t, &store, "aws", 17).await;
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
    every_crash_point_converges(&t, &store, "gcp", 17).await;
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
    every_crash_point_converges(&t, &store, "azure", 17).await;
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
