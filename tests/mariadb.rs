//! MariaDB targets against a real MariaDB 10.11 (a private server per
//! test): rotation keeps each account's plugin and sends only hashes (the
//! general log and the binlog are searched for every password), terminate,
//! parity, the admin's privileges, other host parts, read-only servers,
//! TLS and the `<user>_clone` creation. The lock, the gate, crash points
//! and hostile names run in tests/engines.rs, for both engines.

mod support;

use mysql_async::prelude::Queryable;
use support::mariadb::{Target, INITIAL};

#[tokio::test]
async fn rotations_keep_each_plugin_and_send_only_hashes() {
    let t = Target::new(["app_a", "app_b"], "").await;
    // app_b authenticates with ed25519, app_a with mysql_native_password.
    let mut root = t.server.root().await.unwrap();
    root.query_drop("ALTER USER `app_b`@`%` IDENTIFIED VIA ed25519 USING PASSWORD('b-start')")
        .await
        .unwrap();
    let mut passwords = Vec::new();
    for i in 0..4 {
        let run = t.seesaw(&["rotate", "demo"]).await;
        assert_eq!(run.code, 0, "rotation {i}: {}", run.all());
        assert!(
            t.logs_in("current").await,
            "rotation {i}: current does not log in"
        );
        assert!(
            t.logs_in("previous").await,
            "rotation {i}: previous does not log in"
        );
        passwords.push(t.login("current").1);
    }
    assert_eq!(t.plugin("app_a").await, "mysql_native_password");
    assert_eq!(t.plugin("app_b").await, "ed25519");
    let logs = t.server.logs();
    assert!(
        logs.contains("IDENTIFIED VIA ed25519 USING '"),
        "no ed25519 hash sent"
    );
    assert!(
        logs.contains("IDENTIFIED BY PASSWORD '*"),
        "no native hash sent"
    );
    for password in &passwords {
        assert!(
            !logs.contains(password.as_str()),
            "a password reached the server's logs"
        );
    }
}

#[tokio::test]
async fn a_session_of_the_standby_holds_the_rotation_and_terminate_ends_it() {
    let t = Target::new(["app_a", "app_b"], "      standby_sessions: terminate\n").await;
    assert_eq!(t.seesaw(&["rotate", "demo"]).await.code, 0);
    held_under_fail_then_ended_by_terminate(&t).await;
}

/// A live session of the standby: under `fail` the rotation is held (exit
/// 3, store unchanged, the session's credential still logs in); under
/// `terminate` it is ended (KILL CONNECTION), then the rotation finishes.
async fn held_under_fail_then_ended_by_terminate(t: &Target) {
    let (standby, password) = t.login("previous");
    let mut session = t
        .server
        .connect(&standby, &password, Some("app"))
        .await
        .unwrap();
    session.query_drop("SELECT 1").await.unwrap();

    t.set_sessions_policy("fail");
    let before = t.read_store();
    let run = t.seesaw(&["rotate", "demo"]).await;
    assert_eq!(run.code, 3, "{}", run.all());
    assert!(run.all().contains("1 open session"), "{}", run.all());
    assert_eq!(t.read_store(), before);
    assert!(t.server.can_login(&standby, &password).await);
    // status counts it too (under `admin: self`, as the standby).
    let status = t.seesaw(&["status", "--output", "json"]).await;
    assert_eq!(status.code, 0, "{}", status.all());
    let s: serde_json::Value = serde_json::from_str(&status.stdout).unwrap();
    assert_eq!(s[0]["standby_sessions"], 1, "{}", status.stdout);

    t.set_sessions_policy("terminate");
    let run = t.seesaw(&["rotate", "demo"]).await;
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(run.all().contains("ended 1 session"), "{}", run.all());
    assert!(
        session.query_drop("SELECT 1").await.is_err(),
        "the session survived"
    );
    assert!(t.logs_in("current").await && t.logs_in("previous").await);
}

