//! End-to-end rotations through the `seesaw` binary against a private
//! PostgreSQL with SCRAM authentication.

mod support;

use serde_json::Value;
use support::seesaw::{Target, ADMIN_PASSWORD, DB};

#[tokio::test]
async fn three_rotations_alternate_and_both_credentials_keep_working() {
    let t = Target::new(["app_a", "app_b"]).await;
    let mut passwords = vec!["initial-Password-1".to_string()];
    let mut outputs = String::new();
    let mut expected_active = ["app_b", "app_a", "app_b"].iter();
    for round in 1..=3 {
        let before = t.read_store();
        let run = t.seesaw(&["rotate", "demo"]).await;
        outputs += &run.all();
        assert_eq!(run.code, 0, "rotation {round} failed: {}", run.all());
        let after = t.read_store();
        let (user, password) = t.login("current");
        assert_eq!(&user, expected_active.next().unwrap(), "rotation {round}");
        passwords.push(password.clone());
        assert!(
            t.logs_in("current").await,
            "rotation {round}: the new credential does not log in"
        );
        assert!(
            t.logs_in("previous").await,
            "rotation {round}: the previous credential stopped working"
        );
        assert_eq!(
            after["previous"], before["current"],
            "the store's previous must be the old document"
        );
        // Unknown fields survive, and the RDS shape is filled in on adoption.
        assert_eq!(after["current"]["note"], "kept");
        assert_eq!(after["current"]["dbname"], DB);
        assert_eq!(after["current"]["engine"], "postgres");
        assert!(run.stdout.contains(&format!("-> {user}")), "{}", run.stdout);
    }
    // status names the active user and shows the standby has no sessions.
    let status = t.seesaw(&["status", "--output", "json"]).await;
    assert_eq!(status.code, 0, "{}", status.all());
    let s: Value = serde_json::from_str(&status.stdout).unwrap();
    assert_eq!(s[0]["active"], "app_b");
    assert_eq!(s[0]["previous"], "app_a");
    assert_eq!(s[0]["standby_sessions"], 0);
    outputs += &status.all();

    // No plaintext password in the server log, seesaw's output or errors.
    let log = t.cluster.server_log();
    assert!(
        log.contains("ALTER ROLE"),
        "log_statement = 'all' should have logged the ALTER ROLE"
    );
    assert!(
        log.contains("SCRAM-SHA-256$"),
        "the server must receive a verifier"
    );
    for p in &passwords[1..] {
        assert!(
            !log.contains(p.as_str()),
            "a generated password reached the server log"
        );
        assert!(
            !outputs.contains(p.as_str()),
            "a generated password reached seesaw's output"
        );
    }
}

#[tokio::test]
async fn rollback_returns_to_the_previous_user_and_both_still_log_in() {
    let t = Target::new(["app_a", "app_b"]).await;
    assert_eq!(t.seesaw(&["rotate", "demo"]).await.code, 0);
    let rotated = t.read_store();
    assert_eq!(rotated["current"]["username"], "app_b");

    let plan = t.seesaw(&["plan", "demo", "--rollback"]).await;
    assert_eq!(plan.code, 0, "{}", plan.all());
    assert!(
        plan.stdout.contains("roll back app_b -> app_a"),
        "{}",
        plan.stdout
    );
    // A rollback stages and verifies the previous credential.
    assert!(
        plan.stdout
            .contains("write \"app_a\"'s previous credential to the store as pending")
            && plan
                .stdout
                .contains("log in as \"app_a\" with its previous password")
            && !plan.stdout.contains("new password"),
        "{}",
        plan.stdout
    );

    let run = t.seesaw(&["rollback", "demo"]).await;
    assert_eq!(run.code, 0, "{}", run.all());
    let after = t.read_store();
    assert_eq!(
        after["current"], rotated["previous"],
        "rollback republishes the previous document"
    );
    assert_eq!(after["previous"], rotated["current"]);
    assert!(t.logs_in("current").await);
    assert!(t.logs_in("previous").await);

    // The next rotation goes on from app_a to app_b again.
    assert_eq!(t.seesaw(&["rotate", "demo"]).await.code, 0);
    assert_eq!(t.login("current").0, "app_b");
    assert!(t.logs_in("current").await);
}

