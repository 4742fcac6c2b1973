//! Rotation behind a real PgBouncer (Debian's 1.18, started per test in
//! front of a private PostgreSQL): applications connect through it, the
//! standby gate counts its clients, the new verifier reaches its auth_file
//! before anything is published, and a crash between the database change
//! and the RELOAD converges on the next run.

mod support;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use support::pgbouncer::{self, PgBouncer};
use support::seesaw::{Run, Target};

const USERS: [&str; 2] = ["app_a", "app_b"];

async fn setup(pool_mode: &str, pooler: Option<bool>) -> (Target, PgBouncer) {
    let mut t = Target::new(USERS).await;
    let bouncer = PgBouncer::start(&t.cluster, &USERS, pool_mode).await;
    t.database_extra = "      standby_sessions: wait\n      standby_wait_timeout: 20s\n".into();
    if let Some(with_file) = pooler {
        t.database_extra.push_str(&bouncer.config_lines(with_file));
    }
    t.write_config();
    (t, bouncer)
}

async fn seesaw(t: &Target, args: &[&str]) -> Run {
    t.seesaw_with(
        args,
        &[(
            "TEST_PGBOUNCER_PASSWORD",
            Some(pgbouncer::ADMIN_PASSWORD.as_ref()),
        )],
    )
    .await
}

