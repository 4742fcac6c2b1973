//! `seesaw run`: rotate every target on its schedule, forever.
//!
//! One task per scheduled target waits for its due time and rotates when
//! this process leads (a Lease in Kubernetes, else always); a semaphore
//! bounds rotations in flight and another the Kubernetes syncs. The
//! advisory lock in each database keeps rotations of one target apart
//! across processes too. SIGHUP or a change of the config file reloads it;
//! a config that does not load is rejected and the running one kept.
//! Shutdown (SIGTERM) starts no new rotation and lets the ones in flight
//! finish their current step, within `shutdown_timeout`.
//!
//! Here: starting, reloading and stopping; `target.rs` runs one target's
//! schedule, `leadership.rs` decides who rotates, `shared.rs` holds the
//! state they share, `http.rs` and `metrics.rs` report it.

mod http;
mod leadership;
mod metrics;
mod shared;
mod target;

use crate::config::Config;
use crate::error::Error;
use crate::rotation::Proof;
use crate::runtime::{Engine, EngineOptions};
use crate::schedule::Clock;
use leadership::{elect, follow_leadership, heal_if_leader};
// `InFlight` is named here for `target.rs` (as `super::InFlight`).
use shared::{Readiness, Shared};
use std::future::Future;
use std::path::Path;
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use metrics::Metrics;

pub struct DaemonOptions {
    pub engine: EngineOptions,
    /// Overrides `http.address`.
    pub http_address: Option<String>,
    pub clock: Clock,
    /// Targets to rotate once right after start (then on schedule).
    pub rotate_now: Vec<String>,
    /// How often to look for a changed config file.
    pub reload_poll: Duration,
}

impl Default for DaemonOptions {
    fn default() -> Self {
        DaemonOptions {
            engine: EngineOptions::default(),
            http_address: None,
            clock: Clock::default(),
            rotate_now: Vec::new(),
            reload_poll: Duration::from_secs(5),
        }
    }
}

/// Runs until `shutdown` resolves. The HTTP server is bound before the
/// first target is scheduled; `bound` hears its address (port 0 in tests).
pub async fn run(
    path: &Path,
    options: DaemonOptions,
    shutdown: impl Future<Output = ()>,
    bound: Option<tokio::sync::oneshot::Sender<std::net::SocketAddr>>,
) -> Result<(), Error> {
    // Before loading: a change made while starting must count as a change.
    let mut seen = modified(path);
    let config = Config::load(path)?;
    let stop = CancellationToken::new();
    let leadership = elect(&config, &options.engine).await?;
    let leader = leadership.leader.clone();
    let shared = Arc::new(Shared {
        metrics: Metrics::default(),
        readiness: RwLock::new(Readiness::default()),
        leader: leader.clone(),
        rotations: Arc::new(Semaphore::new(config.daemon.concurrency.rotations)),
        shutdown: stop.clone(),
        clock: options.clock,
        in_flight: Default::default(),
        rotation_timeout: std::sync::Mutex::new(config.daemon.rotation_timeout),
    });
    let address = options
        .http_address
        .clone()
        .unwrap_or_else(|| config.daemon.http.address.clone());
    let listener =
        tokio::net::TcpListener::bind(&address)
            .await
            .map_err(|e| Error::Inconsistent {
                target: "-".into(),
                message: format!("cannot listen on {address} (http.address / --http-addr): {e}"),
            })?;
    let local = listener.local_addr().ok();
    tracing::info!(address = ?local, "serving /healthz, /readyz, /metrics");
    if let (Some(tx), Some(addr)) = (bound, local) {
        let _ = tx.send(addr);
    }
    let server = axum::serve(listener, http::router(shared.clone()))
        .with_graceful_shutdown(stop.clone().cancelled_owned());
    tokio::spawn(async move {
        if let Err(e) = server.await {
            tracing::error!(error = %e, "HTTP server failed");
        }
    });

    let tracker = TaskTracker::new();
    let mut generation = start(&config, &shared, &options, &tracker, &options.rotate_now).await?;
    shared
        .metrics
        .config_loaded(config.daemon.rotation_timeout, names(&config));
    tracker.spawn(follow_leadership(
        shared.clone(),
        leader,
        generation.engines.clone(),
        stop.clone(),
    ));

    let mut hangup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        .map_err(|e| Error::Inconsistent {
            target: "-".into(),
            message: format!("cannot listen for SIGHUP: {e}"),
        })?;
    tokio::pin!(shutdown);
    loop {
        let reload = tokio::select! {
            _ = &mut shutdown => break,
            _ = hangup.recv() => true,
            _ = tokio::time::sleep(options.reload_poll) => {
                let now = modified(path);
                let changed = now != seen;
                seen = now;
                changed
            }
        };
        if !reload {
            continue;
        }
        tracing::info!(config = %path.display(), "reloading the config");
        let next = match Config::load(path) {
            Ok(c) => start(&c, &shared, &options, &tracker, &[])
                .await
                .map(|g| (g, c)),
            Err(e) => Err(Error::Config(e)),
        };
        match next {
            Ok((g, c)) => {
                generation.cancel.cancel();
                generation = g;
                *shared
                    .rotation_timeout
                    .lock()
                    .unwrap_or_else(|e| e.into_inner()) = c.daemon.rotation_timeout;
                shared
                    .readiness
                    .write()
                    .map(|mut r| r.reload_error = None)
                    .ok();
                shared
                    .metrics
                    .config_loaded(c.daemon.rotation_timeout, names(&c));
                tracing::info!(targets = c.targets.len(), "config reloaded");
                tracker.spawn(heal_if_leader(shared.clone(), generation.engines.clone()));
            }
            Err(e) => {
                tracing::error!(
                    kind = e.kind(),
                    "the new config was rejected, the previous one keeps running: {e}"
                );
                shared
                    .readiness
                    .write()
                    .map(|mut r| r.reload_error = Some(e.to_string()))
                    .ok();
                shared.metrics.config_rejected();
            }
        }
    }

    tracing::info!(timeout = %crate::duration::format(config.daemon.shutdown_timeout), "shutting \
        down: no new rotations; waiting for those in flight to finish their step");
    stop.cancel();
    generation.cancel.cancel();
    tracker.close();
    if tokio::time::timeout(config.daemon.shutdown_timeout, tracker.wait())
        .await
        .is_err()
    {
        tracing::warn!(
            "shutdown timeout reached with work in flight; it resumes at the next start"
        );
    }
    leadership.resign(Duration::from_secs(5)).await;
    Ok(())
}

