//! `seesaw man`: the man page, in roff.

use super::console::stdout;
use crate::cli::Cli;
use crate::error::Error;

pub(super) fn run() -> Result<i32, Error> {
    use clap::CommandFactory;
    let mut out = Vec::new();
    if let Err(problem) = clap_mangen::Man::new(Cli::command()).render(&mut out) {
        eprintln!("error: cannot render the man page: {problem}");
        return Ok(1);
    }
    stdout(&String::from_utf8_lossy(&out));
    Ok(0)
}
