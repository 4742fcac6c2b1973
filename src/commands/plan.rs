//! `seesaw plan TARGET`: what `rotate` (or `rollback`) would do and which
//! gates pass, changing nothing. Exit 3 when a gate blocks.

use super::context::Context;
use super::printer::Printer;
use crate::cli::Cli;
use crate::error::Error;
use crate::output;
use crate::rotation::Action;
use crate::runtime::{Engine, RotateOptions};

pub(super) async fn run(
    cli: &Cli,
    out: &Printer,
    target: &str,
    rollback: bool,
) -> Result<i32, Error> {
    let cx = Context::load(cli)?;
    let target = cx.config.target(target)?;
    let engine = Engine::from_config(target, &cx.engine).await?;
    let options = RotateOptions {
        min_interval: target
            .schedule_config(&cx.config.daemon.defaults)
            .min_interval,
        ..Default::default()
    };
    let action = if rollback {
        Action::Rollback
    } else {
        Action::Rotate
    };
    let (warning, report) =
        tokio::join!(engine.passwords_unchecked(), engine.plan(action, options));
    if let Some(warning) = warning {
        out.warn(&warning);
    }
    // The same document as `rotate --dry-run` (docs/output.md).
    let report = report?;
    out.print(&report, output::plan);
    Ok(if report.is_blocked() { 3 } else { 0 })
}
