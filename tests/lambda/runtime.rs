//! The real binary: served through a fake Runtime API and under AWS's
//! Runtime Interface Emulator (cold and warm starts, init errors, timeouts).

use crate::common::{assert_rotated_from, logs_in, secrets, stage};
use crate::support;
use crate::support::lambda_api::RuntimeApi;
use crate::support::moto::Moto;
use crate::support::seesaw::{Target, ADMIN, ADMIN_PASSWORD, DB};
use serde_json::{json, Value};
use std::time::Duration;

#[tokio::test]
async fn the_binary_serves_the_four_events_through_the_runtime_api() {
    let Some(moto) = Moto::start() else { return };
    let t = Target::new(["app_a", "app_b"]).await;
    let secret = secrets(&moto, &t, json!({"seesaw": {"users": ["app_a", "app_b"]}})).await;
    let token = "1".repeat(32);
    moto.start_rotation(&secret, &token).await;
    let api = RuntimeApi::start(RuntimeApi::rotation_events(&secret, &token)).await;
    let mut child = api
        .bootstrap(&moto.url)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let results = api.wait_for(4).await;
    child.kill().await.unwrap();
    let out = child.wait_with_output().await.unwrap();
    for (id, result) in &results {
        assert!(result.starts_with("ok"), "{id}: {result}");
    }
    let current = stage(&moto, &secret, "AWSCURRENT").await;
    assert_eq!(current["username"], "app_b");
    assert!(logs_in(&t, &current).await);
    // The log is JSON lines, one per step, with no secret value in it.
    let log =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    let steps = log
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|l| l["fields"]["step"].is_string() || l["step"].is_string())
        .count();
    assert!(steps >= 4, "{log}");
    assert!(!log.contains(current["password"].as_str().unwrap()));
    assert!(!log.contains("initial-Password-1"));
}

#[tokio::test]
async fn the_binary_reports_fatal_and_retryable_errors_and_keeps_serving() {
    let Some(moto) = Moto::start() else { return };
    // A database that is down: nothing listens on its port.
    let port = support::process::free_port();
    moto.create(
        "rds/master",
        &json!({"username": ADMIN, "password": ADMIN_PASSWORD}),
    )
    .await;
    moto.create(
        "rds/down",
        &json!({"engine": "postgres", "host": "127.0.0.1", "port": port, "dbname": DB,
                "username": "app_a", "password": "initial-Password-1", "masterarn": "rds/master",
                "seesaw": {"users": ["app_a", "app_b"]}}),
    )
    .await;
    let token = "2".repeat(32);
    moto.start_rotation("rds/down", &token).await;
    let event = |step: &str, token: &str| json!({"Step": step, "SecretId": "rds/down", "ClientRequestToken": token});
    let api = RuntimeApi::start(vec![
        event("createSecret", &"f".repeat(32)),
        event("dropSecret", &token),
        event("createSecret", &token),
        event("setSecret", &token),
    ])
    .await;
    let mut child = api
        .bootstrap(&moto.url)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let results: Vec<String> = api.wait_for(4).await.into_iter().map(|(_, r)| r).collect();
    child.start_kill().unwrap();
    let log = child.wait_with_output().await.unwrap();
    let log = String::from_utf8_lossy(&log.stderr);
    // One log line per error (lambda_runtime's own echo is filtered out).
    for kind in ["unknown_version", "db_unreachable"] {
        let lines = log.lines().filter(|l| l.contains(kind)).count();
        assert_eq!(lines, 1, "{kind} logged {lines} times:\n{log}");
    }
    let error_type = |r: &str| -> String {
        let body: Value = serde_json::from_str(r.strip_prefix("error: ").unwrap_or("{}"))
            .unwrap_or_else(|_| panic!("not an error report: {r}"));
        body["errorType"].as_str().unwrap_or_default().to_owned()
    };
    assert_eq!(
        error_type(&results[0]),
        "Fatal.unknown_version",
        "{results:?}"
    );
    assert_eq!(error_type(&results[1]), "Fatal.event", "{results:?}");
    assert!(results[2].starts_with("ok"), "{results:?}");
    // Down is retryable: Secrets Manager's retry may find it back up.
    assert_eq!(
        error_type(&results[3]),
        "Retryable.db_unreachable",
        "{results:?}"
    );
    assert!(
        results[3].contains(&format!("127.0.0.1:{port}")),
        "{}",
        results[3]
    );
    for r in &results {
        assert!(
            !r.contains("initial-Password-1") && !r.contains(ADMIN_PASSWORD),
            "{r}"
        );
    }
}

/// The environment the emulator hands the bootstrap: the AWS endpoint and
/// test credentials (moto accepts any), the region, and seesaw's settings.
fn rie_env(moto: &Moto) -> Vec<(&'static str, String)> {
    vec![
        ("AWS_ENDPOINT_URL", moto.url.clone()),
        ("AWS_REGION", "us-east-1".into()),
        ("AWS_ACCESS_KEY_ID", "testing".into()),
        ("AWS_SECRET_ACCESS_KEY", "testing".into()),
        ("SEESAW_DB_TLS", "disable".into()),
    ]
}

fn env_refs<'a>(env: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    env.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

