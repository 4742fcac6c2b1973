//! Kubernetes propagation against the fake API server, with pods that log
//! in to a real PostgreSQL.

#[path = "../support/mod.rs"]
mod support;

mod api;
mod common;
mod healing;
mod preflight;
mod rollouts;
mod shared_suite;
