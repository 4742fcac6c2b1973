//! The protocol under random interleavings: two runs of the real engine on
//! one target, against the in-memory database and store, their backend
//! calls interleaved by a random script, with a crash or a lost lock
//! injected at a random call of either run. After every case:
//!
//! - I1: the store's current credential logs in;
//! - I2: the previous user logs in with a password the store holds
//!   (previous, or pending once its `ALTER ROLE` ran);
//! - I4: no promote, no change of the current version;
//! - I5: at most one promote between the two runs (both run with a
//!   `min_interval` of an hour, as concurrent daemons or retries would);
//! - I3: one clean rerun converges, and the slot ends with exactly one
//!   rotation.

mod support;

use proptest::prelude::*;
use seesaw::config::{Config, TargetConfig};
use seesaw::runtime::{Backends, Engine, NoProgress, RotateOptions};
use seesaw::secret::{Credential, SecretDocument};
use seesaw::store::SecretStore;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use support::memory::{MemoryDb, MemoryStore, Scheduler, World};

fn config() -> TargetConfig {
    let yaml = "targets:\n  - name: demo\n    database: { engine: postgres, host: h, dbname: app, users: [a, b], admin: self }\n    store: { file: { path: /unused } }\n";
    Config::parse(yaml, "model.yaml", std::path::Path::new("/"))
        .unwrap()
        .targets[0]
        .clone()
}

fn doc(user: &str, password: &str) -> SecretDocument {
    SecretDocument::from_value(serde_json::json!({"username": user, "password": password})).unwrap()
}

fn admin() -> Option<Credential> {
    Some(Credential::new("admin", "adm".to_owned().into()))
}

fn options() -> RotateOptions {
    RotateOptions {
        min_interval: Some(Duration::from_secs(3600)),
        ..Default::default()
    }
}

fn logs_in(world: &Mutex<World>, d: &SecretDocument) -> bool {
    use secrecy::ExposeSecret;
    let c = d.credential().unwrap();
    world
        .lock()
        .unwrap()
        .passwords
        .get(&c.username)
        .map(String::as_str)
        == Some(c.password.expose_secret())
}

fn engine(
    world: &Arc<Mutex<World>>,
    store: &MemoryStore,
    run: usize,
    s: Option<Arc<Scheduler>>,
) -> Engine {
    let db = MemoryDb {
        world: world.clone(),
        run,
        scheduler: s.clone(),
    };
    Engine::with_backends(
        config(),
        Backends::new(Box::new(db), Box::new(store.for_run(run, s))),
        admin(),
    )
}

