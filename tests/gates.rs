//! Gates: standby sessions and membership parity, under each policy.

mod support;

use std::time::Duration;
use support::seesaw::{Target, DB};

/// A target after one rotation: app_b active, app_a standby with a known password.
async fn rotated_once(policy: &str) -> Target {
    let mut t = Target::new(["app_a", "app_b"]).await;
    t.database_extra =
        format!("      standby_sessions: {policy}\n      standby_wait_timeout: 20s\n");
    t.write_config();
    let run = t.seesaw(&["rotate", "demo"]).await;
    assert_eq!(run.code, 0, "{}", run.all());
    t
}

/// Opens a session as the standby (the store's previous user).
async fn standby_session(t: &Target) -> tokio_postgres::Client {
    let (u, p) = t.login("previous");
    assert_eq!(u, "app_a");
    t.cluster.connect(&u, &p, DB).await.expect("standby login")
}

#[tokio::test]
async fn fail_policy_blocks_with_exit_3_naming_role_and_count() {
    let t = rotated_once("fail").await;
    let session = standby_session(&t).await;
    let before = std::fs::read(&t.store).unwrap();
    let run = t.seesaw(&["rotate", "demo"]).await;
    assert_eq!(run.code, 3, "{}", run.all());
    assert!(
        run.stderr.contains("\"app_a\" has 1 open session"),
        "{}",
        run.stderr
    );
    assert_eq!(
        std::fs::read(&t.store).unwrap(),
        before,
        "a blocked rotation changed the store"
    );
    assert!(
        t.logs_in("previous").await,
        "a blocked rotation changed the standby's password"
    );

    let plan = t.seesaw(&["plan", "demo"]).await;
    assert_eq!(plan.code, 3, "{}", plan.all());
    assert!(
        plan.stdout.contains("BLOCKED  standby_sessions"),
        "{}",
        plan.stdout
    );

    let json = t.seesaw(&["rotate", "demo", "--output", "json"]).await;
    assert_eq!(json.code, 3);
    let v: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(v["error"]["kind"], "blocked");
    assert_eq!(v["error"]["gates"][0]["name"], "standby_sessions");

    drop(session);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let run = t.seesaw(&["rotate", "demo"]).await;
    assert_eq!(run.code, 0, "after the session closed: {}", run.all());
    assert_eq!(t.login("current").0, "app_a");
}

#[tokio::test]
async fn force_overrides_the_session_gate_and_says_so() {
    let t = rotated_once("fail").await;
    let _session = standby_session(&t).await;
    let run = t.seesaw(&["rotate", "demo", "--force"]).await;
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(
        run.stdout.contains("forced: \"app_a\" has 1 open session"),
        "{}",
        run.stdout
    );
    assert!(t.logs_in("current").await);
}

#[tokio::test]
async fn wait_policy_rotates_once_the_session_closes() {
    let t = rotated_once("wait").await;
    let session = standby_session(&t).await;
    let closer = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(2)).await;
        drop(session);
    });
    let run = t.seesaw(&["rotate", "demo"]).await;
    closer.await.unwrap();
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(
        run.stderr.contains("waiting"),
        "progress while waiting: {}",
        run.stderr
    );
    assert_eq!(t.login("current").0, "app_a");
    assert!(t.logs_in("current").await);
}

#[tokio::test]
async fn wait_policy_gives_up_after_the_timeout_with_exit_3() {
    let mut t = rotated_once("wait").await;
    t.database_extra = "      standby_sessions: wait\n      standby_wait_timeout: 3s\n".into();
    t.write_config();
    let _session = standby_session(&t).await;
    let before = std::fs::read(&t.store).unwrap();
    let run = t.seesaw(&["rotate", "demo"]).await;
    assert_eq!(run.code, 3, "{}", run.all());
    // Said once while the count stays the same (it is polled every 0.5 s).
    assert_eq!(
        run.stderr.matches("open session(s); waiting").count(),
        1,
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("still has 1 session after waiting 3s"),
        "{}",
        run.stderr
    );
    assert_eq!(std::fs::read(&t.store).unwrap(), before);
}

