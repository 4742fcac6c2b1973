//! The `_clone` convention: the clone is created with the user's
//! memberships and settings, for any user name.

use crate::common::{
    assert_rotated_from, invoke, logs_in, role_settings, secrets, settings, stage, STEPS,
};
use crate::support::moto::Moto;
use crate::support::seesaw::{Target, DB};
use seesaw::runtime::lambda::Step;
use serde_json::json;

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
