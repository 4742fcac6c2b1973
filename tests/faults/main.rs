//! The fault-injection suite: a rotation interrupted at every store call
//! and every database login and statement (before the call, and after it
//! took effect with its answer lost), on every store, then run again.
//! After each interruption the invariants of docs/protocol.md must hold:
//!
//! - I1: the store's current credential logs in;
//! - I2: the previous user logs in with a password the store holds
//!   (previous, or pending once the interrupted run set it);
//! - I4: the current version is unchanged unless promote completed;
//! - I3: one rerun converges: current and previous log in, no pending
//!   version is left, the users alternated, and a pending version was
//!   finished with its own password (resumed, not replaced).

#[path = "../support/mod.rs"]
mod support;

mod common;
mod crash_points;
mod foreign;
mod kills;
mod locks;
mod recovery;
mod requests;
