//! Ctrl-C and SIGTERM during a one-shot command: the first stops the run at
//! the next step boundary, a second exits at once.

use super::console::stderr;
use std::sync::atomic::{AtomicBool, Ordering};

/// Set by the first Ctrl-C (or SIGTERM): the engine finishes the step in
/// flight, then stops at the step boundary, where every stored credential
/// still logs in and a rerun converges. A second Ctrl-C exits at once.
pub(super) static INTERRUPTED: AtomicBool = AtomicBool::new(false);

const INTERRUPT_REASON: &str = "interrupted (Ctrl-C or SIGTERM)";

pub(super) fn interrupted() -> Result<(), String> {
    match INTERRUPTED.load(Ordering::SeqCst) {
        true => Err(INTERRUPT_REASON.into()),
        false => Ok(()),
    }
}

/// Watches for Ctrl-C / SIGTERM while a one-shot command runs.
pub(super) fn watch_interrupts() {
    tokio::spawn(async {
        terminated().await;
        INTERRUPTED.store(true, Ordering::SeqCst);
        stderr(
            "\nstopping after the step in progress (every stored credential keeps working; \
            run the command again to finish); Ctrl-C again to exit now\n",
        );
        let _ = tokio::signal::ctrl_c().await;
        stderr("exiting now; run the command again: it resumes from the store's pending version\n");
        std::process::exit(130);
    });
}

/// SIGTERM (Kubernetes stopping the pod) or Ctrl-C.
pub(super) async fn terminated() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = term => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}
