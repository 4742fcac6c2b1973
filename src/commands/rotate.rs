//! `seesaw rotate TARGET`: one rotation, with the trust check beside it.

use super::context::Context;
use super::printer::Printer;
use crate::cli::Cli;
use crate::error::Error;
use crate::output;
use crate::runtime::{Engine, RotateOptions};

pub(super) async fn run(
    cli: &Cli,
    out: &Printer,
    target: &str,
    force: bool,
    dry_run: bool,
    now: bool,
) -> Result<i32, Error> {
    let cx = Context::load(cli)?;
    let target = cx.config.target(target)?;
    let engine = Engine::from_config(target, &cx.engine).await?;
    let min_interval = target
        .schedule_config(&cx.config.daemon.defaults)
        .min_interval;
    if let (true, Some(interval)) = (now, min_interval) {
        out.note(&format!(
            "--now: ignoring min_interval {} of target {:?}",
            crate::duration::format(interval),
            target.name
        ));
    }
    let options = RotateOptions {
        force,
        dry_run,
        min_interval: min_interval.filter(|_| !now),
        now: None,
        timeout: Some(cx.config.daemon.rotation_timeout),
    };
    // The trust check runs beside the rotation, so a silent server costs
    // one connect_timeout (or store timeout), not two.
    let (warning, report) = tokio::join!(
        engine.passwords_unchecked(),
        engine.rotate(options, out.progress())
    );
    if let Some(warning) = warning {
        out.warn(&warning);
    }
    out.print(&report?, output::report);
    Ok(0)
}
