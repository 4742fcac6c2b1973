//! The four steps over a store that is not Secrets Manager: they use only
//! `RotationStages`, so there is no AWS-only path. The file store is the
//! hard case: it names versions by their content, not by the caller's
//! token, so after createSecret the steps name the version it made.

use crate::common::{logs_in, STEPS};
use crate::support::seesaw::{Target, ADMIN, ADMIN_PASSWORD, DB};
use seesaw::config::TlsMode;
use seesaw::runtime::lambda::{Function, Rotation, Settings, Step};
use seesaw::runtime::NoProgress;
use seesaw::store::{FileStore, SecretStore};
use serde_json::json;

fn rotation(step: Step, token: &str) -> Rotation {
    Rotation {
        step,
        secret_id: "app".into(),
        token: token.into(),
    }
}

async fn pending_version(t: &Target) -> Option<String> {
    let state = FileStore::new(t.store.clone()).read().await.unwrap();
    state.pending.map(|p| p.version)
}

#[tokio::test]
async fn the_four_steps_rotate_a_secret_in_a_file_store_three_times() {
    let t = Target::new(["app_a", "app_b"]).await;
    let master = t.cluster.dir().join("master.json");
    let connection = json!({"engine": "postgres", "host": "127.0.0.1",
        "port": t.cluster.port, "dbname": DB});
    let mut admin = connection.clone();
    admin["username"] = json!(ADMIN);
    admin["password"] = json!(ADMIN_PASSWORD);
    std::fs::write(&master, json!({ "current": admin }).to_string()).unwrap();
    let mut app = connection.clone();
    app["username"] = json!("app_a");
    app["password"] = json!("initial-Password-1");
    app["masterarn"] = json!("master");
    app["seesaw"] = json!({"users": ["app_a", "app_b"]});
    t.write_store(json!({ "current": app }));
    let (app_file, master_file) = (t.store.clone(), master.clone());
    let settings = Settings {
        tls: TlsMode::Disable,
        ..Settings::default()
    };
    let function = Function::with_stores(settings, move |id| {
        Box::new(FileStore::new(if id == "master" {
            master_file.clone()
        } else {
            app_file.clone()
        }))
    });
    for (n, expected) in ["app_b", "app_a", "app_b"].iter().enumerate() {
        let before = t.read_store()["current"].clone();
        let token = format!("token-{n}");
        function
            .handle(&rotation(Step::CreateSecret, &token), &NoProgress)
            .await
            .unwrap();
        let version = pending_version(&t)
            .await
            .expect("createSecret staged a version");
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
        for step in STEPS {
            for attempt in ["first", "retried"] {
                function
                    .handle(&rotation(step, &version), &NoProgress)
                    .await
                    .unwrap_or_else(|e| panic!("{attempt} {step}: {e}"));
            }
        }
        let after = t.read_store();
        assert_eq!(after["current"]["username"], *expected);
        assert_eq!(after["previous"], before, "the version before is previous");
        assert!(after.get("pending").is_none(), "{after}");
        assert!(logs_in(&t, &after["current"]).await, "current logs in");
        assert!(logs_in(&t, &before).await, "previous still logs in");
        assert_eq!(after["current"]["masterarn"], "master", "fields are kept");
    }
    // The finished version is current: every step under it is a no-op.
    let stored = t.read_store();
    let current = FileStore::new(t.store.clone())
        .read()
        .await
        .unwrap()
        .current;
    for step in STEPS {
        function
            .handle(&rotation(step, &current.version), &NoProgress)
            .await
            .unwrap();
    }
    assert_eq!(t.read_store(), stored);
}
