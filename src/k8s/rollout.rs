//! Waiting for rollouts: each workload is followed through a watch on it,
//! so a rollout's end is seen when it happens and nothing is asked of the
//! API server while nothing changes.
//!
//! Per workload: GET it (its state now, and the resourceVersion to watch
//! from), then WATCH it from there with a `metadata.name` field selector,
//! which a Role limited by `resourceNames` allows (list is never needed).
//! A watch ends on the server's timeout (kept under the client's read
//! timeout), a dropped connection or 410 Gone; then the workload is read
//! again and watched anew. A finished rollout stays finished: its watch is
//! stopped (an HPA scaling it up later does not hold the wait). At most
//! [`WATCHES`] workloads are watched at once, each on its own connection;
//! the others wait for a finished one's turn. Deleting a workload before
//! its rollout finished fails the wait.

use super::workloads::{call, get_error, with_api, OnWorkload, Phase, State, Workload};
use crate::config::WorkloadRef;
use crate::consumers::ConsumerError;
use crate::progress::Progress;
use futures::StreamExt;
use kube::api::{WatchEvent, WatchParams};
use kube::{Api, ResourceExt};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// The server ends each watch after this long: under the client's 30 s
/// read timeout, so a quiet watch ends cleanly instead of as an error.
const WATCH_SECONDS: u32 = 20;

/// How often cancellation and the deadline are checked while no event
/// comes.
const CHECK: Duration = Duration::from_millis(250);

/// Workloads watched at once (one connection each).
const WATCHES: usize = 16;

type Report = (usize, Result<State, ConsumerError>);

/// Waits until every workload has rolled out, reporting each one's
/// progress as it changes, up to `timeout`.
pub(super) async fn wait(
    client: &kube::Client,
    workloads: &[WorkloadRef],
    timeout: Duration,
    target: &str,
    progress: &dyn Progress,
) -> Result<(), ConsumerError> {
    let started = Instant::now();
    let (tx, mut rx) = mpsc::channel::<Report>(64);
    let turns = std::sync::Arc::new(tokio::sync::Semaphore::new(WATCHES));
    // Dropping the set (any return below) stops every watch.
    let mut followers = tokio::task::JoinSet::new();
    let mut handles = Vec::with_capacity(workloads.len());
    for (i, w) in workloads.iter().enumerate() {
        let (client, w, tx, turns) = (client.clone(), w.clone(), tx.clone(), turns.clone());
        handles.push(followers.spawn(async move {
            // Never closed, so the turn always comes.
            let Ok(_turn) = turns.acquire_owned().await else {
                return;
            };
            follow(client, w, i, tx).await
        }));
    }
    drop(tx);
    let mut rollouts: Vec<Option<super::workloads::Rollout>> = vec![None; workloads.len()];
    let mut check = tokio::time::interval(CHECK);
    loop {
        let pending: Vec<String> = workloads
            .iter()
            .zip(&rollouts)
            .filter(|(_, r)| !r.as_ref().is_some_and(|r| r.done()))
            .map(|(w, r)| match r {
                Some(r) => format!("{w} ({})", r.detail),
                None => format!("{w} (not read yet)"),
            })
            .collect();
        if pending.is_empty() {
            return Ok(());
        }
        tokio::select! {
            report = rx.recv() => {
                let Some((i, state)) = report else {
                    // Followers only stop after reporting an error.
                    return Err(ConsumerError::Api {
                        doing: "wait for the rollouts".into(),
                        message: "every watch stopped".into(),
                        transient: true,
                    });
                };
                if rollouts[i].as_ref().is_some_and(|r| r.done()) {
                    continue; // finished: a late report changes nothing
                }
                let rollout = state?.rollout;
                let w = &workloads[i];
                if rollout.done() {
                    // Its turn goes to a workload not yet watched.
                    handles[i].abort();
                }
                if rollouts[i].as_ref().map(|r| &r.detail) != Some(&rollout.detail) {
                    progress.waiting(target, &format!("{w}: {}", rollout.detail));
                }
                if let Phase::Failed(message) = &rollout.phase {
                    return Err(ConsumerError::RolloutFailed {
                        workload: w.to_string(),
                        message: message.clone(),
                    });
                }
                rollouts[i] = Some(rollout);
            }
            _ = check.tick() => {
                if progress.cancelled() {
                    return Err(ConsumerError::Api {
                        doing: "wait for the rollouts".into(),
                        message: format!(
                            "stopped for shutdown with rollouts unfinished: {}; the next start \
                                resumes",
                            pending.join(", ")
                        ),
                        transient: true,
                    });
                }
                if started.elapsed() >= timeout {
                    return Err(ConsumerError::RolloutTimeout {
                        waited: crate::duration::format(timeout),
                        pending: pending.join(", "),
                    });
                }
            }
        }
    }
}

