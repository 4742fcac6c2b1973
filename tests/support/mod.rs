//! Shared test support. Each test binary includes this with `mod support;`
//! (from `tests/NAME/main.rs`: `#[path = "../support/mod.rs"] mod support;`).
#![allow(dead_code)]

pub mod bench;
pub mod calls;
pub mod conformance;
pub mod crash;
#[cfg(feature = "daemon")]
pub mod daemon;
#[cfg(feature = "gcp")]
pub mod drongo;
pub mod engines;
pub mod fault;
pub mod http;
#[cfg(feature = "azure")]
pub mod keyvault;
#[cfg(feature = "kubernetes")]
pub mod kube;
#[cfg(feature = "lambda")]
pub mod lambda_api;
#[cfg(feature = "mysql")]
pub mod mariadb;
pub mod memory;
#[cfg(feature = "aws")]
pub mod moto;
pub mod pg;
pub mod pgbouncer;
pub mod process;
#[cfg(feature = "lambda")]
pub mod rie;
pub mod seesaw;
pub mod stall;
pub mod tls;
