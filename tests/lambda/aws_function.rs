//! seesaw beside AWS's own multi-user rotation function: the two take
//! turns on one secret, and no step costs more calls or logins than AWS's.

use crate::common::{assert_rotated_from, invoke, secrets, settings, stage, STEPS};
use crate::support;
use crate::support::moto::Moto;
use crate::support::seesaw::{Target, ADMIN, ADMIN_PASSWORD, DB};
use seesaw::runtime::lambda::{Function, Rotation, Settings, Step};
use seesaw::runtime::NoProgress;
use serde_json::json;

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

/// What seesaw makes in each step, exactly: the Secrets Manager calls by
/// action, and the login attempts. Exact, not a ceiling: a step that makes
/// fewer calls than this (a counter that stopped seeing them, a step that
/// skipped a read) fails as surely as one that makes more.
/// A step, its calls by action, its login attempts.
type StepCost = (Step, &'static [(&'static str, u32)], u32);

const SEESAW_CALLS: [StepCost; 4] = [
    (
        Step::CreateSecret,
        &[
            ("DescribeSecret", 1),
            ("GetSecretValue", 2),
            ("PutSecretValue", 1),
        ],
        0,
    ),
    (
        Step::SetSecret,
        &[("DescribeSecret", 1), ("GetSecretValue", 3)],
        2,
    ),
    (
        Step::TestSecret,
        &[("DescribeSecret", 1), ("GetSecretValue", 1)],
        1,
    ),
    (
        Step::FinishSecret,
        &[("DescribeSecret", 1), ("UpdateSecretVersionStage", 1)],
        0,
    ),
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
            let (_, exact, expected_logins) =
                SEESAW_CALLS.iter().find(|(s, _, _)| *s == step).unwrap();
            let expected: std::collections::BTreeMap<String, u32> =
                exact.iter().map(|(a, n)| (a.to_string(), *n)).collect();
            assert_eq!(calls, expected, "rotation {n}, {step}: the calls changed");
            assert!(sm >= 1, "rotation {n}, {step}: no call counted");
            assert_eq!(
                attempts, *expected_logins,
                "rotation {n}, {step}: logins {by_user:?}"
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
