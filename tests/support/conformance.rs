//! One conformance suite for every `SecretStore`: what the protocol relies
//! on, checked the same way against each backend.

use seesaw::secret::SecretDocument;
use seesaw::store::{PublishRequest, SecretStore};
use serde_json::{json, Value};

/// The document a store under test must hold as its only version.
pub fn adopted() -> Value {
    json!({"username": "app_a", "password": "first-Secret-1", "host": "db", "extra": {"team": "x", "n": 1}})
}

fn doc(v: Value) -> SecretDocument {
    SecretDocument::from_value(v).unwrap()
}

/// `store` holds [`adopted`] as its current (and only) version.
pub async fn run(store: &dyn SecretStore) {
    let name = store.describe();
    // Read current of an adopted secret.
    let state = store
        .read()
        .await
        .unwrap_or_else(|e| panic!("{name}: read: {e}"));
    assert_eq!(state.current.document, doc(adopted()), "{name}: current");
    assert!(
        state.previous.is_none(),
        "{name}: an adopted secret has no previous version"
    );
    let v1 = state.current.version.clone();

    // Publish keeps the previous; unknown fields survive.
    let mut next = adopted();
    next["username"] = json!("app_b");
    next["password"] = json!("second-Secret-2");
    let next_doc = doc(next.clone());
    let token = "00000000000000000000000000000001";
    let request = PublishRequest {
        document: &next_doc,
        replaces: &v1,
        token,
    };
    let v2 = store
        .publish(request)
        .await
        .unwrap_or_else(|e| panic!("{name}: publish: {e}"));
    assert_ne!(v2, v1);
    let state = store.read().await.unwrap();
    assert_eq!(state.current.version, v2, "{name}");
    assert_eq!(
        state.current.document, next_doc,
        "{name}: the new document, unknown fields and all"
    );
    let previous = state.previous.expect("publish keeps the previous version");
    assert_eq!(previous.document, doc(adopted()), "{name}: previous");
    assert_eq!(previous.version, v1);

    // A retried publish is idempotent.
    let again = store
        .publish(request)
        .await
        .unwrap_or_else(|e| panic!("{name}: retried publish: {e}"));
    assert_eq!(again, v2, "{name}: a retry creates no second version");
    let state = store.read().await.unwrap();
    assert_eq!(
        (
            state.current.version.as_str(),
            state.previous.map(|p| p.version)
        ),
        (v2.as_str(), Some(v1.clone())),
        "{name}"
    );

    // A writer that read before the last publish is detected.
    let mut stale = adopted();
    stale["password"] = json!("stale-Secret-3");
    let stale_doc = doc(stale);
    let err = store
        .publish(PublishRequest {
            document: &stale_doc,
            replaces: &v1,
            token: "00000000000000000000000000000002",
        })
        .await
        .expect_err("a stale publish must fail");
    assert_eq!(err.kind(), "conflict", "{name}: {err}");
    assert!(err.to_string().contains("another writer"), "{name}: {err}");
    assert_eq!(
        store.read().await.unwrap().current.version,
        v2,
        "{name}: nothing was overwritten"
    );
    for secret in ["first-Secret-1", "second-Secret-2", "stale-Secret-3"] {
        assert!(
            !err.to_string().contains(secret),
            "{name}: an error shows a secret"
        );
    }
}

/// A store pointing at a secret that does not exist.
pub async fn not_found(store: &dyn SecretStore) {
    let err = store.read().await.expect_err("a missing secret must fail");
    assert_eq!(err.kind(), "not_found", "{err}");
    assert!(
        err.to_string().contains(&store.describe()),
        "the error names the store: {err}"
    );
}

/// The pending contract, on a store that holds [`adopted`] as its current
/// version. `again` is a second instance on the same secret, as the next
/// run (another process) would open it: a staged version must survive the
/// process that staged it.
pub async fn pending(store: &dyn SecretStore, again: &dyn SecretStore) {
    let name = store.describe();
    let state = store.read().await.unwrap();
    assert!(state.pending.is_none(), "{name}: no pending version yet");
    let v1 = state.current.version.clone();
    let mut next = adopted();
    next["username"] = json!("app_b");
    next["password"] = json!("pending-Secret-4");
    let next_doc = doc(next);
    let request = PublishRequest {
        document: &next_doc,
        replaces: &v1,
        token: "00000000000000000000000000000011",
    };
    let staged = store
        .stage(request)
        .await
        .unwrap_or_else(|e| panic!("{name}: stage: {e}"));
    assert_eq!(
        store.stage(request).await.unwrap(),
        staged,
        "{name}: a retried stage"
    );
    // Durable, and invisible as current: applications still read v1.
    let seen = again.read().await.unwrap();
    assert_eq!(
        seen.current.version, v1,
        "{name}: staging changed the current version"
    );
    let pending = seen
        .pending
        .expect("the pending version survives the process");
    assert_eq!(
        (pending.version.as_str(), &pending.document),
        (staged.as_str(), &next_doc),
        "{name}"
    );
    // Another credential may not replace it; the error says how to clear it.
    let mut other = adopted();
    other["password"] = json!("other-Secret-5");
    let other_doc = doc(other);
    let err = again
        .stage(PublishRequest {
            document: &other_doc,
            replaces: &v1,
            token: "00000000000000000000000000000012",
        })
        .await
        .expect_err("a second pending version must be refused");
    assert_eq!(err.kind(), "pending_exists", "{name}: {err}");
    assert!(
        err.to_string().contains(&again.clear_pending_hint(&staged)),
        "{name}: {err}"
    );
    assert!(!err.to_string().contains("Secret-4") && !err.to_string().contains("Secret-5"));
    // The next run promotes it; a retry of the promote changes nothing.
    let v2 = again
        .promote(&staged, &v1)
        .await
        .unwrap_or_else(|e| panic!("{name}: promote: {e}"));
    assert_eq!(
        again.promote(&staged, &v1).await.unwrap(),
        v2,
        "{name}: a retried promote"
    );
    let done = store.read().await.unwrap();
    assert_eq!(
        (done.current.version.as_str(), &done.current.document),
        (v2.as_str(), &next_doc),
        "{name}"
    );
    assert_eq!(
        done.previous.map(|p| p.version),
        Some(v1),
        "{name}: previous"
    );
    assert!(
        done.pending.is_none(),
        "{name}: promoted, so nothing is pending"
    );
}
