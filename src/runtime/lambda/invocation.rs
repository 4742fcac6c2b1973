//! One invocation's [`Progress`]: waits are logged (CloudWatch shows why a
//! step takes long), and a wait gives up in time for the step to report
//! before Lambda's timeout ends the sandbox. A step stopped that way fails
//! as retryable and Secrets Manager's retry resumes it.

use crate::progress::Progress;
use crate::rotation::Step;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Time kept back from the invocation's deadline to log and answer.
const MARGIN: Duration = Duration::from_secs(5);

pub struct Invocation {
    stop_at: Instant,
}

impl Invocation {
    /// `deadline_ms`: the invocation's deadline, milliseconds since the
    /// Unix epoch (`Lambda-Runtime-Deadline-Ms`).
    pub fn new(deadline_ms: u64) -> Invocation {
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        let left = Duration::from_millis(deadline_ms.saturating_sub(now_ms));
        Invocation {
            stop_at: Instant::now() + left.saturating_sub(MARGIN),
        }
    }
}

impl Progress for Invocation {
    fn started(&self, target: &str, step: &Step, _what: &str) {
        tracing::debug!(target_name = %target, step = step.name(), "step started");
    }

    fn waiting(&self, target: &str, message: &str) {
        tracing::info!(target_name = %target, "{message}");
    }

    fn cancelled(&self) -> bool {
        Instant::now() >= self.stop_at
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn in_ms(ms: u64) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64
            + ms
    }

    #[test]
    fn a_wait_stops_before_the_deadline_with_a_margin() {
        assert!(!Invocation::new(in_ms(60_000)).cancelled());
        // Less than the margin left: stop at once.
        assert!(Invocation::new(in_ms(2_000)).cancelled());
        // A deadline in the past (or a clock skew) never panics.
        assert!(Invocation::new(0).cancelled());
    }
}
