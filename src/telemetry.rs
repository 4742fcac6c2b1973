//! Logging setup. Logs go to stderr (stdout is for command output), as text
//! on a terminal and JSON elsewhere. Nothing logged holds a secret: values
//! that do travel only as `SecretString` or redacting types, and other
//! libraries' logs stop at `info` whatever `-vv` or `RUST_LOG` ask: below
//! that, tokio-postgres logs every statement with its parameters (the
//! `ALTER ROLE ... PASSWORD` verifier), HTTP clients their headers and
//! bodies (a Secret's data, a session token).

use crate::cli::LogFormat;
use std::io::IsTerminal;
use tracing_subscriber::EnvFilter;

pub fn init(format: LogFormat, verbose: u8) {
    use tracing_subscriber::prelude::*;
    let default = match verbose {
        0 => "warn",
        1 => "info,seesaw=info",
        _ => "debug",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    let json = match format {
        LogFormat::Json => true,
        LogFormat::Text => false,
        LogFormat::Auto => !std::io::stderr().is_terminal(),
    };
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_target(false);
    let layer = if json {
        fmt.json().flatten_event(true).boxed()
    } else {
        fmt.boxed()
    };
    let layer = layer
        .with_filter(filter)
        .with_filter(tracing_subscriber::filter::filter_fn(|meta| {
            !is_lambda_runtime_echo(meta) && !may_hold_secrets(meta)
        }));
    // A second init (tests) keeps the first subscriber.
    let _ = tracing_subscriber::registry().with(layer).try_init();
}

/// A library's debug or trace event: statements, parameters, requests.
fn may_hold_secrets(meta: &tracing::Metadata<'_>) -> bool {
    let ours = meta.target() == "seesaw" || meta.target().starts_with("seesaw::");
    !ours && *meta.level() > tracing::Level::INFO
}

/// lambda_runtime logs every error a handler returns (`error!("{e:?}")`
/// in its panic layer), after seesaw's own structured line for the same
/// error: one error, two lines. That call site has no `error` field; the
/// same layer's report of a real panic has one and is kept.
fn is_lambda_runtime_echo(meta: &tracing::Metadata<'_>) -> bool {
    meta.target() == "lambda_runtime::layers::panic" && meta.fields().field("error").is_none()
}
