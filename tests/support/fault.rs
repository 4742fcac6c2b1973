//! Failure injection through the engine's [`Progress`] hook.

use seesaw::rotation::Step;
use seesaw::runtime::Progress;
use std::time::Duration;

/// Stops the run after the named step, as a crash (or a Lambda's timeout)
/// there would.
pub struct FailAfter(pub &'static str);

impl Progress for FailAfter {
    fn finished(&self, _: &str, step: &Step, _: Duration) -> Result<(), String> {
        if step.name() == self.0 {
            Err(format!("fault injected after {}", self.0))
        } else {
            Ok(())
        }
    }
}
