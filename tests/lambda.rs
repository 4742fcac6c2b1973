//! The Lambda rotation handler, called directly with Secrets Manager's four
//! events, against moto_server and real PostgreSQL with password auth.

mod support;

use seesaw::config::{SessionPolicy, TlsMode};
use seesaw::runtime::lambda::{Function, Invocation, LambdaError, Rotation, Settings, Step};
use seesaw::runtime::{NoProgress, Progress};
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use support::fault::FailAfter;
use support::lambda_api::RuntimeApi;
use support::moto::Moto;
use support::seesaw::{Target, ADMIN, ADMIN_PASSWORD, DB};

const STEPS: [Step; 4] = [
    Step::CreateSecret,
    Step::SetSecret,
    Step::TestSecret,
    Step::FinishSecret,
];

fn settings(moto: &Moto) -> Settings {
    Settings {
        tls: TlsMode::Disable,
        endpoint_url: Some(moto.url.clone()),
        ..Settings::default()
    }
}

async fn invoke(step: Step, secret: &str, token: &str, s: &Settings) -> Result<(), String> {
    invoke_with(step, secret, token, s, &NoProgress)
        .await
        .map_err(|e| e.to_string())
}

async fn invoke_with(
    step: Step,
    secret: &str,
    token: &str,
    s: &Settings,
    progress: &dyn Progress,
) -> Result<(), LambdaError> {
    let rotation = Rotation {
        step,
        secret_id: secret.into(),
        token: token.into(),
    };
    // A new sandbox per call: nothing is carried between steps but the
    // secret and the database.
    Function::new(s.clone())
        .await
        .handle(&rotation, progress)
        .await
}

async fn stage(moto: &Moto, secret: &str, stage: &str) -> Value {
    let out = moto
        .client()
        .await
        .get_secret_value()
        .secret_id(secret)
        .version_stage(stage)
        .send()
        .await
        .unwrap();
    serde_json::from_str(out.secret_string().unwrap()).unwrap()
}

async fn logs_in(t: &Target, doc: &Value) -> bool {
    t.cluster
        .can_login(
            doc["username"].as_str().unwrap(),
            doc["password"].as_str().unwrap(),
            DB,
        )
        .await
}

/// After one rotation from `before`: the other user is current, `before`
/// is previous, and both log in.
async fn assert_rotated_from(moto: &Moto, t: &Target, secret: &str, before: &Value) -> Value {
    let current = stage(moto, secret, "AWSCURRENT").await;
    let previous = stage(moto, secret, "AWSPREVIOUS").await;
    assert_ne!(current["username"], before["username"], "rotated once");
    assert_eq!(previous, *before, "AWSPREVIOUS is the version before");
    assert!(logs_in(t, &current).await, "AWSCURRENT logs in");
    assert!(logs_in(t, &previous).await, "AWSPREVIOUS still logs in");
    current
}

/// A secret in the RDS shape for `t`'s first user, and a master secret.
async fn secrets(moto: &Moto, t: &Target, extra: Value) -> String {
    moto.create(
        "rds/master",
        &json!({"username": ADMIN, "password": ADMIN_PASSWORD, "engine": "postgres",
                 "host": "127.0.0.1", "port": t.cluster.port, "dbname": DB}),
    )
    .await;
    let mut doc = json!({"engine": "postgres", "host": "127.0.0.1", "port": t.cluster.port,
        "dbname": DB, "username": t.users[0], "password": "initial-Password-1",
        "masterarn": "rds/master"});
    for (k, v) in extra.as_object().unwrap() {
        doc[k] = v.clone();
    }
    moto.create("rds/app", &doc).await;
    "rds/app".into()
}

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
async fn the_clone_convention_creates_the_clone_with_the_same_memberships() {
    let Some(moto) = Moto::start() else { return };
    let t = Target::new(["app_a", "app_b"]).await;
    let secret = secrets(&moto, &t, json!({})).await;
    let s = settings(&moto);
    let token = format!("{:032x}", 7);
    moto.start_rotation(&secret, &token).await;
    for step in STEPS {
        invoke(step, &secret, &token, &s).await.unwrap();
    }
    let current = stage(&moto, &secret, "AWSCURRENT").await;
    assert_eq!(current["username"], "app_a_clone");
    assert!(logs_in(&t, &current).await);
    let su = t.cluster.superuser().await;
    let groups = |role: &'static str| {
        let su = &su;
        async move {
            let rows = su
                .query(
                    "SELECT g.rolname FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid \
                     JOIN pg_roles r ON r.oid = m.member WHERE r.rolname = $1 ORDER BY 1",
                    &[&role],
                )
                .await
                .unwrap();
            rows.iter()
                .map(|r| r.get::<_, String>(0))
                .collect::<Vec<_>>()
        }
    };
    let (a, clone) = (groups("app_a").await, groups("app_a_clone").await);
    assert!(!a.is_empty(), "setup-sql makes app_a a member of the owner");
    assert_eq!(a, clone);
    // The next rotation goes back to app_a and creates nothing.
    let token = format!("{:032x}", 8);
    moto.start_rotation(&secret, &token).await;
    for step in STEPS {
        invoke(step, &secret, &token, &s).await.unwrap();
    }
    assert_eq!(
        stage(&moto, &secret, "AWSCURRENT").await["username"],
        "app_a"
    );
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

