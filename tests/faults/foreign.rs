//! A pending version seesaw did not write (a hand edit, another tool's
//! put-secret-value) is never adopted: a password its policy would not
//! generate, or a document that lacks the current one's fields, is refused
//! before any change, with the way to clear it; cleared, the next run
//! rotates.

use crate::common::{on_moto, open};
use crate::support;
use crate::support::seesaw::{Target, DB};
use serde_json::json;

/// The standby never got a password and the store's current is the same.
async fn nothing_changed(t: &Target, current: &serde_json::Value) {
    assert!(
        t.has_no_password("app_b").await,
        "the standby's password was set"
    );
    assert!(
        t.cluster
            .can_login(
                current["username"].as_str().unwrap(),
                current["password"].as_str().unwrap(),
                DB
            )
            .await
    );
}

#[tokio::test]
async fn a_hand_written_pending_entry_is_refused_then_cleared() {
    let t = Target::new(["app_a", "app_b"]).await;
    let current = json!({"username": "app_a", "password": "initial-Password-1", "host": "db.internal", "port": 5432, "dbname": "app", "team": "payments"});
    let good = seesaw::password::PasswordPolicy::default().generate();
    let cases = [
        (
            json!({"username": "app_b", "password": "pending-pw"}),
            "it has 10 characters and password.length is 32",
        ),
        (
            json!({"username": "app_b", "password": secrecy::ExposeSecret::expose_secret(&good)}),
            "it lacks or changes fields of the current document (",
        ),
    ];
    for (pending, says) in cases {
        t.write_store(json!({"current": current, "pending": pending}));
        let before = std::fs::read(&t.store).unwrap();
        for args in [&["rotate", "demo"][..], &["rotate", "demo", "--force"]] {
            let run = t.seesaw(args).await;
            assert_eq!(run.code, 3, "{}", run.all());
            assert!(run.stderr.contains(says), "{}", run.stderr);
            if says.contains("fields") {
                for field in ["host", "port", "dbname", "team"] {
                    assert!(run.stderr.contains(field), "{}", run.stderr);
                }
            }
            assert!(
                run.stderr.contains("seesaw would not have written"),
                "{}",
                run.stderr
            );
            assert!(
                run.stderr.contains("remove the `pending` key"),
                "{}",
                run.stderr
            );
            assert!(!run.all().contains(pending["password"].as_str().unwrap()));
            assert_eq!(
                std::fs::read(&t.store).unwrap(),
                before,
                "the store changed"
            );
            nothing_changed(&t, &current).await;
        }
        let plan = t.seesaw(&["plan", "demo"]).await;
        assert_eq!(plan.code, 3, "{}", plan.all());
        assert!(plan.all().contains(says), "{}", plan.all());
    }
    // Cleared as told, the next run rotates and keeps every field.
    t.write_store(json!({"current": current}));
    let run = t.seesaw(&["rotate", "demo"]).await;
    assert_eq!(run.code, 0, "{}", run.all());
    let now = t.read_store();
    assert_eq!(now["current"]["username"], "app_b");
    assert_eq!(now["current"]["team"], "payments");
    assert_eq!(now["current"]["host"], "db.internal");
}

#[tokio::test]
async fn aws_a_short_pending_password_put_by_hand_is_refused() {
    let Some(moto) = support::moto::Moto::start() else {
        return;
    };
    let t = Target::new(["app_a", "app_b"]).await;
    let store = on_moto(&t, &moto, "short/app").await;
    let aws = open(&store).await;
    let before = aws.read().await.unwrap();
    moto.client()
        .await
        .put_secret_value()
        .secret_id("short/app")
        .client_request_token("12121212121212121212121212121212")
        .secret_string(json!({"username": "app_b", "password": "pending-pw"}).to_string())
        .version_stages("AWSPENDING")
        .send()
        .await
        .unwrap();
    let run = t.seesaw(&["rotate", "demo"]).await;
    assert_eq!(run.code, 3, "{}", run.all());
    assert!(run.stderr.contains("10 characters"), "{}", run.stderr);
    assert!(
        run.stderr.contains("update-secret-version-stage --secret-id short/app --version-stage AWSPENDING --remove-from-version-id 12121212121212121212121212121212"),
        "{}",
        run.stderr
    );
    let after = aws.read().await.unwrap();
    assert_eq!(after.current.version, before.current.version);
    nothing_changed(&t, &after.current.document.to_value()).await;
}

/// A pending version that is not a JSON document blocks every rotation;
/// the refusal says how to remove it, like the other pending refusals.
#[tokio::test]
async fn an_unreadable_pending_version_names_the_command_that_removes_it() {
    let Some(moto) = support::moto::Moto::start() else {
        return;
    };
    let t = Target::new(["app_a", "app_b"]).await;
    let store = on_moto(&t, &moto, "garbled/app").await;
    moto.client()
        .await
        .put_secret_value()
        .secret_id("garbled/app")
        .client_request_token("34343434343434343434343434343434")
        .secret_string("not json at all")
        .version_stages("AWSPENDING")
        .send()
        .await
        .unwrap();
    let run = t.seesaw(&["rotate", "demo"]).await;
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(
        run.stderr.contains("is not a JSON secret document"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("update-secret-version-stage --secret-id garbled/app --version-stage AWSPENDING --remove-from-version-id 34343434343434343434343434343434"),
        "{}",
        run.stderr
    );
    drop(store);
    // The file store says the same of its `pending` key.
    t.write_config();
    t.write_store(json!({"current": {"username": "app_a", "password": "initial-Password-1"}, "pending": "garbled"}));
    let run = t.seesaw(&["rotate", "demo"]).await;
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(
        run.stderr.contains("remove the `pending` key"),
        "{}",
        run.stderr
    );
}
