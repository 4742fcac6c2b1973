//! Bad input ends in a clear error that names what is wrong, and changes
//! nothing: the store file is untouched and the active credential still
//! logs in.

mod support;

use serde_json::json;
use support::seesaw::{Run, Target};

/// Runs `rotate demo` and checks that nothing changed.
async fn rotate_changes_nothing(t: &Target) -> Run {
    let before = std::fs::read(&t.store).ok();
    let run = t.seesaw(&["rotate", "demo"]).await;
    assert_ne!(run.code, 0, "expected a failure: {}", run.all());
    assert_eq!(std::fs::read(&t.store).ok(), before, "the store changed");
    assert!(!run.all().contains("panicked"), "{}", run.all());
    assert!(
        t.has_no_password("app_b").await,
        "the standby's password was changed"
    );
    assert!(
        t.cluster
            .can_login("app_a", "initial-Password-1", "app")
            .await,
        "the active credential stopped working"
    );
    run
}

#[tokio::test]
async fn config_errors_exit_2_and_name_the_problem() {
    let t = Target::new(["app_a", "app_b"]).await;
    let good = std::fs::read_to_string(&t.config).unwrap();

    let missing = tokio::process::Command::new(env!("CARGO_BIN_EXE_seesaw"))
        .args(["--config", "/nonexistent/seesaw.yaml", "check"])
        .output()
        .await
        .unwrap();
    let missing: Run = missing.into();
    assert_eq!(missing.code, 2);
    assert!(
        missing
            .stderr
            .contains("/nonexistent/seesaw.yaml: no such file"),
        "{}",
        missing.stderr
    );

    let cases = [
        ("targets: [", "seesaw.yaml"),
        ("{}", "missing field `targets`"),
        (
            &good.replace(
                "      tls: disable\n",
                "      tls: disable\n      colour: red\n",
            ) as &str,
            "target \"demo\": database.colour: unknown field `colour`",
        ),
        (
            &good.replace("engine: postgres", "engine: oracle"),
            "database.engine: unknown variant `oracle`",
        ),
        (
            &good.replace("users: [", "users: [\"app_a\", "),
            "database.users",
        ),
        (
            &good.replace("connect_timeout: 3s", "connect_timeout: 18446744073709551615s"),
            "database.connect_timeout: duration `18446744073709551615s` is longer than the maximum of 10 years",
        ),
        (
            &good.replace("connect_timeout: 3s", "connect_timeout: 307445734561825861h"),
            "longer than the maximum of 10 years",
        ),
        (
            &good.replace("connect_timeout: 3s", "connect_timeout: 18446744073709551615s1s"),
            "longer than the maximum of 10 years",
        ),
        (
            &good.replace("connect_timeout: 3s", "connect_timeout: 0s"),
            "database.connect_timeout: must be more than 0",
        ),
    ];
    for (text, expected) in cases {
        std::fs::write(&t.config, text).unwrap();
        let run = rotate_changes_nothing(&t).await;
        assert_eq!(run.code, 2, "{text}\n{}", run.all());
        assert!(
            run.stderr.contains(expected),
            "expected {expected:?} in: {}",
            run.stderr
        );
    }
    // A byte that is not UTF-8 is placed as an editor counts.
    let mut lines: Vec<Vec<u8>> = good.lines().map(|l| l.as_bytes().to_vec()).collect();
    lines[2] = [
        b"    d\xc3\xa9".to_vec(),
        vec![0xff],
        lines[2][4..].to_vec(),
    ]
    .concat();
    std::fs::write(&t.config, lines.join(&b'\n')).unwrap();
    let run = rotate_changes_nothing(&t).await;
    assert_eq!(run.code, 2, "{}", run.all());
    assert!(
        run.stderr
            .contains("line 3, column 7: byte 0xff is not UTF-8"),
        "{}",
        run.stderr
    );
    std::fs::write(&t.config, &good).unwrap();

    let run = t.seesaw(&["rotate", "nosuch"]).await;
    assert_eq!(run.code, 2);
    assert!(
        run.stderr
            .contains("no target named \"nosuch\"; the targets are: demo"),
        "{}",
        run.stderr
    );

    let run = t.seesaw(&["rotate"]).await;
    assert_eq!(run.code, 2, "clap usage errors exit 2");
}

