//! How a one-shot command shows itself: the result on stdout (text, JSON or
//! YAML), progress, warnings and errors on stderr, and the exit code of an
//! error.

use super::console::{status, stderr, stdout};
use super::interrupt::{interrupted, INTERRUPTED};
use crate::cli::Output;
use crate::error::Error;
use crate::output;
use crate::progress::Progress;
use crate::rotation::Step;
use serde::Serialize;
use std::sync::atomic::Ordering;

/// Step-by-step progress on stderr, for people watching.
struct Terminal;

impl Progress for Terminal {
    fn started(&self, target: &str, _step: &Step, what: &str) {
        stderr(&format!("[{target}] {what} ...\n"));
    }
    fn finished(&self, _: &str, _: &Step, _: std::time::Duration) -> Result<(), String> {
        interrupted()
    }
    fn waiting(&self, target: &str, message: &str) {
        status(&format!("[{target}]   {message}"));
    }
    fn cancelled(&self) -> bool {
        INTERRUPTED.load(Ordering::SeqCst)
    }
}

/// No progress output (JSON mode), but the same interruption rule.
struct Quiet;

impl Progress for Quiet {
    fn finished(&self, _: &str, _: &Step, _: std::time::Duration) -> Result<(), String> {
        interrupted()
    }
    fn cancelled(&self) -> bool {
        INTERRUPTED.load(Ordering::SeqCst)
    }
}

pub(super) struct Printer(pub(super) Output);

impl Printer {
    /// Writes the result. A closed stdout (`seesaw rotate | head -0`) is
    /// not an error of the command: what it did is already in the store
    /// and the log, so the exit status stays the command's own.
    pub(super) fn print<T: Serialize>(&self, value: &T, human: impl FnOnce(&T) -> String) {
        let encoded = match self.0 {
            Output::Human => Ok(human(value)),
            Output::Json => serde_json::to_string_pretty(value)
                .map(|s| s + "\n")
                .map_err(|e| e.to_string()),
            Output::Yaml => serde_saphyr::to_string(value).map_err(|e| e.to_string()),
        };
        match encoded {
            Ok(text) => stdout(&text),
            Err(e) => stderr(&format!("error: cannot encode output: {e}\n")),
        }
    }

    /// Something that works but should not be so: on stderr for a person,
    /// a log line for a script (stdout stays one JSON document).
    pub(super) fn warn(&self, text: &str) {
        match self.0 {
            Output::Human => stderr(&format!("warning: {text}\n")),
            Output::Json | Output::Yaml => tracing::warn!("{text}"),
        }
    }

    /// A remark for the person at the terminal (stderr, never in JSON).
    pub(super) fn note(&self, text: &str) {
        if let Output::Human = self.0 {
            stderr(&format!("note: {text}\n"));
        }
    }

    pub(super) fn error(&self, e: &Error) -> i32 {
        match self.0 {
            Output::Human => stderr(&format!("error: {e}\n")),
            Output::Json => stdout(&format!("{}\n", output::error_json(e))),
            Output::Yaml => {
                stdout(&serde_saphyr::to_string(&output::error_json(e)).unwrap_or_default())
            }
        }
        match e {
            // The shell's convention for a run ended by the user.
            Error::Interrupted { .. } if INTERRUPTED.load(Ordering::SeqCst) => 130,
            _ => e.exit_code(),
        }
    }

    pub(super) fn progress(&self) -> &'static dyn Progress {
        match self.0 {
            Output::Human => &Terminal,
            Output::Json | Output::Yaml => &Quiet,
        }
    }
}