async fn follow(client: kube::Client, w: WorkloadRef, i: usize, tx: mpsc::Sender<Report>) {
    struct Follow<'a> {
        w: &'a WorkloadRef,
        i: usize,
        tx: &'a mpsc::Sender<Report>,
    }
    impl OnWorkload for Follow<'_> {
        type Output = ();
        async fn on<K: Workload>(self, api: Api<K>) {
            follow_kind(api, self.w, self.i, self.tx).await
        }
    }
    with_api(&client, &w, Follow { w: &w, i, tx: &tx }).await
}

/// GET, then WATCH from its version, again and again; sends each state.
/// Returns after sending an error, or when the waiter is gone.
async fn follow_kind<K>(api: Api<K>, w: &WorkloadRef, i: usize, tx: &mpsc::Sender<Report>)
where
    K: Workload,
{
    let params = WatchParams::default()
        .fields(&format!("metadata.name={}", w.name))
        .timeout(WATCH_SECONDS);
    loop {
        let object = match api.get(&w.name).await {
            Ok(o) => o,
            Err(e) => {
                let _ = tx.send((i, Err(get_error(w, e)))).await;
                return;
            }
        };
        let version = object.resource_version().unwrap_or_default();
        if tx.send((i, Ok(object.judge()))).await.is_err() {
            return;
        }
        let opened = Instant::now();
        let events = match api.watch(&params, &version).await {
            Ok(events) => events,
            // The version read is already too old to watch from: read again.
            Err(kube::Error::Api(status)) if status.code == 410 => continue,
            Err(e) => match call(w, "watch").error(e) {
                // Throttled, or the server is busy: read and watch again
                // in a moment (the waiter's deadline bounds it).
                ConsumerError::Api {
                    transient: true,
                    message,
                    ..
                } => {
                    tracing::debug!(workload = %w, "watch not opened: {message}");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
                e => {
                    let _ = tx.send((i, Err(e))).await;
                    return;
                }
            },
        };
        let mut events = std::pin::pin!(events);
        while let Some(event) = events.next().await {
            let state = match event {
                Ok(WatchEvent::Added(o) | WatchEvent::Modified(o)) => Ok(o.judge()),
                Ok(WatchEvent::Deleted(_)) => Err(ConsumerError::NotFound {
                    kind: call(w, "watch").resource.trim_end_matches('s').into(),
                    object: format!("{}/{}", w.namespace, w.name),
                    hint: format!("{w} was deleted while its rollout was awaited"),
                }),
                Ok(WatchEvent::Bookmark(_)) => continue,
                // 410 Gone (the version is too old) or a broken stream:
                // read it again and watch from there.
                Ok(WatchEvent::Error(e)) => {
                    tracing::debug!(workload = %w, code = e.code, "watch ended: {}", e.message);
                    break;
                }
                Err(e) => {
                    tracing::debug!(workload = %w, "watch broke: \
                        {}", super::errors::without_body(&e));
                    break;
                }
            };
            let failed = state.is_err();
            if tx.send((i, state)).await.is_err() || failed {
                return;
            }
        }
        // A watch that ends at once (a proxy closing it) is not retried in
        // a tight loop.
        if opened.elapsed() < Duration::from_secs(1) {
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
}