#[tokio::test]
async fn terminate_policy_ends_the_session_and_rotates() {
    let t = rotated_once("terminate").await;
    // As `seesaw setup-sql` advises for standby_sessions: terminate.
    let su = t.cluster.superuser().await;
    su.batch_execute("GRANT pg_signal_backend TO seesaw_admin")
        .await
        .unwrap();
    let session = standby_session(&t).await;
    // Sessions of other roles must survive.
    let (active, password) = t.login("current");
    let bystander = t.cluster.connect(&active, &password, DB).await.unwrap();
    let run = t.seesaw(&["rotate", "demo"]).await;
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(run.stdout.contains("ended 1 session"), "{}", run.stdout);
    assert!(
        bystander.query_one("SELECT 1", &[]).await.is_ok(),
        "the active user's session was ended"
    );
    assert!(
        su.query_one("SELECT 1", &[]).await.is_ok(),
        "the superuser's session was ended"
    );
    assert!(
        session.query_one("SELECT 1", &[]).await.is_err(),
        "the standby session should have been ended"
    );
    assert!(t.logs_in("current").await);
}

#[tokio::test]
async fn membership_drift_is_reported_blocks_under_check_and_is_fixed_under_fix() {
    let mut t = Target::new(["app_a", "app_b"]).await;
    let su = t.cluster.superuser().await;
    // The admin may manage both groups; the drift was made by it (on
    // PostgreSQL 16+ only the grantor or a superuser can revoke a grant).
    su.batch_execute(
        "CREATE ROLE reporting NOLOGIN; GRANT reporting TO app_a; CREATE ROLE stale NOLOGIN; \
         GRANT reporting TO seesaw_admin WITH ADMIN OPTION; GRANT stale TO seesaw_admin WITH ADMIN OPTION; \
         GRANT stale TO app_b GRANTED BY seesaw_admin",
    )
    .await
    .unwrap();

    let plan = t.seesaw(&["plan", "demo"]).await;
    assert_eq!(plan.code, 3, "{}", plan.all());
    assert!(
        plan.stdout.contains("\"app_b\" lacks reporting"),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout.contains("\"app_b\" has stale"),
        "{}",
        plan.stdout
    );

    let check = t.seesaw(&["check"]).await;
    assert_eq!(check.code, 1, "{}", check.all());
    assert!(
        check.stdout.contains("membership drift"),
        "{}",
        check.stdout
    );

    let before = std::fs::read(&t.store).unwrap();
    let run = t.seesaw(&["rotate", "demo"]).await;
    assert_eq!(run.code, 3, "{}", run.all());
    assert!(run.stderr.contains("[memberships]"), "{}", run.stderr);
    assert_eq!(std::fs::read(&t.store).unwrap(), before);

    t.database_extra = "      memberships: fix\n".into();
    t.write_config();
    let run = t.seesaw(&["rotate", "demo"]).await;
    assert_eq!(run.code, 0, "{}", run.all());
    let rows = su
        .query(
            "SELECT g.rolname::text FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid \
             JOIN pg_roles u ON u.oid = m.member WHERE u.rolname = 'app_b' ORDER BY 1",
            &[],
        )
        .await
        .unwrap();
    let groups: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
    assert_eq!(groups, ["app_owner", "reporting"]);
    let check = t.seesaw(&["check"]).await;
    assert_eq!(check.code, 0, "{}", check.all());
}

/// Ctrl-C during a rotation: the step in flight ends, the run stops at the
/// step boundary with exit 130 and says how to finish; nothing is changed
/// halfway, and a rerun completes the rotation.
#[tokio::test]
async fn ctrl_c_stops_at_a_step_boundary_with_130_and_a_rerun_converges() {
    use tokio::io::{AsyncBufReadExt, BufReader};
    let t = rotated_once("wait").await;
    let session = standby_session(&t).await;
    let before = std::fs::read(&t.store).unwrap();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_seesaw"))
        .arg("--config")
        .arg(&t.config)
        .args(["rotate", "demo"])
        .env("TEST_ADMIN_PASSWORD", support::seesaw::ADMIN_PASSWORD)
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut seen = String::new();
    // Up to the gate's wait for the standby's session, then Ctrl-C.
    while let Some(line) = lines.next_line().await.unwrap() {
        seen += &format!("{line}\n");
        if line.contains("waiting") {
            break;
        }
    }
    assert!(seen.contains("waiting"), "{seen}");
    support::process::interrupt(&child);
    let status = tokio::time::timeout(Duration::from_secs(5), child.wait())
        .await
        .expect("stops within a poll of the wait, not after the 20s timeout")
        .unwrap();
    while let Some(line) = lines.next_line().await.unwrap() {
        seen += &format!("{line}\n");
    }
    assert_eq!(status.code(), Some(130), "{seen}");
    assert!(
        seen.contains("stopping after the step in progress"),
        "{seen}"
    );
    assert!(seen.contains("stopped after step"), "{seen}");
    assert_eq!(std::fs::read(&t.store).unwrap(), before, "nothing changed");
    assert!(t.logs_in("current").await && t.logs_in("previous").await);
    drop(session);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let run = t.seesaw(&["rotate", "demo"]).await;
    assert_eq!(run.code, 0, "{}", run.all());
}

