//! The real binary SIGKILLed at points over a rotation's run, then run
//! again; and a store that never answers.

use crate::common::{check_interrupted, credential, file_store, logs_in, on_moto, open};
use crate::support;
use crate::support::seesaw::{Target, ADMIN_PASSWORD};
use seesaw::config::StoreConfig;

/// The real binary, SIGKILLed at points spread over a rotation's run time
/// (process start, lock, stage, ALTER ROLE, verify, promote: whatever the
/// moment holds), then run again: I1-I4 after each kill, and the rerun
/// converges.
async fn killing_the_process_converges(t: &Target, store: &StoreConfig, label: &str) {
    let checker = open(store).await;
    // Two runs: a previous version exists, and the second is timed.
    assert_eq!(t.seesaw(&["rotate", "demo"]).await.code, 0);
    let started = std::time::Instant::now();
    assert_eq!(t.seesaw(&["rotate", "demo"]).await.code, 0);
    let took = started.elapsed();
    let points = 24;
    let mut interrupted = 0;
    for i in 0..points {
        let before = checker.read().await.unwrap();
        let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_seesaw"))
            .arg("--config")
            .arg(&t.config)
            .args(["rotate", "demo"])
            .env("TEST_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .envs(t.store_env())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        tokio::time::sleep(took.mul_f64(i as f64 / points as f64)).await;
        let _ = child.start_kill();
        let status = child.wait().await.unwrap();
        interrupted += usize::from(!status.success());
        let now = checker.read().await.unwrap();
        let point = format!("{label}: killed at {i}/{points} of {took:?}");
        check_interrupted(t, &before, &now, &point).await;
        let rerun = t.seesaw(&["rotate", "demo"]).await;
        assert_eq!(rerun.code, 0, "{point}: {}", rerun.all());
        let done = checker.read().await.unwrap();
        assert!(done.pending.is_none(), "{point}");
        assert!(logs_in(t, &credential(&done.current)).await, "{point}");
        assert!(
            logs_in(t, &credential(done.previous.as_ref().unwrap())).await,
            "{point}"
        );
    }
    eprintln!(
        "{label}: {points} kills over {took:?}, {interrupted} interrupted a run, all converged"
    );
    assert!(
        interrupted > points / 2,
        "{label}: most kills should land inside the run"
    );
}

#[tokio::test]
async fn file_store_killing_the_process_converges() {
    let t = Target::new(["app_a", "app_b"]).await;
    killing_the_process_converges(&t, &file_store(&t), "file").await;
    let leftovers: Vec<_> = std::fs::read_dir(t.store.parent().unwrap())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(
        leftovers.is_empty(),
        "temporary files left behind: {leftovers:?}"
    );
}

#[tokio::test]
async fn aws_killing_the_process_converges() {
    let Some(moto) = support::moto::Moto::start() else {
        return;
    };
    let t = Target::new(["app_a", "app_b"]).await;
    let store = on_moto(&t, &moto, "kills/app").await;
    killing_the_process_converges(&t, &store, "aws").await;
}

/// An endpoint that accepts the connection and never answers: the run ends
/// within the store's timeout with a clear error, and no password changed.
#[tokio::test]
async fn a_store_that_never_answers_times_out_and_changes_nothing() {
    let t = Target::new(["app_a", "app_b"]).await;
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", silent.local_addr().unwrap());
    let hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = silent.accept().await {
            held.push(socket); // accepted, never answered
        }
    });
    t.use_store(
        &format!(
        "aws: {{ secret_id: silent/app, region: us-east-1, endpoint_url: \"{url}\", timeout: 2s }}"
    ),
        &support::moto::env(),
    );
    let started = std::time::Instant::now();
    let run = t
        .seesaw_with(
            &["rotate", "demo"],
            &[
                ("AWS_ACCESS_KEY_ID", Some("testing".as_ref())),
                ("AWS_SECRET_ACCESS_KEY", Some("testing".as_ref())),
            ],
        )
        .await;
    let took = started.elapsed();
    hold.abort();
    assert_eq!(run.code, 1, "{}", run.all());
    // The store's timeout bounds the run (the trust check reads the store
    // beside it, not before it), plus the documented margin.
    assert!(
        took < std::time::Duration::from_millis(3500),
        "took {took:?}"
    );
    assert!(
        run.stderr
            .contains("no answer within 2s (the store's `timeout`)"),
        "{}",
        run.stderr
    );
    assert!(!t.cluster.server_log().contains("PASSWORD 'SCRAM-SHA-256"));
}

/// A database address that accepts and never answers: the run ends within
/// `connect_timeout` (not twice it) and says that time.
#[tokio::test]
async fn a_database_that_never_answers_ends_the_run_within_connect_timeout() {
    let t = Target::new(["app_a", "app_b"]).await;
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = silent.local_addr().unwrap().port();
    let hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = silent.accept().await {
            held.push(socket);
        }
    });
    let config = std::fs::read_to_string(&t.config).unwrap();
    let config = config
        .replace(
            &format!("port: {}", t.cluster.port),
            &format!("port: {port}"),
        )
        .replace("connect_timeout: 3s", "connect_timeout: 2s");
    std::fs::write(&t.config, config).unwrap();
    for args in [&["rotate", "demo"][..], &["check"], &["plan", "demo"]] {
        let started = std::time::Instant::now();
        let run = t.seesaw(args).await;
        let took = started.elapsed();
        assert_ne!(run.code, 0, "{}", run.all());
        assert!(
            took < std::time::Duration::from_millis(3500),
            "`seesaw {}` took {took:?}",
            args.join(" ")
        );
        assert!(
            run.all()
                .contains("no answer within 2s (database.connect_timeout)"),
            "{}",
            run.all()
        );
    }
    hold.abort();
}
