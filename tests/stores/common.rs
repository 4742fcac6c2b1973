//! A full rotation, three times over, against whichever store the target
//! uses, from the initial credential.

use crate::support;
use crate::support::seesaw::Target;
use seesaw::store::SecretStore;
use serde_json::json;

/// Points the target's config at `store_yaml` (one line under `store:`,
/// reached with `env`),
/// then rotates three times: the users alternate, the store's current and
/// previous both log in, and no password reaches the output.
pub async fn rotate_three_times(
    t: &Target,
    store_yaml: &str,
    env: &[(String, String)],
    store: &dyn SecretStore,
) {
    t.use_store(store_yaml, env);
    for expected in ["app_b", "app_a", "app_b"] {
        let run = t.seesaw(&["rotate", "demo"]).await;
        assert_eq!(run.code, 0, "{}", run.all());
        let state = store.read().await.unwrap();
        let current = state.current.document.credential().unwrap();
        let previous = state.previous.unwrap().document.credential().unwrap();
        assert_eq!(current.username, expected);
        use secrecy::ExposeSecret;
        for credential in [&current, &previous] {
            assert!(
                t.cluster
                    .can_login(
                        &credential.username,
                        credential.password.expose_secret(),
                        support::seesaw::DB
                    )
                    .await,
                "{} logs in",
                credential.username
            );
        }
        assert!(!run.all().contains(current.password.expose_secret()));
    }
}

pub fn initial() -> serde_json::Value {
    json!({"username": "app_a", "password": "initial-Password-1", "engine": "postgres"})
}
