//! `seesaw setup-sql TARGET`: the SQL for the owner role, the two users and
//! the admin, printed for review (nothing is run).

use super::console::stdout;
use super::context::Context;
use crate::cli::Cli;
use crate::error::Error;

pub(super) fn run(cli: &Cli, target: &str) -> Result<i32, Error> {
    let cx = Context::load(cli)?;
    stdout(&crate::setup_sql::render(cx.config.target(target)?));
    Ok(0)
}