/// The real binary under AWS's Runtime Interface Emulator: two full
/// rotations (the second warm, in the same process), and a handler error
/// in between, which the emulator returns as `errorType`/`errorMessage`.
#[tokio::test]
async fn under_the_runtime_interface_emulator_two_rotations_and_a_handler_error() {
    let Some(moto) = Moto::start() else { return };
    let t = Target::new(["app_a", "app_b"]).await;
    let secret = secrets(&moto, &t, json!({"seesaw": {"users": ["app_a", "app_b"]}})).await;
    let env = rie_env(&moto);
    let Some(rie) = support::rie::Rie::start(&env_refs(&env)) else {
        return;
    };
    let mut timings = Vec::new();
    for round in 0..2 {
        let token = format!("{:032x}", 700 + round);
        let before = stage(&moto, &secret, "AWSCURRENT").await;
        moto.start_rotation(&secret, &token).await;
        for step in ["createSecret", "setSecret", "testSecret", "finishSecret"] {
            let event = json!({"Step": step, "SecretId": secret, "ClientRequestToken": token});
            let (status, body, took) = rie.invoke(&event).await;
            assert_eq!(
                (status, body.as_str()),
                (200, "null"),
                "{step}: {}",
                rie.log()
            );
            timings.push((round, step, took));
        }
        assert_rotated_from(&moto, &t, &secret, &before).await;
        if round == 0 {
            // A token Secrets Manager never registered: a handler error.
            let event = json!({"Step": "setSecret", "SecretId": secret, "ClientRequestToken": "e".repeat(32)});
            let (status, body, _) = rie.invoke(&event).await;
            assert_eq!(status, 200, "{body}");
            let error: Value = serde_json::from_str(&body).unwrap();
            assert_eq!(error["errorType"], "Fatal.unknown_version", "{body}");
            assert!(error["errorMessage"]
                .as_str()
                .unwrap()
                .contains(&"e".repeat(32)));
        }
    }
    let log = rie.log();
    assert_eq!(
        log.matches("INIT START").count(),
        1,
        "one cold start, then warm invocations in the same process:\n{log}"
    );
    assert_eq!(
        log.lines()
            .filter(|l| l.contains("unknown_version") && l.starts_with('{'))
            .count(),
        1,
        "{log}"
    );
    assert!(!log.contains("initial-Password-1"), "{log}");
    for (round, step, took) in &timings {
        eprintln!(
            "RIE round {round} {step}: {:.1} ms",
            took.as_secs_f64() * 1e3
        );
    }
}

/// Settings that cannot be used fail the init phase, reported to the
/// runtime API's /init/error, which the emulator returns as
/// `Fatal.settings` with the message (not an anonymous exit).
#[tokio::test]
async fn under_the_runtime_interface_emulator_bad_settings_fail_init_with_their_message() {
    let Some(moto) = Moto::start() else { return };
    let mut env = rie_env(&moto);
    env.retain(|(k, _)| *k != "SEESAW_DB_TLS");
    env.push(("SEESAW_DB_TLS", "sometimes".into()));
    let Some(rie) = support::rie::Rie::start(&env_refs(&env)) else {
        return;
    };
    let event =
        json!({"Step": "createSecret", "SecretId": "x", "ClientRequestToken": "1".repeat(32)});
    let (_, body, _) = rie.invoke(&event).await;
    let error: Value =
        serde_json::from_str(&body).unwrap_or_else(|_| panic!("{body}\n{}", rie.log()));
    assert_eq!(error["errorType"], "Fatal.settings", "{body}");
    assert!(
        error["errorMessage"]
            .as_str()
            .unwrap()
            .contains("SEESAW_DB_TLS"),
        "{body}"
    );
}

/// A step that outlives the function's timeout (its database accepts the
/// connection and never answers) is stopped by the emulator ("Task timed
/// out"), which starts a new sandbox; the next rotation works there.
#[tokio::test]
async fn under_the_runtime_interface_emulator_a_timed_out_invocation_resets_the_sandbox() {
    let Some(moto) = Moto::start() else { return };
    let t = Target::new(["app_a", "app_b"]).await;
    let good = secrets(&moto, &t, json!({"seesaw": {"users": ["app_a", "app_b"]}})).await;
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent_port = silent.local_addr().unwrap().port();
    let hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = silent.accept().await {
            held.push(socket);
        }
    });
    moto.create(
        "rds/hang",
        &json!({"engine": "postgres", "host": "127.0.0.1", "port": silent_port, "dbname": DB,
                "username": "app_a", "password": "initial-Password-1", "masterarn": "rds/master",
                "seesaw": {"users": ["app_a", "app_b"]}}),
    )
    .await;
    let mut env = rie_env(&moto);
    env.push(("AWS_LAMBDA_FUNCTION_TIMEOUT", "3".into()));
    let Some(rie) = support::rie::Rie::start(&env_refs(&env)) else {
        return;
    };
    let hang = "3".repeat(32);
    moto.start_rotation("rds/hang", &hang).await;
    let event = |secret: &str, step: &str, token: &str| json!({"Step": step, "SecretId": secret, "ClientRequestToken": token});
    assert_eq!(
        rie.invoke(&event("rds/hang", "createSecret", &hang))
            .await
            .1,
        "null"
    );
    let (_, body, took) = rie.invoke(&event("rds/hang", "setSecret", &hang)).await;
    assert!(
        body.contains("Task timed out after 3.00 seconds"),
        "{body}\n{}",
        rie.log()
    );
    assert!(took < Duration::from_secs(10), "{took:?}");
    hold.abort();
    let token = "4".repeat(32);
    let before = stage(&moto, &good, "AWSCURRENT").await;
    moto.start_rotation(&good, &token).await;
    for step in ["createSecret", "setSecret", "testSecret", "finishSecret"] {
        assert_eq!(
            rie.invoke(&event(&good, step, &token)).await.1,
            "null",
            "{step}: {}",
            rie.log()
        );
    }
    assert_rotated_from(&moto, &t, &good, &before).await;
    assert_eq!(
        rie.log().matches("INIT START").count(),
        2,
        "a new sandbox after the timeout"
    );
}
