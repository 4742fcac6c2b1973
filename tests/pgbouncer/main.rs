//! Rotation behind a real PgBouncer (Debian's 1.18, started per test in
//! front of a private PostgreSQL): applications connect through it, the
//! standby gate counts its clients, the new verifier reaches its auth_file
//! before anything is published, and a crash between the database change
//! and the RELOAD converges on the next run.

#[path = "../support/mod.rs"]
mod support;

mod common;
mod configuration;
mod failures;
mod rotations;
mod standby;