#[tokio::test]
async fn dry_run_and_plan_change_nothing() {
    let t = Target::new(["app_a", "app_b"]).await;
    let before = std::fs::read(&t.store).unwrap();
    let plan = t.seesaw(&["plan", "demo"]).await;
    assert_eq!(plan.code, 0, "{}", plan.all());
    assert!(
        plan.stdout.contains("rotate app_a -> app_b"),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout
            .contains("generate a new password for \"app_b\" and write it to the store as pending")
            && plan
                .stdout
                .contains("set the pending password for \"app_b\""),
        "{}",
        plan.stdout
    );
    let dry = t
        .seesaw(&["rotate", "demo", "--dry-run", "--output", "json"])
        .await;
    assert_eq!(dry.code, 0, "{}", dry.all());
    let report: Value = serde_json::from_str(&dry.stdout).unwrap();
    assert_eq!(report["dry_run"], true);
    assert_eq!(report["to"], "app_b");
    assert_eq!(report["schema"], "seesaw.report/v1");
    // `plan` is the same document, in JSON and in YAML.
    let plan_json = t.seesaw(&["plan", "demo", "--output", "json"]).await;
    let plan_doc: Value = serde_json::from_str(&plan_json.stdout).unwrap();
    let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    assert_eq!(
        keys(&plan_doc),
        keys(&report),
        "plan and --dry-run: one shape"
    );
    assert_eq!(plan_doc["planned"], report["planned"]);
    let plan_yaml = t.seesaw(&["plan", "demo", "--output", "yaml"]).await;
    assert_eq!(plan_yaml.code, 0, "{}", plan_yaml.all());
    let from_yaml: Value = serde_yaml_ng::from_str(&plan_yaml.stdout).unwrap();
    assert_eq!(from_yaml["planned"], plan_doc["planned"]);
    assert_eq!(from_yaml["schema"], "seesaw.report/v1");
    assert_eq!(std::fs::read(&t.store).unwrap(), before);
    // app_b still has no password: nothing was set.
    let su = t.cluster.superuser().await;
    let row = su
        .query_one(
            "SELECT rolpassword IS NULL FROM pg_authid WHERE rolname = 'app_b'",
            &[],
        )
        .await
        .unwrap();
    assert!(row.get::<_, bool>(0));
}

#[tokio::test]
async fn admin_self_rotates_without_an_admin_login() {
    let mut t = Target::new(["app_a", "app_b"]).await;
    t.set_password("app_b", "initial-Password-2").await;
    t.write_store(serde_json::json!({
        "current": {"username": "app_a", "password": "initial-Password-1"},
        "previous": {"username": "app_b", "password": "initial-Password-2"},
    }));
    t.admin_self = true;
    t.write_config();
    // Nobody can use the admin: prove it is not needed.
    let su = t.cluster.superuser().await;
    su.batch_execute("ALTER ROLE seesaw_admin NOLOGIN")
        .await
        .unwrap();
    for expected in ["app_b", "app_a", "app_b"] {
        let run = t.seesaw(&["rotate", "demo"]).await;
        assert_eq!(run.code, 0, "{}", run.all());
        assert_eq!(t.login("current").0, expected);
        assert!(t.logs_in("current").await);
        assert!(t.logs_in("previous").await);
    }
}

#[tokio::test]
async fn admin_self_without_a_previous_version_is_explained() {
    let mut t = Target::new(["app_a", "app_b"]).await;
    t.admin_self = true;
    t.write_config();
    let before = std::fs::read(&t.store).unwrap();
    let run = t.seesaw(&["rotate", "demo", "--force"]).await;
    assert_eq!(run.code, 3, "{}", run.all());
    assert!(run.stderr.contains("admin: self"), "{}", run.stderr);
    assert!(run.stderr.contains("previous version"), "{}", run.stderr);
    assert_eq!(std::fs::read(&t.store).unwrap(), before);
}

