//! What the PgBouncer tests share: a target behind a PgBouncer, seesaw run
//! against it, and applications that log in through it during rotations.

use crate::support::pgbouncer::{self, PgBouncer};
use crate::support::seesaw::{Run, Target};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub const USERS: [&str; 2] = ["app_a", "app_b"];

pub async fn setup(pool_mode: &str, pooler: Option<bool>) -> (Target, PgBouncer) {
    let mut t = Target::new(USERS).await;
    let bouncer = PgBouncer::start(&t.cluster, &USERS, pool_mode).await;
    t.database_extra = "      standby_sessions: wait\n      standby_wait_timeout: 20s\n".into();
    if let Some(with_file) = pooler {
        t.database_extra.push_str(&bouncer.config_lines(with_file));
    }
    t.write_config();
    (t, bouncer)
}

pub async fn seesaw(t: &Target, args: &[&str]) -> Run {
    t.seesaw_with(
        args,
        &[(
            "TEST_PGBOUNCER_PASSWORD",
            Some(pgbouncer::ADMIN_PASSWORD.as_ref()),
        )],
    )
    .await
}

/// Clients per application instance, each logging in on its own, so the
/// pooler sees concurrent logins during every rotation (not one client
/// taking turns).
const CLIENTS: usize = 4;

/// An application instance ("pod"): it read the store's current credential
/// when it started and logs in through PgBouncer with it from [`CLIENTS`]
/// concurrent clients, each every 20 ms, until stopped, counting successes
/// and failures.
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
        let clients = (0..CLIENTS)
            .map(|_| {
                let (stop, ok, failed, errors) =
                    (stop.clone(), ok.clone(), failed.clone(), errors.clone());
                let bouncer = bouncer.clone();
                let (user, password) = (user.clone(), password.clone());
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
            })
            .collect::<Vec<_>>();
        let task = tokio::spawn(async move {
            futures::future::join_all(clients).await;
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

/// One application instance's logins while it ran: (user, ok, failed).
pub type Instance = (String, u64, u64);

/// Rotates `n` times while applications log in through PgBouncer; after
/// each rotation a new instance starts with the new credential and the
/// previous one stops a second later, as a rollout would. Returns the
/// totals (ok, failed, errors), each rotation's run, and each instance's
/// logins (one more than the rotations that published: logins went on
/// across every rotation). Every instance must have tried at least
/// [`MIN_ATTEMPTS`] logins while it ran, so a client that stopped trying
/// fails here, whatever the totals say.
pub async fn rotate_with_apps(
    t: &Target,
    bouncer: &Arc<PgBouncer>,
    n: usize,
) -> (u64, u64, Vec<String>, Vec<Run>, Vec<Instance>) {
    let (mut ok, mut failed, mut errors, mut runs) = (0, 0, Vec::new(), Vec::new());
    let mut instances = Vec::new();
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
        let user = running.user.clone();
        let (o, f, e) = std::mem::replace(&mut running, next).stop().await;
        instances.push((user, o, f));
        ok += o;
        failed += f;
        errors.extend(e);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let user = running.user.clone();
    let (o, f, e) = running.stop().await;
    instances.push((user, o, f));
    for (i, (user, o, f)) in instances.iter().enumerate() {
        assert!(
            o + f >= MIN_ATTEMPTS,
            "instance {i} ({user}) tried only {} logins while it ran: its clients stopped",
            o + f
        );
    }
    (
        ok + o,
        failed + f,
        errors.into_iter().chain(e).collect(),
        runs,
        instances,
    )
}

/// Each instance runs at least 1.3 s with [`CLIENTS`] clients logging in
/// every 20 ms (plus the login's own time): well over this many attempts.
pub const MIN_ATTEMPTS: u64 = 40;

/// Every instance logged in successfully at least `min` times: no
/// application went without the database at any point of the run.
pub fn every_instance_logged_in(instances: &[Instance], min: u64) {
    for (i, (user, ok, _)) in instances.iter().enumerate() {
        assert!(
            *ok >= min,
            "instance {i} ({user}) logged in only {ok} times: {instances:?}"
        );
    }
}
