//! Shared test support. Each test binary includes this with `mod support;`.
#![allow(dead_code)]

pub mod calls;
pub mod conformance;
pub mod drongo;
pub mod fault;
pub mod http;
pub mod keyvault;
pub mod kube;
pub mod lambda_api;
pub mod memory;
pub mod moto;
pub mod pg;
pub mod rie;
pub mod seesaw;
pub mod tls;
