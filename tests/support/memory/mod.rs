//! An in-memory database and store for the protocol's property test, and a
//! scheduler that interleaves two runs call by call.
//!
//! The database keeps roles with plaintext passwords, session-scoped
//! advisory locks that die with their session, and sessions that can be
//! killed from outside (a restart, `pg_terminate_backend`). The store keeps
//! current, previous and pending with the same compare-and-swap rules as
//! the file store; it passes the same conformance suite as the real ones.

mod db;
mod scheduler;
mod store;

// Every test binary compiles all of support; each uses only some of it.
#[allow(unused_imports)]
pub use self::{
    db::MemoryDb,
    scheduler::Scheduler,
    store::{MemoryStore, Slots},
};
use std::collections::{BTreeSet, HashMap};

#[derive(Default)]
pub struct World {
    pub passwords: HashMap<String, String>,
    /// lock key -> session id
    locks: HashMap<i64, u64>,
    alive: BTreeSet<u64>,
    next_session: u64,
    /// Sessions by the run that opened them (for killing one run's).
    pub sessions_of_run: HashMap<usize, Vec<u64>>,
    pub promotes: usize,
}

impl World {
    /// Ends a session as a server restart would: its locks go with it.
    pub fn kill(&mut self, id: u64) {
        self.alive.remove(&id);
        self.locks.retain(|_, holder| *holder != id);
    }
}