#[tokio::test]
async fn an_admin_without_process_is_told_the_missing_grant() {
    let t = Target::new(["app_a", "app_b"], "").await;
    let mut root = t.server.root().await.unwrap();
    root.query_drop(format!(
        "REVOKE PROCESS ON *.* FROM `{}`@`%`",
        support::seesaw::ADMIN
    ))
    .await
    .unwrap();
    let check = t.seesaw(&["check", "demo"]).await;
    assert_ne!(check.code, 0, "{}", check.all());
    assert!(
        check.all().contains("GRANT PROCESS ON *.*"),
        "{}",
        check.all()
    );
    let run = t.seesaw(&["rotate", "demo"]).await;
    assert_ne!(run.code, 0);
    assert!(
        t.read_store()["previous"].is_null(),
        "rotated without seeing sessions"
    );
}

#[tokio::test]
async fn grant_drift_is_found_and_fixed() {
    let t = Target::new(["app_a", "app_b"], "").await;
    let mut root = t.server.root().await.unwrap();
    root.query_drop("REVOKE `app_owner` FROM `app_b`@`%`")
        .await
        .unwrap();
    let check = t.seesaw(&["check", "demo"]).await;
    assert_ne!(check.code, 0);
    assert!(check.all().contains("GRANT `app_owner`"), "{}", check.all());
    assert_eq!(t.seesaw(&["rotate", "demo"]).await.code, 3);

    std::fs::write(
        &t.config,
        std::fs::read_to_string(&t.config).unwrap().replace(
            "      connect_timeout: 3s\n",
            "      connect_timeout: 3s\n      memberships: fix\n",
        ),
    )
    .unwrap();
    let run = t.seesaw(&["rotate", "demo"]).await;
    assert_eq!(run.code, 0, "{}", run.all());
    let grants: Vec<String> = root.query("SHOW GRANTS FOR `app_b`@`%`").await.unwrap();
    assert!(
        grants.iter().any(|g| g.starts_with("GRANT `app_owner` TO")),
        "{grants:?}"
    );
    assert!(t.logs_in("current").await);
}

#[tokio::test]
async fn a_missing_clone_is_created_locked_then_unlocked_with_the_users_grants() {
    let t = Target::new(["app", "app_clone"], "").await;
    let mut root = t.server.root().await.unwrap();
    root.query_drop("DROP USER `app_clone`@`%`").await.unwrap();
    // Without UPDATE on mysql.* the clone's default role cannot be set:
    // the creation fails, names the grant, and leaves no account behind.
    let engine = t.engine().await.creating_standby();
    let err = engine
        .rotate(Default::default(), &seesaw::runtime::NoProgress)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("UPDATE on `mysql`.*"), "{err}");
    let left: Option<i64> = root
        .query_first("SELECT COUNT(*) FROM mysql.user WHERE User = 'app_clone'")
        .await
        .unwrap();
    assert_eq!(left, Some(0), "a half-made clone was left behind");
    assert!(t.read_store()["pending"].is_object() || t.read_store()["previous"].is_null());

    // The Lambda's master user has it.
    root.query_drop(format!(
        "GRANT UPDATE ON `mysql`.* TO `{}`@`%`",
        support::seesaw::ADMIN
    ))
    .await
    .unwrap();
    let report = engine
        .rotate(Default::default(), &seesaw::runtime::NoProgress)
        .await
        .unwrap();
    assert!(
        report
            .steps
            .iter()
            .any(|s| s.step.name() == "create_standby"),
        "{report:?}"
    );
    assert_eq!(t.login("current").0, "app_clone");
    assert!(t.logs_in("current").await && t.logs_in("previous").await);
    let grants: Vec<String> = root.query("SHOW GRANTS FOR `app_clone`@`%`").await.unwrap();
    assert!(
        grants.iter().any(|g| g.starts_with("GRANT `app_owner` TO")),
        "{grants:?}"
    );
    let locked: Option<String> = root
        .query_first("SHOW CREATE USER `app_clone`@`%`")
        .await
        .unwrap();
    assert!(!locked.unwrap_or_default().contains("ACCOUNT LOCK"));
    let _ = INITIAL;
}