#[tokio::test]
async fn store_problems_are_named_and_change_nothing() {
    let t = Target::new(["app_a", "app_b"]).await;
    let cases: [(&[u8], &str); 5] = [
        (b"this is not json", "is not valid JSON"),
        (b"[1, 2]", "expected a JSON object"),
        (br#"{"previous": null}"#, "has no `current` document"),
        (
            br#"{"current": {"password": "initial-Password-1"}}"#,
            "has no `username` field",
        ),
        (
            br#"{"current": {"username": "mallory", "password": "x"}}"#,
            "\"mallory\", which is not one of database.users",
        ),
    ];
    for (body, expected) in cases {
        std::fs::write(&t.store, body).unwrap();
        let run = rotate_changes_nothing(&t).await;
        assert_eq!(run.code, 1, "{}", run.all());
        assert!(
            run.stderr.contains(expected),
            "expected {expected:?} in: {}",
            run.stderr
        );
        assert!(
            run.stderr.contains("file store"),
            "the error names the store: {}",
            run.stderr
        );
    }
    std::fs::remove_file(&t.store).unwrap();
    let run = t.seesaw(&["rotate", "demo"]).await;
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("not found: create it"),
        "{}",
        run.stderr
    );
    assert!(
        !t.store.exists(),
        "a failed rotation must not create the store"
    );
}

