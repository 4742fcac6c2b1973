//! Rotations stopped part way (after a step, inside the engine, at the
//! invocation's deadline) and finished by Secrets Manager's retries.

use crate::common::{
    assert_rotated_from, invoke, invoke_with, logs_in, secrets, settings, stage, STEPS,
};
use crate::support::fault::FailAfter;
use crate::support::moto::Moto;
use crate::support::seesaw::{Target, DB};
use seesaw::config::SessionPolicy;
use seesaw::runtime::lambda::{Invocation, Settings, Step};
use serde_json::json;
use std::time::{Duration, Instant};

#[tokio::test]
async fn a_rotation_stopped_after_any_step_and_retried_from_the_start_ends_consistent() {
    let Some(moto) = Moto::start() else { return };
    let t = Target::new(["app_a", "app_b"]).await;
    let secret = secrets(&moto, &t, json!({"seesaw": {"users": ["app_a", "app_b"]}})).await;
    let s = settings(&moto);
    for stop_after in 0..STEPS.len() {
        let token = format!("{:032x}", 100 + stop_after);
        let before = stage(&moto, &secret, "AWSCURRENT").await;
        moto.start_rotation(&secret, &token).await;
        // The function dies after this step; Secrets Manager retries the
        // rotation with the same token from createSecret.
        for step in &STEPS[..=stop_after] {
            invoke(*step, &secret, &token, &s).await.unwrap();
        }
        assert!(logs_in(&t, &stage(&moto, &secret, "AWSCURRENT").await).await);
        for step in STEPS {
            invoke(step, &secret, &token, &s)
                .await
                .unwrap_or_else(|e| panic!("retry after {}: {step}: {e}", STEPS[stop_after]));
        }
        assert_rotated_from(&moto, &t, &secret, &before).await;
    }
}

#[tokio::test]
async fn a_set_secret_stopped_inside_the_engine_is_resumed_by_its_retry() {
    let Some(moto) = Moto::start() else { return };
    let t = Target::new(["app_a", "app_b"]).await;
    let secret = secrets(&moto, &t, json!({"seesaw": {"users": ["app_a", "app_b"]}})).await;
    let s = settings(&moto);
    // setSecret's last engine step is set_password (testSecret verifies):
    // stopped right after it, the retry finds the password set.
    for (n, stop_after) in ["set_password"].into_iter().enumerate() {
        let token = format!("{:032x}", 200 + n);
        let before = stage(&moto, &secret, "AWSCURRENT").await;
        moto.start_rotation(&secret, &token).await;
        invoke(Step::CreateSecret, &secret, &token, &s)
            .await
            .unwrap();
        let err = invoke_with(Step::SetSecret, &secret, &token, &s, &FailAfter(stop_after))
            .await
            .expect_err("the fault stops setSecret");
        assert_eq!(err.kind, "interrupted", "{err}");
        assert!(err.retryable, "Secrets Manager's retry resumes it: {err}");
        assert_eq!(stage(&moto, &secret, "AWSCURRENT").await, before);
        assert!(logs_in(&t, &before).await, "the active credential works");
        // Secrets Manager retries the failed step, then goes on.
        for step in &STEPS[1..] {
            invoke(*step, &secret, &token, &s)
                .await
                .unwrap_or_else(|e| panic!("after a fault at {stop_after}: {step}: {e}"));
        }
        assert_rotated_from(&moto, &t, &secret, &before).await;
    }
}

#[tokio::test]
async fn waiting_for_the_standbys_sessions_stops_before_the_lambda_times_out() {
    let Some(moto) = Moto::start() else { return };
    let t = Target::new(["app_a", "app_b"]).await;
    let secret = secrets(&moto, &t, json!({"seesaw": {"users": ["app_a", "app_b"]}})).await;
    let s = Settings {
        standby_sessions: SessionPolicy::Wait,
        ..settings(&moto)
    };
    t.set_password("app_b", "standby-Password-2").await;
    let session = t
        .cluster
        .connect("app_b", "standby-Password-2", DB)
        .await
        .unwrap();
    let token = format!("{:032x}", 300);
    moto.start_rotation(&secret, &token).await;
    invoke(Step::CreateSecret, &secret, &token, &s)
        .await
        .unwrap();
    // Seven seconds left in the invocation: the wait (300 s by default)
    // gives up with the margin kept for answering.
    let deadline = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
        + 7_000;
    let started = Instant::now();
    let err = invoke_with(
        Step::SetSecret,
        &secret,
        &token,
        &s,
        &Invocation::new(deadline),
    )
    .await
    .expect_err("the standby still has a session");
    let took = started.elapsed();
    assert!(took < Duration::from_secs(7), "stopped after {took:?}");
    assert_eq!(err.kind, "interrupted", "{err}");
    assert!(err.retryable, "{err}");
    assert!(err.message.contains("standby"), "{err}");
    assert!(
        t.cluster.can_login("app_b", "standby-Password-2", DB).await,
        "the standby's password is untouched while its session runs"
    );
    // The session ends; Secrets Manager's retry completes the rotation.
    drop(session);
    for step in &STEPS[1..] {
        invoke(*step, &secret, &token, &s)
            .await
            .unwrap_or_else(|e| panic!("{step}: {e}"));
    }
    let current = stage(&moto, &secret, "AWSCURRENT").await;
    assert_eq!(current["username"], "app_b");
    assert!(logs_in(&t, &current).await);
}
