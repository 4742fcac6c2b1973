//! Rotations behind PgBouncer: no failed login with an auth_file, nothing
//! written with auth_query, and the control without the pooler step.

use crate::common::{every_instance_logged_in, rotate_with_apps, seesaw, setup, USERS};
use crate::support;
use crate::support::pgbouncer::{self, PgBouncer};
use crate::support::seesaw::{Run, Target};
use std::sync::Arc;

#[tokio::test]
async fn rotations_behind_pgbouncer_lose_no_login() {
    let (t, bouncer) = setup("transaction", Some(true)).await;
    let bouncer = Arc::new(bouncer);
    let (ok, failed, errors, runs, instances) = rotate_with_apps(&t, &bouncer, 4).await;
    for run in &runs {
        assert_eq!(run.code, 0, "{}", run.all());
        assert!(
            run.all().contains("update_poolers") || run.all().contains("reloaded 1 pooler"),
            "{}",
            run.all()
        );
    }
    assert_eq!(runs.len(), 4);
    eprintln!("4 rotations: {ok} logins through PgBouncer, {failed} failed");
    assert_eq!(failed, 0, "failed logins through PgBouncer: {errors:?}");
    assert_eq!(instances.len(), 5, "logins went on across every rotation");
    every_instance_logged_in(&instances, 40);

    // The file holds verifiers, keeps its other lines, owner and mode.
    let text = std::fs::read_to_string(&bouncer.userlist).unwrap();
    for user in USERS {
        assert!(
            text.contains(&format!("\"{user}\" \"SCRAM-SHA-256$4096:")),
            "{text}"
        );
    }
    assert!(text.contains(&format!(
        "\"{}\" \"{}\"",
        pgbouncer::ADMIN,
        pgbouncer::ADMIN_PASSWORD
    )));
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let meta = std::fs::metadata(&bouncer.userlist).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    let owner = std::fs::metadata(&bouncer.dir).unwrap().uid();
    assert_eq!(meta.uid(), owner, "the userlist changed owner");

    // No password anywhere but the store: not in the file, PgBouncer's
    // log, the server's log or seesaw's output.
    let (_, current) = t.login("current");
    let (_, previous) = t.login("previous");
    let logs = [
        text,
        bouncer.log(),
        t.cluster.server_log(),
        runs.iter().map(Run::all).collect(),
    ];
    for log in &logs {
        for secret in [&current, &previous] {
            assert!(!log.contains(secret.as_str()), "a password leaked");
        }
    }
    // Nothing left beside the userlist.
    let left: Vec<_> = std::fs::read_dir(&bouncer.dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("seesaw"))
        .collect();
    assert!(left.is_empty(), "{left:?}");

    // A rollback proves the previous credential through PgBouncer too.
    let (previous_user, previous_password) = t.login("previous");
    let run = seesaw(&t, &["rollback", "demo"]).await;
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(run.all().contains("through 1 pooler"), "{}", run.all());
    assert_eq!(
        t.login("current"),
        (previous_user.clone(), previous_password.clone())
    );
    bouncer
        .login(&previous_user, &previous_password)
        .await
        .unwrap();
}

#[tokio::test]
async fn behind_pgbouncer_with_auth_query_nothing_is_written_and_no_login_fails() {
    let mut t = Target::new(USERS).await;
    let bouncer = PgBouncer::start_auth_query(&t.cluster, "transaction").await;
    let userlist_before = std::fs::read_to_string(&bouncer.userlist).unwrap();
    t.database_extra = format!(
        "      standby_sessions: wait\n      standby_wait_timeout: 20s\n{}",
        bouncer.config_lines(false)
    );
    t.write_config();
    let plan = seesaw(&t, &["plan", "demo"]).await;
    assert_eq!(plan.code, 0, "{}", plan.all());
    assert!(plan.all().contains("auth_query"), "{}", plan.all());
    assert!(
        !plan.all().contains("update_poolers") && !plan.all().contains("reload them"),
        "{}",
        plan.all()
    );
    // Control: the same PgBouncer, its auth_file (which it reads beside
    // auth_query) now listing the standby with a stale secret, as a file
    // left from before auth_query would. PgBouncer would check the new
    // password against that line; seesaw, told of auth_query only, finds
    // the line through SHOW CONFIG and refuses before any change.
    std::fs::write(
        &bouncer.userlist,
        format!("{userlist_before}\"app_b\" \"stale-Password-1\"\n"),
    )
    .unwrap();
    let refused = seesaw(&t, &["plan", "demo"]).await;
    assert_eq!(refused.code, 3, "{}", refused.all());
    assert!(
        refused
            .all()
            .contains("checks [\"app_b\"] against its auth_file"),
        "{}",
        refused.all()
    );
    std::fs::write(&bouncer.userlist, &userlist_before).unwrap();
    let bouncer = Arc::new(bouncer);
    let (ok, failed, errors, runs, instances) = rotate_with_apps(&t, &bouncer, 3).await;
    for run in &runs {
        assert_eq!(run.code, 0, "{}", run.all());
        assert!(run.all().contains("through 1 pooler"), "{}", run.all());
    }
    eprintln!("auth_query, 3 rotations: {ok} logins through PgBouncer, {failed} failed");
    assert_eq!(failed, 0, "{errors:?}");
    assert_eq!(instances.len(), 4, "logins went on across every rotation");
    every_instance_logged_in(&instances, 40);
    assert_eq!(
        std::fs::read_to_string(&bouncer.userlist).unwrap(),
        userlist_before
    );
}

#[tokio::test]
async fn control_without_the_pooler_step_logins_through_pgbouncer_fail() {
    // The same applications and rollouts, seesaw not told about PgBouncer:
    // the database has the new password, PgBouncer's file the old one.
    let (mut t, bouncer) = setup("transaction", None).await;
    // Unaware of PgBouncer, seesaw sees its idle server connections of the
    // standby as sessions; ending them is what an operator would configure.
    t.database_extra = "      standby_sessions: terminate\n".into();
    t.write_config();
    let su = t.cluster.superuser().await;
    su.batch_execute(&format!(
        "GRANT pg_signal_backend TO {}",
        support::seesaw::ADMIN
    ))
    .await
    .unwrap();
    let bouncer = Arc::new(bouncer);
    let (ok, failed, errors, runs, _) = rotate_with_apps(&t, &bouncer, 2).await;
    for run in &runs {
        assert_eq!(run.code, 0, "{}", run.all());
    }
    eprintln!("control, 2 rotations: {ok} logins through PgBouncer, {failed} failed");
    assert!(ok > 0);
    assert!(
        failed > 0,
        "expected failed logins without the auth_file step"
    );
    assert!(
        errors
            .iter()
            .any(|e| e.contains("SASL") || e.contains("password")),
        "{errors:?}"
    );
}
