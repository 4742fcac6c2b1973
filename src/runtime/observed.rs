//! What observing leaves the engine holding for one run: the store's
//! state, the decision input and the control session that holds the
//! target's lock. A module of its own so the commands that use it
//! (`run.rs`, `steps.rs`) and `observe.rs`, which builds it, do not depend
//! on each other.

use crate::db::{lock_key, Session};
use crate::rotation::Observation;
use crate::store::StoreState;

/// What the engine holds after observing: the store's state, the current
/// credential, the decision input and the control session (which holds the
/// target's advisory lock while it lives).
pub struct Observed {
    pub state: StoreState,
    pub observation: Observation,
    pub control: Box<dyn Session>,
    /// The standby's own session, where only it can see its sessions
    /// (see [`Engine::standby_watcher`]).
    pub watcher: Option<Box<dyn Session>>,
}

impl Observed {
    /// The session that counts the standby's sessions.
    pub fn watch(&mut self) -> &mut Box<dyn Session> {
        self.watcher.as_mut().unwrap_or(&mut self.control)
    }

    /// Releases the target's lock at the end of a run, success or not, so
    /// the next run (a retry right after) finds it free. Best effort: a
    /// session that is gone holds no lock.
    pub async fn release(mut self) {
        if self.observation.lock_acquired {
            let _ = self
                .control
                .unlock(lock_key(&self.observation.target))
                .await;
        }
    }
}