/// One case; `Err` names the broken invariant.
async fn case(
    script: Vec<usize>,
    fault: Option<(usize, usize, &'static str)>,
) -> Result<(), String> {
    case_with(script, fault, options()).await
}

/// [`case`] with the two runs' options (the checker's own test turns the
/// `min_interval` re-check off).
async fn case_with(
    script: Vec<usize>,
    fault: Option<(usize, usize, &'static str)>,
    runs: RotateOptions,
) -> Result<(), String> {
    let world = Arc::new(Mutex::new(World::default()));
    {
        let mut w = world.lock().unwrap();
        for (u, p) in [("a", "pa"), ("b", "pb"), ("admin", "adm")] {
            w.passwords.insert(u.into(), p.into());
        }
    }
    let store = MemoryStore::new(doc("a", "pa"), world.clone());
    store.slots.lock().unwrap().previous = Some(seesaw::store::Versioned {
        version: "v0".into(),
        document: doc("b", "pb"),
    });
    let before = store.read().await.unwrap();
    let sched = Scheduler::new(script, fault, world.clone());
    let (e0, e1) = (
        engine(&world, &store, 0, Some(sched.clone())),
        engine(&world, &store, 1, Some(sched.clone())),
    );
    let run = |e: Engine, n: usize| {
        let sched = sched.clone();
        async move {
            let r = e.rotate(runs, &NoProgress).await;
            sched.finish(n);
            r
        }
    };
    let (r0, r1) = tokio::join!(run(e0, 0), run(e1, 1));
    let outcome = format!(
        "run 0: {:?}\nrun 1: {:?}",
        r0.map(|r| r.new_version),
        r1.map(|r| r.new_version)
    );
    let now = store.read().await.unwrap();
    if !logs_in(&world, &now.current.document) {
        return Err(format!("I1: current does not log in\n{outcome}"));
    }
    let promotes = world.lock().unwrap().promotes;
    if promotes > 1 {
        return Err(format!("I5: {promotes} promotes for one slot\n{outcome}"));
    }
    if promotes == 0 && now.current.version != before.current.version {
        return Err(format!(
            "I4: the current version changed without a promote\n{outcome}"
        ));
    }
    if promotes == 0 {
        let previous = before.previous.as_ref().unwrap();
        let pending_works = now.pending.as_ref().is_some_and(|p| {
            p.document.username().ok() == previous.document.username().ok()
                && logs_in(&world, &p.document)
        });
        if !logs_in(&world, &previous.document) && !pending_works {
            return Err(format!(
                "I2: the previous user logs in with no stored password\n{outcome}"
            ));
        }
    } else if !logs_in(&world, &now.previous.as_ref().unwrap().document) {
        return Err(format!(
            "I2: previous does not log in after the promote\n{outcome}"
        ));
    }
    // I3: a clean rerun converges; the slot has exactly one rotation.
    let rerun = engine(&world, &store, 2, None)
        .rotate(options(), &NoProgress)
        .await
        .map_err(|e| format!("I3: the rerun failed: {e}\n{outcome}"))?;
    let done = store.read().await.unwrap();
    let promotes = world.lock().unwrap().promotes;
    if done.pending.is_some()
        || !logs_in(&world, &done.current.document)
        || !logs_in(&world, &done.previous.as_ref().unwrap().document)
        || promotes != 1
    {
        return Err(format!(
            "I3: not converged (promotes {promotes}, pending {}, rerun up_to_date {:?})\n{outcome}",
            done.pending.is_some(),
            rerun.up_to_date
        ));
    }
    Ok(())
}

fn fault() -> impl Strategy<Value = Option<(usize, usize, &'static str)>> {
    prop_oneof![
        Just(None),
        (
            0..2usize,
            1..30usize,
            prop_oneof![Just("crash"), Just("lose_lock")]
        )
            .prop_map(Some),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1500, ..ProptestConfig::default() })]
    #[test]
    fn two_runs_under_any_interleaving_crash_or_lost_lock_keep_the_invariants(
        script in proptest::collection::vec(0..2usize, 0..60),
        fault in fault(),
    ) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
        let result = rt.block_on(case(script, fault));
        prop_assert!(result.is_ok(), "{}", result.unwrap_err());
    }
}

/// The checker catches a broken protocol: without the `min_interval`
/// re-check under the lock, a second run that starts after the first
/// finished rotates the same slot again, and the case reports I5. The same
/// schedule with the re-check passes.
#[tokio::test]
async fn the_checker_reports_i5_when_the_min_interval_recheck_is_off() {
    let first_then_second = [vec![0; 40], vec![1; 40]].concat();
    let without = RotateOptions {
        min_interval: None,
        ..Default::default()
    };
    let broken = case_with(first_then_second.clone(), None, without).await;
    let error = broken.expect_err("two rotations in one slot must be reported");
    assert!(error.starts_with("I5:"), "{error}");
    case(first_then_second, None)
        .await
        .expect("with the re-check, one rotation per slot");
}

/// The in-memory store is held to the same suite as the real ones.
#[tokio::test]
async fn the_memory_store_passes_the_conformance_suite() {
    let world = Arc::new(Mutex::new(World::default()));
    let adopted = SecretDocument::from_value(support::conformance::adopted()).unwrap();
    support::conformance::run(&MemoryStore::new(adopted.clone(), world.clone())).await;
    let store = MemoryStore::new(adopted, world);
    support::conformance::pending(&store, &store.for_run(1, None)).await;
}