/// `trust` in pg_hba.conf makes every password work, so the verify step
/// proves nothing: check, plan and rotate say so (and still work).
#[tokio::test]
async fn a_server_that_does_not_check_passwords_is_reported() {
    let t = Target::new(["app_a", "app_b"]).await;
    let says = "logs in with a wrong password";
    let check = t.seesaw(&["check"]).await;
    assert!(!check.all().contains(says), "{}", check.all());

    let hba = t.cluster.dir().join("data/pg_hba.conf");
    let original = std::fs::read_to_string(&hba).unwrap();
    std::fs::write(
        &hba,
        format!("host all app_a 127.0.0.1/32 trust\n{original}"),
    )
    .unwrap();
    let su = t.cluster.superuser().await;
    su.batch_execute("SELECT pg_reload_conf()").await.unwrap();

    let check = t.seesaw(&["check"]).await;
    assert!(check.stdout.contains("warning: "), "{}", check.all());
    assert!(check.stdout.contains(says), "{}", check.all());
    assert!(check.stdout.contains("\"app_a\""), "{}", check.all());
    let json = t.seesaw(&["check", "--output", "json"]).await;
    let v: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert!(v[0]["warnings"][0].as_str().unwrap().contains(says));
    let plan = t.seesaw(&["plan", "demo"]).await;
    assert!(plan.stderr.contains(says), "{}", plan.all());
    let rotate = t.seesaw(&["rotate", "demo"]).await;
    assert_eq!(rotate.code, 0, "{}", rotate.all());
    assert!(rotate.stderr.contains(says), "{}", rotate.all());
}

/// plan and check test the admin's privileges on the standby and name the
/// grant that is missing (CREATEROLE; on PostgreSQL 16+, ADMIN OPTION on
/// the role), before anything changes.
#[tokio::test]
async fn an_admin_without_the_privilege_is_named_with_its_grant() {
    let t = Target::new(["app_a", "app_b"]).await;
    let su = t.cluster.superuser().await;
    let v16 = su
        .query_one(
            "SELECT current_setting('server_version_num')::int >= 160000",
            &[],
        )
        .await
        .unwrap()
        .get::<_, bool>(0);
    if v16 {
        su.batch_execute("REVOKE ADMIN OPTION FOR app_b FROM seesaw_admin")
            .await
            .unwrap();
        let plan = t.seesaw(&["plan", "demo"]).await;
        assert_eq!(plan.code, 3, "{}", plan.all());
        assert!(
            plan.stdout.contains(
                "GRANT \"app_b\" TO \"seesaw_admin\" WITH ADMIN OPTION, INHERIT FALSE, SET FALSE"
            ),
            "{}",
            plan.all()
        );
        su.batch_execute("GRANT app_b TO seesaw_admin WITH ADMIN OPTION, INHERIT FALSE, SET FALSE")
            .await
            .unwrap();
    }
    su.batch_execute("ALTER ROLE seesaw_admin NOCREATEROLE")
        .await
        .unwrap();
    let before = std::fs::read(&t.store).unwrap();
    let check = t.seesaw(&["check"]).await;
    assert_eq!(check.code, 1, "{}", check.all());
    assert!(
        check
            .stdout
            .contains("lacks CREATEROLE, which changing \"app_b\"'s password needs; as a superuser: ALTER ROLE \"seesaw_admin\" CREATEROLE"),
        "{}",
        check.all()
    );
    let rotate = t.seesaw(&["rotate", "demo"]).await;
    assert_eq!(rotate.code, 3, "{}", rotate.all());
    assert_eq!(std::fs::read(&t.store).unwrap(), before, "nothing changed");
    su.batch_execute("ALTER ROLE seesaw_admin CREATEROLE")
        .await
        .unwrap();
    assert_eq!(t.seesaw(&["rotate", "demo"]).await.code, 0);
}
