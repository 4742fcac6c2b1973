#![forbid(unsafe_code)]
// Layout of the deepest async fn (commands::run over the engine, the stores
// and kube) needs more than the default 128 query levels in release builds.
#![recursion_limit = "256"]

use clap::Parser;

fn main() {
    seesaw::install_crypto_provider();
    // In a Lambda sandbox the binary is `bootstrap`, started with no
    // arguments: serve rotation events, logging JSON.
    let cli =
        if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some() && std::env::args_os().len() == 1 {
            seesaw::cli::Cli::parse_from(["seesaw", "--log-format", "json", "lambda"])
        } else {
            seesaw::cli::Cli::parse()
        };
    // The daemon's log is its main output: one line per step by default.
    let daemon = matches!(
        cli.command,
        seesaw::cli::Command::Run { .. }
            | seesaw::cli::Command::Follow { .. }
            | seesaw::cli::Command::Lambda
    );
    seesaw::telemetry::init(cli.log_format, cli.verbose.max(daemon as u8));
    // A Lambda sandbox serves one event at a time: one thread, no idle
    // workers (less memory, less CPU per rotation).
    let mut builder = if matches!(cli.command, seesaw::cli::Command::Lambda) {
        tokio::runtime::Builder::new_current_thread()
    } else {
        let mut b = tokio::runtime::Builder::new_multi_thread();
        b.worker_threads(2);
        b
    };
    let runtime = match builder.enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            std::process::exit(1);
        }
    };
    let code = runtime.block_on(seesaw::commands::run(cli));
    std::process::exit(code);
}
