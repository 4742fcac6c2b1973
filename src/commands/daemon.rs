//! `seesaw run`: the daemon, every target on its schedule, until SIGTERM.

use crate::cli::Cli;
use crate::error::Error;

#[cfg(feature = "daemon")]
pub(super) async fn run(
    cli: &Cli,
    http_addr: Option<&str>,
    rotate_now: &[String],
) -> Result<i32, Error> {
    let options = crate::runtime::daemon::DaemonOptions {
        engine: super::context::engine_options(cli),
        http_address: http_addr.map(str::to_owned),
        rotate_now: rotate_now.to_vec(),
        ..Default::default()
    };
    crate::runtime::daemon::run(&cli.config, options, super::interrupt::terminated(), None).await?;
    Ok(0)
}

#[cfg(not(feature = "daemon"))]
pub(super) async fn run(_: &Cli, _: Option<&str>, _: &[String]) -> Result<i32, Error> {
    eprintln!(
        "error: this seesaw was built without the `daemon` feature (`seesaw run`); cargo \
        build --release --features daemon, or run `seesaw rotate TARGET` from a scheduled job"
    );
    Ok(2)
}
