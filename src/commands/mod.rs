//! The commands, one file each: every `seesaw COMMAND` starts in `run`,
//! whose match names each command once, and ends in an exit code.
//!
//! Beside them: `printer.rs` shows results in the chosen output format,
//! `console.rs` writes to the terminal, `interrupt.rs` handles Ctrl-C and
//! SIGTERM.

mod check;
mod completions;
mod console;
mod context;
mod daemon;
mod demo;
mod follow;
mod interrupt;
mod lambda;
mod man;
mod plan;
mod printer;
mod rollback;
mod rotate;
mod setup_sql;
mod status;
mod version;

use crate::cli::{Cli, Command};
use printer::Printer;

/// Runs the command; returns the process exit code.
pub async fn run(cli: Cli) -> i32 {
    let out = Printer(cli.output);
    let result = match &cli.command {
        Command::Rotate {
            target,
            force,
            dry_run,
            now,
        } => rotate::run(&cli, &out, target, *force, *dry_run, *now).await,
        Command::Plan { target, rollback } => plan::run(&cli, &out, target, *rollback).await,
        Command::Rollback { target, dry_run } => rollback::run(&cli, &out, target, *dry_run).await,
        Command::Status { target } => status::run(&cli, &out, target.as_deref()).await,
        Command::Check { target } => check::run(&cli, &out, target.as_deref()).await,
        Command::SetupSql { target } => setup_sql::run(&cli, target),
        Command::Follow {
            target,
            interval,
            once,
        } => follow::run(&cli, &out, target, interval, *once).await,
        Command::Run {
            http_addr,
            rotate_now,
        } => daemon::run(&cli, http_addr.as_deref(), rotate_now).await,
        Command::Lambda => lambda::run().await,
        Command::Demo {
            rotations,
            clients,
            interval,
        } => demo::run(*rotations, *clients, interval).await,
        Command::Version => version::run(),
        Command::Completions { shell } => completions::run(*shell),
        Command::Man => man::run(),
    };
    match result {
        Ok(code) => code,
        Err(e) => out.error(&e),
    }
}