/// At the highest verbosity, even with RUST_LOG asking every library for
/// trace, no password and no verifier reaches seesaw's logs: the driver
/// logs statements and their parameters at debug, so other libraries stop
/// at info.
#[tokio::test]
async fn no_secret_or_verifier_in_the_logs_at_any_verbosity() {
    let t = Target::new(["app_a", "app_b"]).await;
    for env in [None, Some("trace")] {
        let rust_log = env.map(std::ffi::OsStr::new);
        let run = t
            .seesaw_with(
                &["-vv", "--log-format", "text", "rotate", "demo"],
                &[("RUST_LOG", rust_log)],
            )
            .await;
        assert_eq!(run.code, 0, "{}", run.all());
        let all = run.all();
        assert!(all.contains("INFO"), "-vv logs: {all}");
        let current = t.login("current").1;
        for secret in [
            "SCRAM-SHA-256$",
            current.as_str(),
            ADMIN_PASSWORD,
            "initial-Password-1",
        ] {
            assert!(
                !all.contains(secret),
                "RUST_LOG={env:?}: {secret:?} in the output"
            );
        }
    }
}

/// A preview runs the gates of the command it previews: after a rollback
/// whose previous credential no longer logs in, `plan --rollback` and
/// `rollback --dry-run` refuse as `rollback` does; within `min_interval`,
/// `plan` and `rotate --dry-run` say "up to date" as `rotate` does, and
/// the up-to-date report names the active user as `to`.
#[tokio::test]
async fn previews_agree_with_the_commands_they_preview() {
    let mut t = Target::new(["app_a", "app_b"]).await;
    assert_eq!(t.seesaw(&["rotate", "demo"]).await.code, 0); // app_b current
                                                             // app_a current, app_b previous; a rollback generates nothing and
                                                             // speaks of the previous credential, never of a new one.
    let rollback = t.seesaw(&["-v", "rollback", "demo"]).await;
    assert_eq!(rollback.code, 0, "{}", rollback.all());
    assert!(
        rollback.stderr.contains("with its previous password"),
        "{}",
        rollback.stderr
    );
    for word in ["new password", "new credential", "generate"] {
        assert!(!rollback.all().contains(word), "{word}: {}", rollback.all());
    }
    t.set_password("app_b", "changed-by-hand-2").await;
    for args in [
        &["plan", "demo", "--rollback"][..],
        &["rollback", "demo", "--dry-run"],
        &["rollback", "demo"],
    ] {
        let run = t.seesaw(args).await;
        assert_eq!(run.code, 3, "`seesaw {}`: {}", args.join(" "), run.all());
        assert!(
            run.all().contains("does not log in"),
            "`seesaw {}`: {}",
            args.join(" "),
            run.all()
        );
    }
    assert_eq!(t.login("current").0, "app_a");

    t.target_extra = "    min_interval: 1h\n".into();
    t.write_config();
    for args in [
        &["plan", "demo"][..],
        &["rotate", "demo", "--dry-run"],
        &["rotate", "demo"],
    ] {
        let run = t.seesaw(args).await;
        assert_eq!(run.code, 0, "`seesaw {}`: {}", args.join(" "), run.all());
        assert!(
            run.stdout.contains("up to date"),
            "`seesaw {}`: {}",
            args.join(" "),
            run.all()
        );
        assert!(!run.stdout.contains("would rotate"), "{}", run.stdout);
        // Seconds old, told as such (not "0ms" for any age under a second).
        assert!(!run.stdout.contains("rotated 0ms ago"), "{}", run.stdout);
        let json = t.seesaw(&[&["--output", "json"][..], args].concat()).await;
        let report: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
        assert_eq!(report["from"], "app_a", "{report}");
        assert_eq!(report["to"], "app_a", "nothing changed: {report}");
        assert!(report["up_to_date"].is_string(), "{report}");
        assert_eq!(report["planned"], serde_json::json!([]), "{report}");
    }
    assert_eq!(t.login("current").0, "app_a", "nothing was rotated");
}
