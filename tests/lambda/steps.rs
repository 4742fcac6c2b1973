//! The four steps called directly: rotations that alternate, retried steps,
//! and the errors that stop a step before any change.

use crate::common::{assert_rotated_from, invoke, secrets, settings, stage, STEPS};
use crate::support::moto::Moto;
use crate::support::seesaw::{Target, DB};
use seesaw::runtime::lambda::{Rotation, Step};
use serde_json::json;

#[tokio::test]
async fn three_rotations_alternate_and_every_step_is_idempotent() {
    let Some(moto) = Moto::start() else { return };
    let t = Target::new(["app_a", "app_b"]).await;
    let secret = secrets(&moto, &t, json!({"seesaw": {"users": ["app_a", "app_b"]}})).await;
    let s = settings(&moto);
    let su = t.cluster.superuser().await;
    let roles = "SELECT string_agg(rolname::text, ',' ORDER BY rolname) FROM pg_roles";
    let roles_before: String = su.query_one(roles, &[]).await.unwrap().get(0);
    for (n, expected) in ["app_b", "app_a", "app_b"].iter().enumerate() {
        let token = format!("{:032x}", n + 1);
        let before = stage(&moto, &secret, "AWSCURRENT").await;
        moto.start_rotation(&secret, &token).await;
        for step in STEPS {
            invoke(step, &secret, &token, &s).await.unwrap();
            // Secrets Manager retries a step: the second call changes nothing.
            invoke(step, &secret, &token, &s)
                .await
                .unwrap_or_else(|e| panic!("retried {step}: {e}"));
        }
        let current = assert_rotated_from(&moto, &t, &secret, &before).await;
        assert_eq!(current["username"], *expected);
        assert_eq!(current["masterarn"], "rds/master", "other fields are kept");
    }
    let roles_after: String = su.query_one(roles, &[]).await.unwrap().get(0);
    assert_eq!(
        roles_before, roles_after,
        "an explicit pair creates no role"
    );
    let log = t.cluster.server_log();
    assert!(!log.contains(
        stage(&moto, &secret, "AWSCURRENT").await["password"]
            .as_str()
            .unwrap()
    ));
}

#[tokio::test]
async fn a_current_credential_that_does_not_log_in_stops_set_secret_before_any_change() {
    let Some(moto) = Moto::start() else { return };
    let t = Target::new(["app_a", "app_b"]).await;
    let secret = secrets(
        &moto,
        &t,
        json!({"password": "not-the-Password-0", "seesaw": {"users": ["app_a", "app_b"]}}),
    )
    .await;
    let s = settings(&moto);
    let token = format!("{:032x}", 9);
    moto.start_rotation(&secret, &token).await;
    invoke(Step::CreateSecret, &secret, &token, &s)
        .await
        .unwrap();
    let before = t.cluster.server_log().matches("ALTER ROLE").count();
    let err = invoke(Step::SetSecret, &secret, &token, &s)
        .await
        .expect_err("the current credential does not log in");
    assert!(err.contains("app_a"), "{err}");
    assert!(!err.contains("not-the-Password-0"), "{err}");
    assert_eq!(
        t.cluster.server_log().matches("ALTER ROLE").count(),
        before,
        "nothing was altered"
    );
}

#[tokio::test]
async fn a_token_that_is_not_a_version_and_an_unknown_step_are_errors() {
    let Some(moto) = Moto::start() else { return };
    let t = Target::new(["app_a", "app_b"]).await;
    let secret = secrets(&moto, &t, json!({})).await;
    // Only RotateSecret registers a version: no step acts on another token.
    for step in STEPS {
        let err = invoke(step, &secret, &"f".repeat(32), &settings(&moto))
            .await
            .unwrap_err();
        assert!(
            err.contains("is not a version of the secret"),
            "{step}: {err}"
        );
    }
    assert_eq!(
        stage(&moto, &secret, "AWSCURRENT").await["password"],
        "initial-Password-1",
        "nothing was written"
    );
    let event: aws_lambda_events::secretsmanager::SecretsManagerSecretRotationEvent =
        serde_json::from_value(
            json!({"Step": "dropSecret", "SecretId": secret, "ClientRequestToken": "a".repeat(32)}),
        )
        .unwrap();
    let err = Rotation::try_from(event).unwrap_err();
    assert!(err.to_string().contains("unknown step"), "{err}");
}

#[tokio::test]
async fn without_masterarn_each_user_changes_its_own_password() {
    let Some(moto) = Moto::start() else { return };
    let t = Target::new(["app_a", "app_b"]).await;
    let s = settings(&moto);
    let doc = |user: &str, password: &str| {
        json!({"engine": "postgres", "host": "127.0.0.1", "port": t.cluster.port,
               "dbname": DB, "username": user, "password": password,
               "seesaw": {"users": ["app_a", "app_b"]}})
    };
    // A fresh secret has no AWSPREVIOUS: the standby's password is unknown,
    // and nothing is changed.
    moto.create("rds/self", &doc("app_a", "initial-Password-1"))
        .await;
    let token = format!("{:032x}", 500);
    moto.start_rotation("rds/self", &token).await;
    invoke(Step::CreateSecret, "rds/self", &token, &s)
        .await
        .unwrap();
    let before = t.cluster.server_log().matches("ALTER ROLE").count();
    let err = invoke(Step::SetSecret, "rds/self", &token, &s)
        .await
        .expect_err("self mode needs the standby's previous password");
    assert!(err.contains("masterarn"), "{err}");
    assert_eq!(t.cluster.server_log().matches("ALTER ROLE").count(), before);

    // With history (app_b's version before app_a's), self mode works: no
    // master secret exists here, so each ALTER ROLE ran as the role it
    // changed, logged in with its AWSPREVIOUS password.
    t.set_password("app_b", "standby-Password-2").await;
    moto.create("rds/history", &doc("app_b", "standby-Password-2"))
        .await;
    moto.client()
        .await
        .put_secret_value()
        .secret_id("rds/history")
        .secret_string(doc("app_a", "initial-Password-1").to_string())
        .send()
        .await
        .unwrap();
    for (n, expected) in ["app_b", "app_a"].iter().enumerate() {
        let token = format!("{:032x}", 510 + n);
        let before = stage(&moto, "rds/history", "AWSCURRENT").await;
        moto.start_rotation("rds/history", &token).await;
        for step in STEPS {
            invoke(step, "rds/history", &token, &s)
                .await
                .unwrap_or_else(|e| panic!("rotation {n}: {step}: {e}"));
        }
        let current = assert_rotated_from(&moto, &t, "rds/history", &before).await;
        assert_eq!(current["username"], *expected);
    }
}
