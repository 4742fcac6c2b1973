//! Acting on decisions: the [`Engine`] observes a target, asks `rotation`
//! for a plan and carries out its steps against the `Database` and
//! `SecretStore` traits. The commands (`crate::commands`), the daemon and
//! the Lambda all drive this one engine.

#[cfg(feature = "daemon")]
pub mod daemon;
mod engine;
mod follow;
mod inspect;
#[cfg(feature = "lambda")]
pub mod lambda;
mod observe;
mod observed;
mod outcome;
mod pending;
mod poolers;
mod preflight;
mod report;
mod run;
mod sessions;
mod steps;

pub use crate::progress::{NoProgress, Progress};
pub use engine::{Backends, Engine, EngineOptions, RotateOptions};
pub use follow::FollowPass;
pub use report::{CheckReport, Report, Status, StepRecord};
