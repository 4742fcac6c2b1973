//! The Lambda rotation handler, called directly with Secrets Manager's four
//! events, against moto_server and real PostgreSQL with password auth.

#[path = "../support/mod.rs"]
mod support;

mod aws_function;
mod clone;
mod common;
#[cfg(feature = "mysql")]
mod mariadb;
mod other_stores;
mod resume;
mod runtime;
mod steps;
