//! What every Lambda test uses: the four steps, settings pointing at moto,
//! invoking the handler, and reading and checking the secret's stages.

use crate::support;
use crate::support::moto::Moto;
use crate::support::seesaw::{Target, ADMIN, ADMIN_PASSWORD, DB};
use seesaw::config::TlsMode;
use seesaw::runtime::lambda::{Function, LambdaError, Rotation, Settings, Step};
use seesaw::runtime::{NoProgress, Progress};
use serde_json::{json, Value};

pub const STEPS: [Step; 4] = [
    Step::CreateSecret,
    Step::SetSecret,
    Step::TestSecret,
    Step::FinishSecret,
];

pub fn settings(moto: &Moto) -> Settings {
    Settings {
        tls: TlsMode::Disable,
        endpoint_url: Some(moto.url.clone()),
        environment: support::moto::environment(),
        ..Settings::default()
    }
}

pub async fn invoke(step: Step, secret: &str, token: &str, s: &Settings) -> Result<(), String> {
    invoke_with(step, secret, token, s, &NoProgress)
        .await
        .map_err(|e| e.to_string())
}

pub async fn invoke_with(
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

pub async fn stage(moto: &Moto, secret: &str, stage: &str) -> Value {
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

pub async fn logs_in(t: &Target, doc: &Value) -> bool {
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
pub async fn assert_rotated_from(moto: &Moto, t: &Target, secret: &str, before: &Value) -> Value {
    let current = stage(moto, secret, "AWSCURRENT").await;
    let previous = stage(moto, secret, "AWSPREVIOUS").await;
    assert_ne!(current["username"], before["username"], "rotated once");
    assert_eq!(previous, *before, "AWSPREVIOUS is the version before");
    assert!(logs_in(t, &current).await, "AWSCURRENT logs in");
    assert!(logs_in(t, &previous).await, "AWSPREVIOUS still logs in");
    current
}

/// A secret in the RDS shape for `t`'s first user, and a master secret.
pub async fn secrets(moto: &Moto, t: &Target, extra: Value) -> String {
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

/// `(database or "", sorted settings)` of `role`, as the catalog holds them.
pub async fn role_settings(t: &Target, role: &str) -> Vec<(String, Vec<String>)> {
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