/// An application instance ("pod"): it read the store's current credential
/// when it started and logs in through PgBouncer with it every 20 ms until
/// stopped, counting successes and failures.
struct App {
    user: String,
    stop: Arc<AtomicBool>,
    ok: Arc<AtomicU64>,
    failed: Arc<AtomicU64>,
    errors: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl App {
    fn start(t: &Target, bouncer: &Arc<PgBouncer>) -> App {
        let (user, password) = t.login("current");
        let stop = Arc::new(AtomicBool::new(false));
        let ok = Arc::new(AtomicU64::new(0));
        let failed = Arc::new(AtomicU64::new(0));
        let errors = Arc::new(Mutex::new(Vec::new()));
        let task = tokio::spawn({
            let (stop, ok, failed, errors) =
                (stop.clone(), ok.clone(), failed.clone(), errors.clone());
            let bouncer = bouncer.clone();
            let user = user.clone();
            async move {
                while !stop.load(Ordering::SeqCst) {
                    match bouncer.login(&user, &password).await {
                        Ok(()) => ok.fetch_add(1, Ordering::SeqCst),
                        Err(e) => {
                            errors.lock().unwrap().push(format!("{user}: {e}"));
                            failed.fetch_add(1, Ordering::SeqCst)
                        }
                    };
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        });
        App {
            user,
            stop,
            ok,
            failed,
            errors,
            task,
        }
    }

    /// Stops it (its rollout finished) and returns (ok, failed, errors).
    async fn stop(self) -> (u64, u64, Vec<String>) {
        self.stop.store(true, Ordering::SeqCst);
        self.task.await.unwrap();
        let errors = self.errors.lock().unwrap().clone();
        (
            self.ok.load(Ordering::SeqCst),
            self.failed.load(Ordering::SeqCst),
            errors,
        )
    }
}

/// Rotates `n` times while applications log in through PgBouncer; after
/// each rotation a new instance starts with the new credential and the
/// previous one stops a second later, as a rollout would. Returns the
/// totals (ok, failed, errors) and each rotation's exit code.
async fn rotate_with_apps(
    t: &Target,
    bouncer: &Arc<PgBouncer>,
    n: usize,
) -> (u64, u64, Vec<String>, Vec<Run>) {
    let (mut ok, mut failed, mut errors, mut runs) = (0, 0, Vec::new(), Vec::new());
    let mut running = App::start(t, bouncer);
    tokio::time::sleep(Duration::from_millis(300)).await;
    for _ in 0..n {
        let run = seesaw(t, &["rotate", "demo"]).await;
        let published = run.code == 0;
        runs.push(run);
        if !published {
            break;
        }
        let next = App::start(t, bouncer);
        assert_ne!(next.user, running.user, "the rotation switched users");
        tokio::time::sleep(Duration::from_secs(1)).await;
        let (o, f, e) = std::mem::replace(&mut running, next).stop().await;
        ok += o;
        failed += f;
        errors.extend(e);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (o, f, e) = running.stop().await;
    (
        ok + o,
        failed + f,
        errors.into_iter().chain(e).collect(),
        runs,
    )
}

#[tokio::test]
async fn rotations_behind_pgbouncer_lose_no_login() {
    let (t, bouncer) = setup("transaction", Some(true)).await;
    let bouncer = Arc::new(bouncer);
    let (ok, failed, errors, runs) = rotate_with_apps(&t, &bouncer, 4).await;
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
    assert!(ok > 100, "only {ok} logins through PgBouncer");

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
    let bouncer = Arc::new(bouncer);
    let (ok, failed, errors, runs) = rotate_with_apps(&t, &bouncer, 3).await;
    for run in &runs {
        assert_eq!(run.code, 0, "{}", run.all());
        assert!(run.all().contains("through 1 pooler"), "{}", run.all());
    }
    eprintln!("auth_query, 3 rotations: {ok} logins through PgBouncer, {failed} failed");
    assert_eq!(failed, 0, "{errors:?}");
    assert!(ok > 50);
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
    let (ok, failed, errors, runs) = rotate_with_apps(&t, &bouncer, 2).await;
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

#[tokio::test]
async fn a_client_of_the_standby_through_pgbouncer_holds_the_rotation() {
    let (mut t, bouncer) = setup("transaction", Some(true)).await;
    t.database_extra = bouncer.config_lines(true);
    t.write_config();
    assert_eq!(seesaw(&t, &["rotate", "demo"]).await.code, 0);
    let (standby, password) = t.login("previous");
    let store_before = t.read_store();

    // A client of the standby, idle in transaction pooling: its server
    // connection went back to the pool, and is then closed (as
    // server_idle_timeout would): the database sees nothing of it.
    let client = bouncer.connect(&standby, &password, "app").await.unwrap();
    client.simple_query("SELECT 1").await.unwrap();
    let su = t.cluster.superuser().await;
    su.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1",
        &[&standby],
    )
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let in_db = sessions_in_db(&su, &standby).await;
    assert_eq!(in_db, 0);

    let run = seesaw(&t, &["rotate", "demo"]).await;
    assert_eq!(run.code, 3, "{}", run.all());
    let name = format!("1 client of pgbouncer 127.0.0.1:{}", bouncer.port);
    assert!(run.all().contains(&name), "{}", run.all());
    assert!(run.all().contains("SHOW CLIENTS"), "{}", run.all());
    assert_eq!(t.read_store(), store_before, "the store changed");

    // terminate cannot end a pooler's client, and says so.
    t.database_extra = format!(
        "      standby_sessions: terminate\n{}",
        bouncer.config_lines(true)
    );
    t.write_config();
    let run = seesaw(&t, &["rotate", "demo"]).await;
    assert_eq!(run.code, 3, "{}", run.all());
    assert!(run.all().contains("pg_terminate_backend"), "{}", run.all());
    assert_eq!(t.read_store(), store_before, "the store changed");
    // The standby's password is untouched: its client still works.
    client.simple_query("SELECT 1").await.unwrap();
    assert!(t.cluster.can_login(&standby, &password, "app").await);

    // Once the client is gone, PgBouncer's own idle server connection of
    // the standby (in pg_stat_activity) does not hold the rotation.
    drop(client);
    let other = bouncer.connect(&standby, &password, "app").await.unwrap();
    other.simple_query("SELECT 1").await.unwrap();
    drop(other);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let in_db = sessions_in_db(&su, &standby).await;
    assert_eq!(
        in_db, 1,
        "PgBouncer keeps one idle server connection of the standby"
    );
    let run = seesaw(&t, &["rotate", "demo"]).await;
    assert_eq!(run.code, 0, "{}", run.all());
    let (user, password) = t.login("current");
    assert_eq!(user, standby);
    bouncer.login(&user, &password).await.unwrap();
}

#[tokio::test]
async fn wait_waits_for_the_standbys_pooler_clients_to_leave() {
    let (t, bouncer) = setup("transaction", Some(true)).await;
    assert_eq!(seesaw(&t, &["rotate", "demo"]).await.code, 0);
    let (standby, password) = t.login("previous");
    let client = bouncer.connect(&standby, &password, "app").await.unwrap();
    client.simple_query("SELECT 1").await.unwrap();
    let started = std::time::Instant::now();
    let run = tokio::spawn({
        let config = t.config.clone();
        async move {
            tokio::process::Command::new(env!("CARGO_BIN_EXE_seesaw"))
                .arg("--config")
                .arg(config)
                .args(["rotate", "demo"])
                .env("TEST_ADMIN_PASSWORD", support::seesaw::ADMIN_PASSWORD)
                .env("TEST_PGBOUNCER_PASSWORD", pgbouncer::ADMIN_PASSWORD)
                .output()
                .await
                .unwrap()
        }
    });
    tokio::time::sleep(Duration::from_secs(2)).await;
    // Still waiting: the client holds the old password, unchanged.
    assert!(!run.is_finished());
    client.simple_query("SELECT 1").await.unwrap();
    drop(client);
    let run: Run = run.await.unwrap().into();
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(started.elapsed() >= Duration::from_secs(2));
    assert!(run.all().contains("1 client of pgbouncer"), "{}", run.all());
    assert_eq!(t.login("current").0, standby);
}

#[tokio::test]
async fn a_crash_between_the_database_and_the_pooler_converges_on_the_next_run() {
    let (t, bouncer) = setup("transaction", Some(true)).await;
    std::env::set_var("TEST_PGBOUNCER_PASSWORD", pgbouncer::ADMIN_PASSWORD);
    for crash_after in ["set_password", "update_poolers"] {
        let engine = t.engine().await;
        let err = engine
            .rotate(Default::default(), &support::fault::FailAfter(crash_after))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), "interrupted", "{err}");
        drop(engine);
        let pending = t.read_store()["pending"].clone();
        assert!(
            pending.is_object(),
            "no pending version after a crash at {crash_after}"
        );

        let run = seesaw(&t, &["rotate", "demo"]).await;
        assert_eq!(run.code, 0, "after a crash at {crash_after}: {}", run.all());
        let (user, password) = t.login("current");
        assert_eq!(user, pending["username"].as_str().unwrap());
        assert_eq!(password, pending["password"].as_str().unwrap());
        bouncer.login(&user, &password).await.unwrap_or_else(|e| {
            panic!("after a crash at {crash_after}, the published credential fails through PgBouncer: {e}")
        });
        let (previous, old) = t.login("previous");
        bouncer.login(&previous, &old).await.unwrap();
    }
}

#[tokio::test]
async fn a_pooler_that_refuses_the_new_password_stops_the_rotation_before_publish() {
    // Configured as auth_query while PgBouncer reads a file: seesaw writes
    // nothing, and the login through PgBouncer is what catches it.
    let (t, bouncer) = setup("transaction", Some(false)).await;
    let before = t.login("current");
    let run = seesaw(&t, &["rotate", "demo"]).await;
    assert_ne!(run.code, 0, "{}", run.all());
    assert!(
        run.all()
            .contains(&format!("through pgbouncer 127.0.0.1:{}", bouncer.port)),
        "{}",
        run.all()
    );
    assert!(run.all().contains("nothing was published"), "{}", run.all());
    assert_eq!(
        t.login("current"),
        before,
        "published although PgBouncer refused it"
    );
    bouncer.login(&before.0, &before.1).await.unwrap();

    // With the file configured, the next run resumes and finishes.
    let mut t = t;
    t.database_extra = bouncer.config_lines(true);
    t.write_config();
    let run = seesaw(&t, &["rotate", "demo"]).await;
    assert_eq!(run.code, 0, "{}", run.all());
    assert!(run.all().contains("resuming"), "{}", run.all());
    let (user, password) = t.login("current");
    assert_ne!(user, before.0);
    bouncer.login(&user, &password).await.unwrap();
}

#[tokio::test]
async fn check_and_plan_show_each_pooler_and_whether_seesaw_can_use_it() {
    let (t, bouncer) = setup("session", Some(true)).await;
    let check = seesaw(&t, &["check", "demo"]).await;
    assert_eq!(check.code, 0, "{}", check.all());
    let out = check.all();
    assert!(
        out.contains(&format!("pgbouncer 127.0.0.1:{}", bouncer.port)),
        "{out}"
    );
    assert!(out.contains("auth_file"), "{out}");
    assert!(out.contains("PgBouncer 1."), "{out}");
    assert!(out.contains("writable"), "{out}");
    // app_b has no password yet, so no line: said, not fatal.
    assert!(out.contains("no line yet for [\"app_b\"]"), "{out}");

    let plan = seesaw(&t, &["plan", "demo"]).await;
    assert_eq!(plan.code, 0, "{}", plan.all());
    assert!(
        plan.all().contains("auth_files and reload them"),
        "{}",
        plan.all()
    );

    // A wrong admin password: check fails and names the pooler and the fix.
    let wrong = t
        .seesaw_with(
            &["check", "demo"],
            &[("TEST_PGBOUNCER_PASSWORD", Some("nope".as_ref()))],
        )
        .await;
    assert_ne!(wrong.code, 0, "{}", wrong.all());
    assert!(
        wrong.all().contains("cannot use its admin console"),
        "{}",
        wrong.all()
    );
    assert!(wrong.all().contains("admin_users"), "{}", wrong.all());
    let rotate = t
        .seesaw_with(
            &["rotate", "demo"],
            &[("TEST_PGBOUNCER_PASSWORD", Some("nope".as_ref()))],
        )
        .await;
    assert_ne!(rotate.code, 0);
    assert!(t.read_store()["previous"].is_null(), "a rotation happened");

    // An unset admin password variable is a config error naming the key.
    let unset = t
        .seesaw_with(&["check", "demo"], &[("TEST_PGBOUNCER_PASSWORD", None)])
        .await;
    assert_ne!(unset.code, 0);
    assert!(
        unset
            .all()
            .contains("database.poolers[0].pgbouncer.admin.password_env"),
        "{}",
        unset.all()
    );
}

#[tokio::test]
async fn a_sidecar_userlist_rendered_from_the_secret_template_logs_in() {
    // A PgBouncer sidecar per pod reads userlist.txt from the Kubernetes
    // Secret seesaw writes; the example's template renders it from the
    // published document (plaintext: PgBouncer then does SCRAM to the
    // server itself). Rendered here for the store's current credential and
    // given to a real PgBouncer.
    let (t, _central) = setup("session", None).await;
    assert_eq!(seesaw(&t, &["rotate", "demo"]).await.code, 0);
    let example = seesaw::config::Config::load(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/pgbouncer.yaml"),
    )
    .unwrap();
    let sidecar = example
        .targets
        .iter()
        .find_map(|t| t.kubernetes.as_ref())
        .expect("the example has a sidecar target");
    let templates = sidecar.secrets[0].data.as_ref().unwrap();
    let document =
        seesaw::secret::SecretDocument::from_value(t.read_store()["current"].clone()).unwrap();
    let rendered = seesaw::templates::render(Some(templates), &document).unwrap();
    let userlist = format!(
        "{}\n\"{}\" \"{}\"\n",
        rendered["userlist.txt"],
        pgbouncer::ADMIN,
        pgbouncer::ADMIN_PASSWORD
    );
    let bouncer = PgBouncer::start_with(&t.cluster, &userlist, "transaction", "").await;
    let (user, password) = t.login("current");
    bouncer.login(&user, &password).await.unwrap();
    assert!(bouncer.login(&user, "wrong").await.is_err());
}

async fn sessions_in_db(su: &tokio_postgres::Client, user: &str) -> i64 {
    su.query_one(
        "SELECT count(*) FROM pg_stat_activity WHERE usename = $1",
        &[&user],
    )
    .await
    .unwrap()
    .get(0)
}