#[tokio::test]
async fn verify_full_rotates_over_tls_and_a_foreign_ca_is_refused() {
    let ca = support::tls::TestCa::new(&["127.0.0.1", "localhost"]);
    let t = Target::with(["app_a", "app_b"], "", Some(&ca)).await;
    let run = t.seesaw(&["rotate", "demo"]).await;
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(t.logs_in("current").await && t.logs_in("previous").await);

    // The same server, another CA in the config: refused as TLS, nothing changed.
    let other = support::tls::TestCa::new(&["127.0.0.1"]);
    let foreign = t.server.dir().join("other-ca.pem");
    std::fs::write(&foreign, &other.ca_pem).unwrap();
    let config = std::fs::read_to_string(&t.config).unwrap();
    std::fs::write(
        &t.config,
        config.replace(
            &t.server.dir().join("ca.pem").display().to_string(),
            &foreign.display().to_string(),
        ),
    )
    .unwrap();
    let before = t.read_store();
    let run = t.seesaw(&["rotate", "demo"]).await;
    assert_ne!(run.code, 0, "{}", run.all());
    assert!(run.all().contains("TLS"), "{}", run.all());
    assert_eq!(t.read_store(), before);
}

#[tokio::test]
async fn another_host_part_a_read_only_server_and_require_ssl_each_say_what_to_do() {
    let t = Target::new(["app_a", "app_b"], "").await;
    let mut root = t.server.root().await.unwrap();

    // 'app_b'@'10.0.%' beside 'app_b'@'%': refused before any change.
    root.query_drop("CREATE USER `app_b`@`10.0.%` IDENTIFIED BY PASSWORD '*0000000000000000000000000000000000000000'")
        .await
        .unwrap();
    let before = t.read_store();
    let run = t.seesaw(&["rotate", "demo"]).await;
    assert_ne!(run.code, 0, "{}", run.all());
    assert!(run.all().contains("`app_b`@`10.0.%`"), "{}", run.all());
    assert_eq!(t.read_store(), before);
    root.query_drop("DROP USER `app_b`@`10.0.%`").await.unwrap();

    // A read-only server (a replica): the password change is refused, the
    // message names the primary, and the rerun on a writable server
    // finishes the same pending password.
    root.query_drop("SET GLOBAL read_only = 1").await.unwrap();
    let run = t.seesaw(&["rotate", "demo"]).await;
    assert_ne!(run.code, 0, "{}", run.all());
    assert!(run.all().contains("primary"), "{}", run.all());
    assert!(t.logs_in("current").await);
    assert_eq!(t.login("current"), (t.users[0].clone(), INITIAL.to_owned()));
    root.query_drop("SET GLOBAL read_only = 0").await.unwrap();
    let run = t.seesaw(&["rotate", "demo"]).await;
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(run.all().contains("resuming"), "{}", run.all());

    // A REQUIRE SSL standby with tls: disable: the verify login's one error
    // lists REQUIRE SSL among its causes; nothing is published.
    root.query_drop("ALTER USER `app_a`@`%` REQUIRE SSL")
        .await
        .unwrap();
    let before = t.read_store();
    let run = t.seesaw(&["rotate", "demo"]).await;
    assert_ne!(run.code, 0, "{}", run.all());
    assert!(run.all().contains("REQUIRE SSL"), "{}", run.all());
    assert_eq!(t.read_store()["current"], before["current"]);
}