#[tokio::test]
async fn a_store_that_does_not_match_the_database_is_refused() {
    let t = Target::new(["app_a", "app_b"]).await;
    t.write_store(json!({"current": {"username": "app_a", "password": "not-the-real-one"}}));
    let run = t.seesaw(&["rotate", "demo"]).await;
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(
        run.stderr
            .contains("log in with the store's current credential"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("will not act on a store that does not match"),
        "{}",
        run.stderr
    );
    assert!(
        !run.all().contains("not-the-real-one"),
        "the password leaked into the error"
    );
}

#[tokio::test]
async fn an_admin_that_cannot_log_in_is_named() {
    let t = Target::new(["app_a", "app_b"]).await;
    let wrong = std::ffi::OsStr::new("wrong-admin-password-123");
    let run = t
        .seesaw_with(&["rotate", "demo"], &[("TEST_ADMIN_PASSWORD", Some(wrong))])
        .await;
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(
        run.stderr.contains("log in as admin \"seesaw_admin\""),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("$TEST_ADMIN_PASSWORD"),
        "{}",
        run.stderr
    );
    assert!(!run.all().contains("wrong-admin-password-123"));
    assert_eq!(t.login("current").0, "app_a");

    let run = t
        .seesaw_with(&["rotate", "demo"], &[("TEST_ADMIN_PASSWORD", None)])
        .await;
    assert_eq!(run.code, 2, "{}", run.all());
    assert!(
        run.stderr
            .contains("environment variable TEST_ADMIN_PASSWORD is not set"),
        "{}",
        run.stderr
    );
}

#[tokio::test]
async fn a_database_that_is_down_fails_fast_and_changes_nothing() {
    let mut t = Target::new(["app_a", "app_b"]).await;
    t.cluster.stop();
    let before = std::fs::read(&t.store).unwrap();
    let started = std::time::Instant::now();
    let run = t.seesaw(&["rotate", "demo"]).await;
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(run.stderr.contains("cannot connect"), "{}", run.stderr);
    assert!(
        run.stderr.contains("127.0.0.1"),
        "the error names the database: {}",
        run.stderr
    );
    assert!(
        started.elapsed().as_secs() < 15,
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(std::fs::read(&t.store).unwrap(), before);

    let status = t.seesaw(&["status"]).await;
    assert_eq!(status.code, 1);
    assert!(
        status.stdout.contains("app_a"),
        "status still shows what the store says: {}",
        status.stdout
    );
    let check = t.seesaw(&["check", "--output", "json"]).await;
    assert_eq!(check.code, 1);
    let v: serde_json::Value = serde_json::from_str(&check.stdout).unwrap();
    assert_eq!(v[0]["ok"], false);
    assert!(v[0]["error"].as_str().unwrap().contains("cannot connect"));
}

/// The result goes to a reader that went away (`seesaw rotate | head -0`):
/// the rotation is done and recorded, so the command ends quietly with its
/// own status instead of panicking on the closed pipe.
#[tokio::test]
async fn a_closed_stdout_ends_quietly_after_the_rotation() {
    let t = Target::new(["app_a", "app_b"]).await;
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_seesaw"))
        .arg("--config")
        .arg(&t.config)
        .args(["rotate", "demo"])
        .env("TEST_ADMIN_PASSWORD", support::seesaw::ADMIN_PASSWORD)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take()); // the reader is gone before anything is written
    let out = child.wait_with_output().await.unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(t.login("current").0, "app_b", "the rotation happened");
    assert!(t.logs_in("current").await);
}

/// `seesaw lambda` in a shell says what it is for instead of panicking.
#[tokio::test]
async fn lambda_outside_aws_lambda_says_what_it_needs() {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_seesaw"))
        .arg("lambda")
        .env_remove("AWS_LAMBDA_RUNTIME_API")
        .output()
        .await
        .unwrap();
    let run: Run = out.into();
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(!run.all().contains("panicked"), "{}", run.all());
    assert!(
        run.stderr.contains("AWS_LAMBDA_RUNTIME_API is not set"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("seesaw rotate TARGET"),
        "{}",
        run.stderr
    );
}

/// A server that is shutting down is an outage, not a store that does not
/// match the database: no repair advice, and nothing changed.
#[tokio::test]
async fn a_database_shutting_down_is_an_outage_not_a_mismatch() {
    let mut t = Target::new(["app_a", "app_b"]).await;
    let open_session = t.cluster.superuser().await;
    t.cluster.begin_smart_shutdown();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let run = rotate_changes_nothing_without_db(&t).await;
    assert_eq!(run.code, 1, "{}", run.all());
    assert!(run.stderr.contains("shutting down"), "{}", run.stderr);
    assert!(!run.stderr.contains("does not match"), "{}", run.stderr);
    assert!(!run.stderr.contains("rollback"), "{}", run.stderr);
    drop(open_session);
}

/// `rotate demo` fails and the store file is untouched (the database
/// cannot be asked what changed).
async fn rotate_changes_nothing_without_db(t: &Target) -> Run {
    let before = std::fs::read(&t.store).ok();
    let run = t.seesaw(&["rotate", "demo"]).await;
    assert_ne!(run.code, 0, "expected a failure: {}", run.all());
    assert_eq!(std::fs::read(&t.store).ok(), before, "the store changed");
    run
}

/// Under a runtime API without the function's own variables (a hand-made
/// emulator setup), it names what is missing instead of panicking inside
/// lambda_runtime.
#[tokio::test]
async fn lambda_without_the_function_variables_names_them() {
    for (missing, memory) in [
        ("AWS_LAMBDA_FUNCTION_NAME", "128"),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "lots"),
    ] {
        let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_seesaw"));
        cmd.arg("lambda")
            .env("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9")
            .env("AWS_LAMBDA_FUNCTION_NAME", "seesaw")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", memory);
        if missing == "AWS_LAMBDA_FUNCTION_NAME" {
            cmd.env_remove(missing);
        }
        let run: Run = cmd.output().await.unwrap().into();
        assert_eq!(run.code, 1, "{}", run.all());
        assert!(!run.all().contains("panicked"), "{}", run.all());
        assert!(run.stderr.contains(missing), "{}", run.stderr);
    }
}
