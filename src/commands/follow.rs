//! `seesaw follow TARGET`: carry store versions made elsewhere (the Lambda,
//! another rotator) into Kubernetes, until SIGTERM or after one pass.

use super::context::Context;
use super::interrupt::terminated;
use super::printer::Printer;
use crate::cli::Cli;
use crate::config::ConfigError;
use crate::error::Error;
use crate::output;
use crate::runtime::{Engine, EngineOptions};

pub(super) async fn run(
    cli: &Cli,
    out: &Printer,
    target: &str,
    interval: &str,
    once: bool,
) -> Result<i32, Error> {
    let cx = Context::load(cli)?;
    let options = EngineOptions {
        follow_only: true,
        ..cx.engine.clone()
    };
    let engine = Engine::from_config(cx.config.target(target)?, &options).await?;
    let interval = crate::duration::parse(interval).map_err(|message| {
        Error::Config(ConfigError {
            file: "--interval".into(),
            target: None,
            key: String::new(),
            message,
        })
    })?;
    // SIGTERM (a pod stopping) or Ctrl-C ends it between passes.
    let passes = engine
        .follow(interval, once, out.progress(), terminated())
        .await?;
    out.print(&passes, |p| output::follow(p));
    Ok(0)
}