#[tokio::test]
async fn admin_self_sets_each_password_itself_and_counts_the_standbys_sessions_as_the_standby() {
    let t = Target::new(["app_a", "app_b"], "      standby_sessions: terminate\n").await;
    let mut root = t.server.root().await.unwrap();
    // app_b authenticates with ed25519; both start with a password the
    // store holds (admin: self needs the standby's credential).
    let standby_start = "standby-Password-2";
    root.query_drop(format!(
        "ALTER USER `app_b`@`%` IDENTIFIED VIA ed25519 USING PASSWORD('{standby_start}')"
    ))
    .await
    .unwrap();
    std::fs::write(
        &t.store,
        serde_json::to_vec_pretty(&serde_json::json!({
            "current": {"username": "app_a", "password": INITIAL},
            "previous": {"username": "app_b", "password": standby_start},
        }))
        .unwrap(),
    )
    .unwrap();
    // No admin at all: the accounts hold only the application's role.
    root.query_drop(format!("DROP USER `{}`@`%`", support::seesaw::ADMIN))
        .await
        .unwrap();
    t.write_config_with_admin("self");

    let mut passwords = vec![INITIAL.to_owned(), standby_start.to_owned()];
    for i in 0..3 {
        let run = t.seesaw(&["rotate", "demo"]).await;
        assert_eq!(run.code, 0, "rotation {i}: {}", run.all());
        assert!(t.logs_in("current").await, "rotation {i}: current");
        assert!(t.logs_in("previous").await, "rotation {i}: previous");
        passwords.push(t.login("current").1);
    }
    assert_eq!(t.plugin("app_a").await, "mysql_native_password");
    assert_eq!(t.plugin("app_b").await, "ed25519");
    let logs = t.server.logs();
    assert!(logs.contains("SET PASSWORD = '"), "no SET PASSWORD sent");
    // The fixture's own ALTER USERs send passwords; seesaw's would send hashes.
    let altered: Vec<&str> = logs
        .lines()
        .filter(|l| {
            l.contains("ALTER USER `app_")
                && (l.contains("IDENTIFIED BY PASSWORD '*") || l.contains("USING '"))
        })
        .collect();
    assert!(
        altered.is_empty(),
        "ALTER USER sent (it needs CREATE USER): {altered:?}"
    );
    for password in &passwords[2..] {
        assert!(
            !logs.contains(password.as_str()),
            "a password reached the logs"
        );
    }

    // A session of the standby, invisible to the active user (no PROCESS):
    // the standby's own login sees it; under terminate the standby ends its
    // own connection (KILL needs no privilege for one's own).
    held_under_fail_then_ended_by_terminate(&t).await;

    // A store whose previous version no longer logs in: a clear error
    // naming the standby and the fix, nothing changed.
    let mut broken = t.read_store();
    broken["previous"]["password"] = "not-the-password".into();
    std::fs::write(&t.store, serde_json::to_vec_pretty(&broken).unwrap()).unwrap();
    let run = t.seesaw(&["rotate", "demo"]).await;
    assert_ne!(run.code, 0, "{}", run.all());
    assert!(run.all().contains("previous version"), "{}", run.all());
    assert_eq!(t.read_store(), broken);
}

#[tokio::test]
async fn accounts_with_a_host_part_rotate_as_the_config_names_them() {
    let t = Target::new(["app_a@127.0.0.%", "app_b@127.0.0.%"], "").await;
    let mut root = t.server.root().await.unwrap();
    let hosts: Vec<String> = root
        .query("SELECT DISTINCT Host FROM mysql.user WHERE User IN ('app_a', 'app_b')")
        .await
        .unwrap();
    assert_eq!(hosts, ["127.0.0.%"], "setup-sql created other accounts");
    for i in 0..2 {
        let run = t.seesaw(&["rotate", "demo"]).await;
        assert_eq!(run.code, 0, "rotation {i}: {}", run.all());
        assert!(t.logs_in("current").await && t.logs_in("previous").await);
    }
    let logs = t.server.logs();
    assert!(
        logs.contains("ALTER USER `app_a`@`127.0.0.%` IDENTIFIED BY PASSWORD '*"),
        "the host part was not used"
    );

    // 'app_b'@'%' beside the named 'app_b'@'127.0.0.%': refused, naming it.
    root.query_drop("CREATE USER `app_b`@`%` IDENTIFIED BY PASSWORD '*0000000000000000000000000000000000000000'")
        .await
        .unwrap();
    let before = t.read_store();
    let run = t.seesaw(&["rotate", "demo"]).await;
    assert_ne!(run.code, 0, "{}", run.all());
    assert!(run.all().contains("`app_b`@`%`"), "{}", run.all());
    assert_eq!(t.read_store(), before);
}
