//! The four steps over stores that are not Secrets Manager: they use only
//! `RotationStages`, so there is no AWS-only path. GCP (on drongo) keeps
//! the caller's token as the pending version's id, so every call names
//! it, as on AWS. The file store names versions by their content, so after
//! createSecret the calls name the version it made.

use crate::common::{logs_in, STEPS};
use crate::support::seesaw::{Target, ADMIN, ADMIN_PASSWORD, DB};
use seesaw::config::TlsMode;
use seesaw::runtime::lambda::{Function, Rotation, Settings, Step};
use seesaw::runtime::NoProgress;
use seesaw::store::{FileStore, SecretStore};
use serde_json::{json, Value};

fn rotation(step: Step, token: &str) -> Rotation {
    Rotation {
        step,
        secret_id: "app".into(),
        token: token.into(),
    }
}

fn settings() -> Settings {
    Settings {
        tls: TlsMode::Disable,
        ..Settings::default()
    }
}

/// The master's document and the app's (RDS shape, explicit pair).
fn documents(t: &Target) -> (Value, Value) {
    let connection = json!({"engine": "postgres", "host": "127.0.0.1",
        "port": t.cluster.port, "dbname": DB});
    let mut admin = connection.clone();
    admin["username"] = json!(ADMIN);
    admin["password"] = json!(ADMIN_PASSWORD);
    let mut app = connection;
    app["username"] = json!("app_a");
    app["password"] = json!("initial-Password-1");
    app["masterarn"] = json!("master");
    app["seesaw"] = json!({"users": ["app_a", "app_b"]});
    (admin, app)
}

/// Runs every step twice (Secrets Manager retries) under `version`.
async fn steps_twice(function: &Function, version: &str) {
    for step in STEPS {
        for attempt in ["first", "retried"] {
            function
                .handle(&rotation(step, version), &NoProgress)
                .await
                .unwrap_or_else(|e| panic!("{attempt} {step}: {e}"));
        }
    }
}

/// After a rotation from `before` to `expected`: both log in, fields kept.
async fn assert_rotated(t: &Target, store: &dyn SecretStore, before: &Value, expected: &str) {
    let state = store.read().await.unwrap();
    let current = state.current.document.to_value();
    assert_eq!(current["username"], expected);
    assert!(state.pending.is_none(), "nothing is left pending");
    let previous = state.previous.expect("the version before is kept");
    assert_eq!(previous.document.to_value()["password"], before["password"]);
    assert!(logs_in(t, &current).await, "current logs in");
    assert!(logs_in(t, before).await, "previous still logs in");
    assert_eq!(current["masterarn"], "master", "fields are kept");
}

#[tokio::test]
async fn the_four_steps_rotate_a_secret_in_a_file_store_three_times() {
    let t = Target::new(["app_a", "app_b"]).await;
    let master = t.cluster.dir().join("master.json");
    let (admin, app) = documents(&t);
    std::fs::write(&master, json!({ "current": admin }).to_string()).unwrap();
    t.write_store(json!({ "current": app }));
    let (app_file, master_file) = (t.store.clone(), master.clone());
    let function = Function::with_stores(settings(), move |id| {
        Box::new(FileStore::new(if id == "master" {
            master_file.clone()
        } else {
            app_file.clone()
        }))
    });
    let store = FileStore::new(t.store.clone());
    for (n, expected) in ["app_b", "app_a", "app_b"].iter().enumerate() {
        let before = t.read_store()["current"].clone();
        function
            .handle(
                &rotation(Step::CreateSecret, &format!("token-{n}")),
                &NoProgress,
            )
            .await
            .unwrap();
        let version = store.read().await.unwrap().pending.unwrap().version;
        assert_eq!(t.read_store()["pending"]["username"], *expected);
        // A second rotation while this one is pending is refused, naming
        // the pending version, and changes nothing.
        let stored = t.read_store();
        let e = function
            .handle(&rotation(Step::CreateSecret, "another"), &NoProgress)
            .await
            .unwrap_err();
        assert!(e.message.contains(&version), "{e}");
        assert_eq!(
            t.read_store(),
            stored,
            "a refused createSecret wrote nothing"
        );
        steps_twice(&function, &version).await;
        assert_rotated(&t, &store, &before, expected).await;
    }
    // The finished version is current: every step under it is a no-op.
    let stored = t.read_store();
    let current = store.read().await.unwrap().current;
    steps_twice(&function, &current.version).await;
    assert_eq!(t.read_store(), stored);
}

#[cfg(feature = "gcp")]
#[tokio::test]
async fn the_four_steps_rotate_a_gcp_secret_under_the_callers_token() {
    use crate::support::drongo::Drongo;
    use seesaw::store::{GcpStore, RotationStages, VersionState};
    let Some(drongo) = Drongo::start() else {
        return;
    };
    let t = Target::new(["app_a", "app_b"]).await;
    let (admin, app) = documents(&t);
    drongo.create("master", &admin).await;
    drongo.create("app", &app).await;
    let store = GcpStore::connect(&drongo.config("app")).await.unwrap();
    let stores = [
        ("app", store.clone()),
        (
            "master",
            GcpStore::connect(&drongo.config("master")).await.unwrap(),
        ),
    ];
    let function = Function::with_stores(settings(), move |id| {
        let (_, store) = stores.iter().find(|(name, _)| *name == id).unwrap();
        Box::new(store.clone())
    });
    for (n, expected) in ["app_b", "app_a", "app_b"].iter().enumerate() {
        let before = store.read().await.unwrap().current.document.to_value();
        let token = format!("{:032x}", n + 1);
        steps_twice(&function, &token).await;
        assert_rotated(&t, &store, &before, expected).await;
        // The token stays known after finishSecret: a late retry of any
        // step is a no-op, never a new pending version.
        let state = store.version_state(&token, seesaw::store::Reads::Labels);
        assert!(matches!(state.await.unwrap(), VersionState::Current));
        let current = store.read().await.unwrap().current;
        steps_twice(&function, &token).await;
        assert_eq!(store.read().await.unwrap().current.version, current.version);
    }
    // While one rotation is pending, another token is refused.
    function
        .handle(&rotation(Step::CreateSecret, "pending-one"), &NoProgress)
        .await
        .unwrap();
    let e = function
        .handle(&rotation(Step::CreateSecret, "another"), &NoProgress)
        .await
        .unwrap_err();
    assert!(e.message.contains("pending-one"), "{e}");
}
