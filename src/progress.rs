//! Progress of a run, for people watching and for tests.

use crate::rotation::Step;
use std::time::Duration;

/// Hears about each step; returning `Err` from `finished` stops the run
/// there, as a crash would (tests inject faults this way; the daemon stops
/// between steps on shutdown the same way).
pub trait Progress: Send + Sync {
    /// `what` says what the step does in this run (a rollback's verify
    /// logs in with the previous password, a rotation's with a new one).
    fn started(&self, _target: &str, _step: &Step, _what: &str) {}
    fn finished(&self, _target: &str, _step: &Step, _elapsed: Duration) -> Result<(), String> {
        Ok(())
    }
    fn waiting(&self, _target: &str, _message: &str) {}
    /// True once the run should stop (shutdown): long waits inside a step
    /// (standby sessions, rollouts) end early, leaving a state the next
    /// run resumes from.
    fn cancelled(&self) -> bool {
        false
    }
}

pub struct NoProgress;
impl Progress for NoProgress {}