/// `(database or "", sorted settings)` of `role`, as the catalog holds them.
async fn role_settings(t: &Target, role: &str) -> Vec<(String, Vec<String>)> {
    let su = t.cluster.superuser().await;
    let rows = su
        .query(
            "SELECT coalesce(d.datname::text, ''), \
             ARRAY(SELECT unnest(s.setconfig) ORDER BY 1) \
             FROM pg_db_role_setting s JOIN pg_roles r ON r.oid = s.setrole \
             LEFT JOIN pg_database d ON d.oid = s.setdatabase \
             WHERE r.rolname = $1 ORDER BY 1",
            &[&role],
        )
        .await
        .unwrap();
    rows.iter().map(|r| (r.get(0), r.get(1))).collect()
}

#[tokio::test]
async fn the_clone_gets_the_users_settings_and_is_created_whole_or_not_at_all() {
    let Some(moto) = Moto::start() else { return };
    let t = Target::new(["app_a", "app_b"]).await;
    let secret = secrets(&moto, &t, json!({})).await;
    let s = settings(&moto);
    let su = t.cluster.superuser().await;
    su.batch_execute(&format!(
        r#"ALTER ROLE app_a SET statement_timeout = '7s';
           ALTER ROLE app_a SET search_path = app, "My Schema", public;
           ALTER ROLE app_a IN DATABASE {DB} SET work_mem = '8MB';
           ALTER ROLE app_a SET log_min_duration_statement = 1000"#
    ))
    .await
    .unwrap();
    let token = format!("{:032x}", 400);
    moto.start_rotation(&secret, &token).await;
    invoke(Step::CreateSecret, &secret, &token, &s)
        .await
        .unwrap();
    // The master role (CREATEROLE, not superuser) may not set a superuser
    // parameter: the creation fails as a whole, naming it and the fix.
    let err = invoke(Step::SetSecret, &secret, &token, &s)
        .await
        .expect_err("log_min_duration_statement needs a superuser");
    assert!(err.contains("log_min_duration_statement"), "{err}");
    assert!(err.contains("GRANT SET ON PARAMETER"), "{err}");
    let exists = su
        .query_one(
            "SELECT count(*) FROM pg_roles WHERE rolname = 'app_a_clone'",
            &[],
        )
        .await
        .unwrap()
        .get::<_, i64>(0);
    assert_eq!(exists, 0, "no half-made clone is left behind");
    assert!(logs_in(&t, &stage(&moto, &secret, "AWSCURRENT").await).await);
    // The operator drops that setting; Secrets Manager's retry goes on.
    su.batch_execute("ALTER ROLE app_a RESET log_min_duration_statement")
        .await
        .unwrap();
    for step in &STEPS[1..] {
        invoke(*step, &secret, &token, &s)
            .await
            .unwrap_or_else(|e| panic!("{step}: {e}"));
    }
    let current = stage(&moto, &secret, "AWSCURRENT").await;
    assert_eq!(current["username"], "app_a_clone");
    assert!(logs_in(&t, &current).await);
    let (a, clone) = (
        role_settings(&t, "app_a").await,
        role_settings(&t, "app_a_clone").await,
    );
    assert_eq!(a.len(), 2, "all databases and {DB} only: {a:?}");
    assert_eq!(a, clone);
    // The clone's session really runs with them.
    let c = t
        .cluster
        .connect("app_a_clone", current["password"].as_str().unwrap(), DB)
        .await
        .unwrap();
    let path: String = c.query_one("SHOW search_path", &[]).await.unwrap().get(0);
    assert_eq!(path, r#"app, "My Schema", public"#);
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

#[tokio::test]
async fn a_hostile_user_name_gets_its_clone_and_rotates_back() {
    let Some(moto) = Moto::start() else { return };
    let user = "Wé\"ird 'q;DROP ROLE x;--";
    let t = Target::new([user, "unused_b"]).await;
    t.cluster
        .superuser()
        .await
        .batch_execute(&format!(
            "ALTER ROLE \"{}\" SET application_name = 'it''s \"{}\"'",
            user.replace('"', "\"\""),
            user.replace('\'', "''").replace('"', "")
        ))
        .await
        .unwrap();
    let secret = secrets(&moto, &t, json!({})).await;
    let s = settings(&moto);
    let clone = format!("{user}_clone");
    for (n, expected) in [clone.as_str(), user].into_iter().enumerate() {
        let token = format!("{:032x}", 600 + n);
        let before = stage(&moto, &secret, "AWSCURRENT").await;
        moto.start_rotation(&secret, &token).await;
        for step in STEPS {
            invoke(step, &secret, &token, &s)
                .await
                .unwrap_or_else(|e| panic!("{step}: {e}"));
        }
        let current = assert_rotated_from(&moto, &t, &secret, &before).await;
        assert_eq!(current["username"], expected);
    }
    assert_eq!(
        role_settings(&t, user).await,
        role_settings(&t, &clone).await
    );
    assert_eq!(role_settings(&t, &clone).await.len(), 1);
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

/// What AWS's `SecretsManagerRDSPostgreSQLRotationMultiUser` does in one
/// rotation, as a fixture (no AWS code): the other user of the pair is
/// `<user>_clone` (created on first use as `CREATE ROLE ... ; GRANT <user>
/// TO <user>_clone`, so the clone is a member of the user), it gets a new
/// password (`ALTER ROLE`, by the master), staged AWSPENDING, then made
/// AWSCURRENT.
async fn aws_function_rotates(moto: &Moto, t: &Target, secret: &str, n: u32) {
    use postgres_protocol::escape::{escape_identifier as ident, escape_literal as lit};
    let current = stage(moto, secret, "AWSCURRENT").await;
    let user = current["username"].as_str().unwrap().to_owned();
    let other = match user.strip_suffix("_clone") {
        Some(base) => base.to_owned(),
        None => format!("{user}_clone"),
    };
    let password = format!("aws-made-Password-{n}");
    // AWS's function acts as the master user (masterarn), which on
    // PostgreSQL 16+ then holds ADMIN OPTION on the clone it created.
    let su = t.cluster.connect(ADMIN, ADMIN_PASSWORD, DB).await.unwrap();
    let exists: bool = su
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)",
            &[&other],
        )
        .await
        .unwrap()
        .get(0);
    if !exists {
        su.batch_execute(&format!(
            "CREATE ROLE {} WITH LOGIN PASSWORD {}; GRANT {} TO {}",
            ident(&other),
            lit(&password),
            ident(&user),
            ident(&other)
        ))
        .await
        .unwrap();
    }
    su.batch_execute(&format!(
        "ALTER ROLE {} WITH PASSWORD {}",
        ident(&other),
        lit(&password)
    ))
    .await
    .unwrap();
    let mut next = current.clone();
    next["username"] = json!(other);
    next["password"] = json!(password);
    let client = moto.client().await;
    let token = format!("{:032x}", 9000 + n);
    client
        .put_secret_value()
        .secret_id(secret)
        .client_request_token(&token)
        .secret_string(next.to_string())
        .version_stages("AWSPENDING")
        .send()
        .await
        .unwrap();
    let described = client
        .describe_secret()
        .secret_id(secret)
        .send()
        .await
        .unwrap();
    let current_id = described
        .version_ids_to_stages()
        .unwrap()
        .iter()
        .find(|(_, s)| s.iter().any(|x| x == "AWSCURRENT"))
        .map(|(v, _)| v.clone())
        .unwrap();
    client
        .update_secret_version_stage()
        .secret_id(secret)
        .version_stage("AWSCURRENT")
        .move_to_version_id(&token)
        .remove_from_version_id(current_id)
        .send()
        .await
        .unwrap();
    client
        .update_secret_version_stage()
        .secret_id(secret)
        .version_stage("AWSPENDING")
        .remove_from_version_id(&token)
        .send()
        .await
        .unwrap();
}

/// A team switching its rotation function: AWS's function x2, then
/// seesaw x2, then AWS's again x2, on one secret. AWS's clone is a member
/// of the user; seesaw's parity rule accepts that (it inherits the user's
/// memberships), and both staged credentials log in after every rotation.
#[tokio::test]
async fn rotations_alternate_freely_between_aws_function_and_seesaw() {
    let Some(moto) = Moto::start() else { return };
    let t = Target::new(["app_a", "app_b"]).await;
    let secret = secrets(&moto, &t, json!({})).await;
    let s = settings(&moto);
    let mut n = 0;
    for who in ["aws", "aws", "seesaw", "seesaw", "aws", "aws"] {
        n += 1;
        let before = stage(&moto, &secret, "AWSCURRENT").await;
        if who == "aws" {
            aws_function_rotates(&moto, &t, &secret, n).await;
        } else {
            let token = format!("{:032x}", 800 + n);
            moto.start_rotation(&secret, &token).await;
            for step in STEPS {
                invoke(step, &secret, &token, &s)
                    .await
                    .unwrap_or_else(|e| panic!("rotation {n} ({who}), {step}: {e}"));
            }
        }
        let current = assert_rotated_from(&moto, &t, &secret, &before).await;
        assert_ne!(
            current["username"], before["username"],
            "rotation {n} ({who})"
        );
    }
}

/// What AWS's `SecretsManagerRDSPostgreSQLRotationMultiUser` costs per step
/// (read from its source): Secrets Manager calls, and database login
/// attempts with `"ssl": false` (with TLS on and no `ssl` key it may try
/// each login twice). createSecret: DescribeSecret, GetSecretValue x2,
/// GetRandomPassword, PutSecretValue; setSecret: DescribeSecret,
/// GetSecretValue x3 (current, pending, master), logins as pending,
/// current and master; testSecret: DescribeSecret, GetSecretValue, a login;
/// finishSecret: DescribeSecret x2, UpdateSecretVersionStage.
const AWS_BUDGET: [(Step, u32, u32); 4] = [
    (Step::CreateSecret, 5, 0),
    (Step::SetSecret, 4, 3),
    (Step::TestSecret, 2, 1),
    (Step::FinishSecret, 3, 0),
];

/// seesaw in one warm sandbox, as Secrets Manager drives it: no step makes
/// more Secrets Manager calls or login attempts than AWS's function makes
/// in the same step, and once warm the master's session is reused (no
/// master login in setSecret).
#[tokio::test]
async fn no_step_costs_more_calls_or_logins_than_aws_function() {
    use support::calls::{logins, CallCounter};
    let Some(moto) = Moto::start() else { return };
    let t = Target::new(["app_a", "app_b"]).await;
    let secret = secrets(&moto, &t, json!({})).await;
    let counter = CallCounter::start(&moto.url).await;
    let function = Function::new(Settings {
        endpoint_url: Some(counter.url.clone()),
        ..settings(&moto)
    })
    .await;
    for n in 1..=3u32 {
        let token = format!("{:032x}", 700 + n);
        let before = stage(&moto, &secret, "AWSCURRENT").await;
        moto.start_rotation(&secret, &token).await;
        counter.take();
        for (step, sm_budget, login_budget) in AWS_BUDGET {
            let from = t.cluster.server_log().len();
            let rotation = Rotation {
                step,
                secret_id: secret.clone(),
                token: token.clone(),
            };
            function
                .handle(&rotation, &NoProgress)
                .await
                .unwrap_or_else(|e| panic!("rotation {n}, {step}: {e}"));
            let calls = counter.take();
            let sm: u32 = calls.values().sum();
            let by_user = logins(&t.cluster.server_log(), from);
            let attempts: u32 = by_user.values().map(|(ok, refused)| ok + refused).sum();
            eprintln!(
                "rotation {n} {step:<13} {sm} calls {calls:?}, {attempts} logins {by_user:?}"
            );
            assert!(
                sm <= sm_budget,
                "rotation {n}, {step}: {sm} Secrets Manager calls {calls:?}, AWS's function makes {sm_budget}"
            );
            assert!(
                attempts <= login_budget,
                "rotation {n}, {step}: {attempts} logins {by_user:?}, AWS's function makes {login_budget}"
            );
            if step == Step::SetSecret && n > 1 {
                assert!(
                    !by_user.contains_key(ADMIN),
                    "rotation {n}: a warm setSecret reuses the master's session: {by_user:?}"
                );
            }
        }
        assert_rotated_from(&moto, &t, &secret, &before).await;
    }
    assert!(
        function.master_session.holds_one(),
        "kept between invocations"
    );
}

/// The master's kept session is checked before reuse: one the server
/// ended while the sandbox was idle is replaced by a fresh login, and the
/// rotation goes through.
#[tokio::test]
async fn a_kept_master_session_the_server_ended_is_replaced() {
    use support::calls::logins;
    let Some(moto) = Moto::start() else { return };
    let t = Target::new(["app_a", "app_b"]).await;
    let secret = secrets(&moto, &t, json!({})).await;
    let function = Function::new(settings(&moto)).await;
    let rotate = |n: u32| {
        let (function, secret, moto) = (&function, secret.clone(), &moto);
        async move {
            let token = format!("{:032x}", 600 + n);
            moto.start_rotation(&secret, &token).await;
            for step in STEPS {
                let rotation = Rotation {
                    step,
                    secret_id: secret.clone(),
                    token: token.clone(),
                };
                function
                    .handle(&rotation, &NoProgress)
                    .await
                    .unwrap_or_else(|e| panic!("rotation {n}, {step}: {e}"));
            }
        }
    };
    rotate(1).await;
    assert!(function.master_session.holds_one());
    let su = t.cluster.superuser().await;
    let ended: i64 = su
        .query_one(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE usename = $1",
            &[&ADMIN],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(ended, 1, "the kept session was the master's only one");
    let from = t.cluster.server_log().len();
    let before = stage(&moto, &secret, "AWSCURRENT").await;
    rotate(2).await;
    assert_rotated_from(&moto, &t, &secret, &before).await;
    let by_user = logins(&t.cluster.server_log(), from);
    assert_eq!(
        by_user.get(ADMIN).map(|(ok, _)| *ok),
        Some(1),
        "one fresh master login: {by_user:?}"
    );
}

/// A MariaDB secret in the RDS shape with "masterarn": the four steps
/// create the `_clone` account on the first rotation (locked, grants
/// copied, unlocked last) and alternate back on the second, sending only
/// hashes to the server.
#[cfg(feature = "mysql")]
#[tokio::test]
async fn a_mariadb_secret_gets_its_clone_and_alternates_through_the_four_steps() {
    use mysql_async::prelude::Queryable;
    let Some(moto) = Moto::start() else { return };
    let t = support::mariadb::Target::new(["app", "app_clone"], "").await;
    let mut root = t.server.root().await.unwrap();
    root.query_drop("DROP USER `app_clone`@`%`").await.unwrap();
    // The master sets the clone's default role (UPDATE on mysql.* on MariaDB).
    root.query_drop(format!("GRANT UPDATE ON `mysql`.* TO `{ADMIN}`@`%`"))
        .await
        .unwrap();
    moto.create(
        "rds/maria-master",
        &json!({"username": ADMIN, "password": ADMIN_PASSWORD, "engine": "mariadb",
                 "host": "127.0.0.1", "port": t.server.port}),
    )
    .await;
    moto.create(
        "rds/maria",
        &json!({"engine": "mariadb", "host": "127.0.0.1", "port": t.server.port, "dbname": "app",
                 "username": "app", "password": support::mariadb::INITIAL,
                 "masterarn": "rds/maria-master"}),
    )
    .await;
    let s = settings(&moto);
    let mut passwords = Vec::new();
    for (i, expected) in [(1, "app_clone"), (2, "app")] {
        let token = format!("{:032x}", 100 + i);
        moto.start_rotation("rds/maria", &token).await;
        for step in STEPS {
            invoke(step, "rds/maria", &token, &s)
                .await
                .unwrap_or_else(|e| panic!("rotation {i}, {step:?}: {e}"));
        }
        for which in ["AWSCURRENT", "AWSPREVIOUS"] {
            let doc = stage(&moto, "rds/maria", which).await;
            let (user, password) = (
                doc["username"].as_str().unwrap(),
                doc["password"].as_str().unwrap(),
            );
            assert!(
                t.server.can_login(user, password).await,
                "{which} ({user}) does not log in"
            );
            if which == "AWSCURRENT" {
                assert_eq!(user, expected);
                passwords.push(password.to_owned());
            }
        }
    }
    let logs = t.server.logs();
    for p in &passwords {
        assert!(
            !logs.contains(p.as_str()),
            "a password reached the server's logs"
        );
    }
}
