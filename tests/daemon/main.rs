//! `seesaw run`: scheduling, metrics, reload, leader election, shutdown.
//! Daemons run in-process with a clock that starts at a chosen time and
//! runs 30 times faster than real time, so a cron slot every minute comes
//! every two seconds.

#[path = "../support/mod.rs"]
mod support;

mod common;
mod leaders;
mod retries;
mod schedule;
mod shutdown;
