//! What the daemon's tasks and its HTTP endpoints share: the metrics, the
//! readiness /readyz reports, who leads, the rotation permits, the shutdown
//! token and the rotations in flight.

use super::metrics::Metrics;
use crate::schedule::Clock;
use std::sync::{Arc, RwLock};
use tokio::sync::{watch, Semaphore};
use tokio_util::sync::CancellationToken;

#[derive(Debug, Clone, Default)]
pub(crate) struct Readiness {
    pub(super) targets: usize,
    pub(super) reload_error: Option<String>,
    pub(super) leader: Option<bool>,
}

pub(crate) struct Shared {
    pub(super) metrics: Metrics,
    pub(super) readiness: RwLock<Readiness>,
    pub(super) leader: watch::Receiver<bool>,
    pub(super) rotations: Arc<Semaphore>,
    pub(super) shutdown: CancellationToken,
    pub(super) clock: Clock,
    /// Rotations running now: target -> (current step, started).
    pub(super) in_flight: std::sync::Mutex<std::collections::HashMap<String, InFlight>>,
    /// `rotation_timeout` of the running config.
    pub(super) rotation_timeout: std::sync::Mutex<std::time::Duration>,
}

#[derive(Debug, Clone)]
pub(crate) struct InFlight {
    pub step: &'static str,
    pub started: std::time::Instant,
}

impl Shared {
    /// Rotations running longer than `rotation_timeout`: the engine stops a
    /// run at its deadline, so one still here is stuck where a timer cannot
    /// reach it (a blocking call), and /readyz says so.
    pub(super) fn stuck(&self) -> Vec<String> {
        let limit = *self
            .rotation_timeout
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let flights = self.in_flight.lock().unwrap_or_else(|e| e.into_inner());
        let mut stuck: Vec<String> = flights
            .iter()
            .filter(|(_, f)| f.started.elapsed() > limit + std::time::Duration::from_secs(30))
            .map(|(t, f)| {
                format!(
                    "{t} (step {}, {} running)",
                    f.step,
                    crate::duration::format(std::time::Duration::from_secs(
                        f.started.elapsed().as_secs()
                    ))
                )
            })
            .collect();
        stuck.sort();
        stuck
    }
}
