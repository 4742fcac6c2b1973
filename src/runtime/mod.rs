//! Acting on decisions: the [`Engine`] observes a target, asks `rotation`
//! for a plan and carries out its steps against the `Database` and
//! `SecretStore` traits. The one-shot commands (and later the daemon and
//! the Lambda) all drive this one engine.

mod engine;
mod inspect;
mod observe;
mod report;

pub use engine::{Engine, NoProgress, Progress, RotateOptions};
pub use report::{CheckReport, Report, Status, StepRecord};
pub mod oneshot;
