//! seesaw rotates database credentials without downtime by alternating two
//! login roles: the standby gets a new password, is proven to log in, and is
//! published as the active credential, while the previous user keeps its
//! password until the next rotation.
//!
//! Where things live:
//! - [`config`]: the YAML config, validated; errors name target and key.
//! - [`rotation`]: the protocol as decisions (observation in, plan out), no I/O.
//! - [`runtime`]: the engine that observes, plans and runs the steps; the
//!   one-shot commands on top of it.
//! - [`db`]: `trait Database` and PostgreSQL.
//! - [`pooler`]: connection poolers in front of the database (PgBouncer).
//! - [`store`]: `trait SecretStore` (read, stage pending, promote) and the
//!   file, AWS, GCP and Azure stores.
//! - [`consumers`]: `trait Consumers`, what reads the credential (Kubernetes
//!   Secrets and workloads); [`k8s`] implements it and is the only module
//!   that imports kube.
//! - [`templates`]: Secret data templates.
//! - [`secret`]: credentials and the secret document, redacted in `Debug`.
//! - [`password`]: the password policy and generator.
//! - [`roots`]: the system's TLS trust roots, loaded once.
//! - [`error`]: the error type, exit codes and error kinds.
//! - [`reason`]: short, secret-free reasons made from other crates' errors.
#![forbid(unsafe_code)]
// Errors carry the target, the operation and a hint for the operator; they
// are built once per failed command, so their size costs nothing that matters.
#![allow(clippy::result_large_err)]

pub mod atomic_file;
pub mod cli;
pub mod commands;
pub mod config;
pub mod consumers;
pub mod db;
pub mod demo;
pub mod duration;
pub mod environment;
pub mod error;
#[cfg(feature = "kubernetes")]
pub mod k8s;
pub mod output;
pub mod password;
pub mod pooler;
pub mod progress;
pub mod reason;
pub mod roots;
pub mod rotation;
pub mod runtime;
pub mod schedule;
pub mod secret;
pub mod setup_sql;
pub mod shared;
pub mod store;
pub mod telemetry;
pub mod templates;

pub use error::Error;

/// Selects rustls's process-wide crypto provider (ring). Needed because the
/// dependency tree enables two (kube: ring, the AWS SDK: aws-lc-rs), and
/// rustls then refuses to guess. Idempotent; call before any TLS client is
/// built (main does; so do the Kubernetes client and the AWS store).
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// The optional parts this build includes (`seesaw version`).
pub fn features() -> Vec<&'static str> {
    [
        ("aws", cfg!(feature = "aws")),
        ("gcp", cfg!(feature = "gcp")),
        ("azure", cfg!(feature = "azure")),
        ("lambda", cfg!(feature = "lambda")),
        ("mysql", cfg!(feature = "mysql")),
        ("kubernetes", cfg!(feature = "kubernetes")),
        ("daemon", cfg!(feature = "daemon")),
    ]
    .iter()
    .filter(|(_, on)| *on)
    .map(|(name, _)| *name)
    .collect()
}
