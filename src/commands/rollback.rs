//! `seesaw rollback TARGET`: republish the previous credential.

use super::context::Context;
use super::printer::Printer;
use crate::cli::Cli;
use crate::error::Error;
use crate::output;
use crate::runtime::Engine;

pub(super) async fn run(
    cli: &Cli,
    out: &Printer,
    target: &str,
    dry_run: bool,
) -> Result<i32, Error> {
    let cx = Context::load(cli)?;
    let engine = Engine::from_config(cx.config.target(target)?, &cx.engine).await?;
    let report = engine.rollback(dry_run, out.progress()).await?;
    out.print(&report, output::report);
    Ok(0)
}