/// Each target's preflight when a config starts (at start and at each
/// reload), on every replica: it changes nothing. A refused write is
/// logged and counted (`seesaw_preflight_denied_writes`) but leaves the
/// daemon ready: the rotation itself refuses, before any change.
async fn preflight(engines: Vec<Arc<Engine>>, shared: Arc<Shared>) {
    for engine in engines {
        let name = engine.name();
        match engine.preflight_consumers().await {
            Ok(writes) => {
                let mut denied = 0;
                for w in &writes {
                    match w.result {
                        Proof::Allowed => {}
                        Proof::Denied => {
                            denied += 1;
                            tracing::error!(target_name = %name, object = %w.object, verb = %w.verb,
                                "preflight: a rotation would be refused before any change: {}",
                                    w.detail);
                        }
                        Proof::Warning => {
                            tracing::warn!(target_name = %name, object = %w.object, verb = %w.verb,
                                "preflight: {}", w.detail)
                        }
                    }
                }
                shared.metrics.preflight_denied(name, denied);
                tracing::info!(target_name = %name, writes = writes.len(), denied, "preflight \
                    done");
            }
            Err(e) => {
                tracing::warn!(target_name = %name, kind = e.kind(), "preflight could not run: {e}")
            }
        }
    }
}

fn names(config: &Config) -> Vec<String> {
    config.targets.iter().map(|t| t.name.clone()).collect()
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// One loaded config's engines and target tasks.
struct Generation {
    cancel: CancellationToken,
    engines: Arc<Vec<Arc<Engine>>>,
}

async fn start(
    config: &Config,
    shared: &Arc<Shared>,
    options: &DaemonOptions,
    tracker: &TaskTracker,
    rotate_now: &[String],
) -> Result<Generation, Error> {
    for name in rotate_now {
        config.target(name)?;
    }
    let engine_options = EngineOptions {
        sync_permits: Some(Arc::new(Semaphore::new(config.daemon.concurrency.rollouts))),
        // One Kubernetes client for all targets of this generation (a
        // reload makes new ones, picking up a changed kubeconfig).
        #[cfg(feature = "kubernetes")]
        kube_clients: Some(Default::default()),
        ..options.engine.clone()
    };
    let mut engines = Vec::new();
    let mut scheduled = Vec::new();
    for t in &config.targets {
        let engine = Arc::new(Engine::from_config(t, &engine_options).await?);
        let schedule =
            t.schedule_config(&config.daemon.defaults)
                .build()
                .map_err(|(key, message)| {
                    Error::Config(crate::config::ConfigError {
                        file: config.path.display().to_string(),
                        target: Some(t.name.clone()),
                        key: key.into(),
                        message,
                    })
                })?;
        match schedule {
            Some(s) => scheduled.push((engine.clone(), s)),
            None => {
                tracing::warn!(target_name = %t.name, "no schedule (set `schedule:` or \
                    `defaults.schedule`): the daemon will not rotate it")
            }
        }
        engines.push(engine);
    }
    let cancel = CancellationToken::new();
    for (engine, schedule) in scheduled {
        let now = rotate_now.iter().any(|n| n == engine.name());
        tracker.spawn(target::run(
            engine,
            schedule,
            shared.clone(),
            config.daemon.retry.clone(),
            cancel.clone(),
            now,
        ));
    }
    shared
        .readiness
        .write()
        .map(|mut r| r.targets = config.targets.len())
        .ok();
    let checked: Vec<Arc<Engine>> = engines
        .iter()
        .filter(|e| e.has_consumers())
        .cloned()
        .collect();
    tracker.spawn(preflight(checked, shared.clone()));
    Ok(Generation {
        cancel,
        engines: Arc::new(engines),
    })
}
