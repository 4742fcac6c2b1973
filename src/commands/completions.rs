//! `seesaw completions SHELL`: the shell completion script.

use super::console::stdout;
use crate::cli::Cli;
use crate::error::Error;

pub(super) fn run(shell: clap_complete::Shell) -> Result<i32, Error> {
    use clap::CommandFactory;
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "seesaw", &mut out);
    stdout(&String::from_utf8_lossy(&out));
    Ok(0)
}
