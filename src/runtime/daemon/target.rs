//! One target's life in the daemon: wait for the due time, rotate if this
//! process leads, retry what is worth retrying, repeat.

use super::shared::Shared;
use crate::config::RetryConfig;
use crate::error::Error;
use crate::progress::Progress;
use crate::rotation::Step;
use crate::runtime::{Engine, RotateOptions};
use crate::schedule::Schedule;
use rand::RngExt;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// What the daemon shows of a rotation while it runs (a log line and the
/// step metric at each step, the in-flight table behind /readyz), and the
/// stop between steps once shutdown begins: the protocol is safe to
/// resume, so the next start completes the target.
struct Watched<'a> {
    shared: &'a Shared,
}

impl Progress for Watched<'_> {
    fn started(&self, target: &str, step: &Step, what: &str) {
        tracing::info!(target_name = %target, step = step.name(), "{what} ...");
        self.shared.metrics.step(target, Some(step.name()));
        if let Some(f) = self
            .shared
            .in_flight
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get_mut(target)
        {
            f.step = step.name();
        }
    }
    fn finished(&self, _: &str, _: &Step, _: Duration) -> Result<(), String> {
        if self.shared.shutdown.is_cancelled() {
            Err("shutting down".into())
        } else {
            Ok(())
        }
    }
    fn waiting(&self, target: &str, message: &str) {
        tracing::info!(target_name = %target, "{message}");
    }
    fn cancelled(&self) -> bool {
        self.shared.shutdown.is_cancelled()
    }
}

pub(super) async fn run(
    engine: Arc<Engine>,
    schedule: Schedule,
    shared: Arc<Shared>,
    retry: RetryConfig,
    generation: CancellationToken,
    mut now: bool,
) {
    let name = engine.name().to_owned();
    loop {
        let scheduled = !now;
        let due = if now {
            shared.clock.now()
        } else {
            // Boxed, like the rotation below: a task's future is as large as
            // the largest future it awaits, for as long as the task lives,
            // and an idle target should hold only what its sleep needs.
            let last = Box::pin(engine.last_publish())
                .await
                .ok()
                .flatten()
                .map(|wall| shared.clock.from_wall(wall));
            if let Some(first) = last.and_then(|l| schedule.next_due_since(&name, l, Some(l))) {
                shared.metrics.deadline(&name, first, schedule.window);
            }
            match schedule.next_due_since(&name, shared.clock.now(), last) {
                Some(d) => d,
                None => {
                    tracing::warn!(target_name = %name, "the schedule has no further due time");
                    return;
                }
            }
        };
        now = false;
        shared.metrics.next_rotation(&name, due);
        tracing::debug!(target_name = %name, due = %due, "next rotation");
        tokio::select! {
            _ = tokio::time::sleep(shared.clock.until(due)) => {}
            _ = generation.cancelled() => return,
        }
        if !*shared.leader.borrow() {
            tracing::info!(target_name = %name, "due, but another replica leads: it rotates");
            continue;
        }
        let deadline = schedule.next_due(&name, due).unwrap_or(due);
        // One rotation per slot, re-decided under the lock: a replica that
        // also believes it leads (a stalled leader that lost its lease, a
        // split brain, two daemons without election), or one that gets the
        // lock right after a rotation, finds the version published within
        // half a period of this slot and changes nothing. Half a period
        // tolerates clock skew between replicas and the store up to that,
        // and never mistakes the previous slot's rotation for this one's.
        let min_interval = if scheduled {
            let half_period = (deadline - due).to_std().unwrap_or_default() / 2;
            schedule
                .min_interval
                .max(shared.clock.wall_span(half_period))
        } else {
            schedule.min_interval
        };
        let options = RotateOptions {
            min_interval: Some(min_interval),
            // Compared with the store's publish time, a wall-clock time.
            now: Some(shared.clock.to_wall(due)),
            timeout: Some(
                *shared
                    .rotation_timeout
                    .lock()
                    .unwrap_or_else(|e| e.into_inner()),
            ),
            ..Default::default()
        };
        Box::pin(attempt(
            &engine,
            &shared,
            &retry,
            deadline,
            &generation,
            options,
        ))
        .await;
    }
}

