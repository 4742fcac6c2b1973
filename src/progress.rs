//! Progress of a run, for people watching and for tests.

use crate::rotation::Step;
use std::time::Duration;

/// Hears about each step; returning `Err` from `finished` stops the run
/// there, as a crash would (tests inject faults this way; the daemon stops
/// between steps on shutdown the same way).
pub trait Progress: Send + Sync {
    fn started(&self, _target: &str, _step: &Step) {}
    fn finished(&self, _target: &str, _step: &Step, _elapsed: Duration) -> Result<(), String> {
        Ok(())
    }
    fn waiting(&self, _target: &str, _message: &str) {}
}

pub struct NoProgress;
impl Progress for NoProgress {}
