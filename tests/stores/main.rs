//! Every store passes the conformance suite; a full rotation runs against
//! each with real PostgreSQL.

#[path = "../support/mod.rs"]
mod support;

mod aws;
mod azure;
mod common;
mod file;
mod gcp;