/// Rotates until it succeeds, fails for good, or the next slot is near.
async fn attempt(
    engine: &Engine,
    shared: &Shared,
    retry: &RetryConfig,
    deadline: chrono::DateTime<chrono::Utc>,
    generation: &CancellationToken,
    options: RotateOptions,
) {
    let name = engine.name();
    let mut failures = 0u32;
    loop {
        let permit = tokio::select! {
            p = shared.rotations.clone().acquire_owned() => match p { Ok(p) => p,
                Err(_) => return },
            _ = generation.cancelled() => return,
        };
        if shared.shutdown.is_cancelled() {
            return;
        }
        let started = Instant::now();
        shared
            .in_flight
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(
                name.to_owned(),
                super::shared::InFlight {
                    step: "observe",
                    started,
                },
            );
        let result = engine.rotate(options, &Watched { shared }).await;
        shared
            .in_flight
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(name);
        shared.metrics.step(name, None);
        drop(permit);
        let took = started.elapsed();
        let wait = match result {
            Ok(report) if report.up_to_date.is_some() => {
                tracing::info!(target_name = %name, "up to date: \
                    {}", report.up_to_date.as_deref().unwrap_or_default());
                return;
            }
            Ok(report) => {
                shared.metrics.outcome(name, "success", took);
                shared
                    .metrics
                    .success(name, shared.clock.now(), report.standby_sessions);
                shared.metrics.preflight_denied(name, 0);
                tracing::info!(target_name = %name, from = %report.from, to = %report.to,
                    old_version = %report.old_version,
                        new_version = report.new_version.as_deref().unwrap_or(""),
                    elapsed_ms = took.as_millis() as u64, "rotated");
                return;
            }
            Err(e) if shared.shutdown.is_cancelled() => {
                tracing::warn!(target_name = %name, kind = e.kind(), "{e}");
                tracing::warn!(target_name = %name, "rotation stopped between steps for \
                    shutdown; the next start completes it");
                return;
            }
            Err(e @ Error::Blocked { .. }) => {
                shared.metrics.outcome(name, "blocked", took);
                if let Error::Blocked {
                    gates,
                    standby_sessions,
                    ..
                } = &e
                {
                    shared
                        .metrics
                        .blocked(name, &gates.iter().map(|g| g.name).collect::<Vec<_>>());
                    shared.metrics.standby_sessions(name, *standby_sessions);
                }
                tracing::warn!(target_name = %name, kind = e.kind(), "{e}; retrying in \
                    {}", crate::duration::format(retry.blocked));
                retry.blocked
            }
            Err(e) if e.is_transient() && failures + 1 < retry.attempts => {
                failures += 1;
                let wait = backoff(retry, failures);
                tracing::warn!(target_name = %name, kind = e.kind(), attempt = failures, "{e}; \
                    retrying in {}", crate::duration::format(wait));
                wait
            }
            Err(e) => {
                shared.metrics.outcome(name, "failure", took);
                tracing::error!(target_name = %name, kind = e.kind(), "{e}; trying again at the \
                    next slot");
                return;
            }
        };
        let resume = shared.clock.now() + chrono::Duration::from_std(wait).unwrap_or_default();
        if resume >= deadline {
            tracing::warn!(target_name = %name, "not retrying: the next slot comes first");
            return;
        }
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = generation.cancelled() => return,
        }
    }
}

/// Exponential backoff with full jitter, capped.
fn backoff(retry: &RetryConfig, failures: u32) -> Duration {
    let ceiling = retry
        .initial_backoff
        .saturating_mul(1 << failures.min(16))
        .min(retry.max_backoff);
    let ms = ceiling.as_millis().max(1) as u64;
    Duration::from_millis(rand::rng().random_range(ms / 2..=ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        let retry = RetryConfig {
            attempts: 5,
            initial_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(10),
            blocked: Duration::from_secs(60),
        };
        for _ in 0..50 {
            let first = backoff(&retry, 1);
            assert!(first >= Duration::from_secs(1) && first <= Duration::from_secs(2));
            assert!(backoff(&retry, 10) <= Duration::from_secs(10));
            assert!(backoff(&retry, 10) >= Duration::from_secs(5));
        }
    }
}
