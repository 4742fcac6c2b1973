//! Writing to the terminal: stdout and stderr without `print!`'s panic on
//! a closed stream, and the one status line a wait keeps rewriting.

use std::sync::atomic::{AtomicBool, Ordering};

/// True while a status line is on the terminal, not yet ended by a newline.
static STATUS_SHOWING: AtomicBool = AtomicBool::new(false);

/// A wait's state. Waits report only changes; on a terminal each change
/// rewrites one status line (a rollout of many workloads does not scroll
/// the screen), elsewhere (a log file, CI) each is a line of its own.
pub(super) fn status(line: &str) {
    use std::io::IsTerminal;
    let tty = std::io::stderr().is_terminal();
    let text = status_text(tty, line);
    STATUS_SHOWING.store(tty, Ordering::SeqCst);
    write_stderr(&text);
}

fn status_text(tty: bool, line: &str) -> String {
    match tty {
        // Back to the line's start, clear it, write; no newline.
        true => format!("\r\x1b[2K{line}"),
        false => format!("{line}\n"),
    }
}

/// Ends a status line left on the terminal (its last state stays shown)
/// before anything else is written.
fn end_status() {
    if STATUS_SHOWING.swap(false, Ordering::SeqCst) {
        write_stderr("\n");
    }
}

/// `print!` panics when stdout is closed; these do not.
pub(super) fn stdout(text: &str) {
    use std::io::Write;
    end_status();
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
}

pub(super) fn stderr(text: &str) {
    end_status();
    write_stderr(text);
}

fn write_stderr(text: &str) {
    use std::io::Write;
    let _ = std::io::stderr().lock().write_all(text.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::status_text;

    #[test]
    fn a_status_rewrites_its_line_on_a_terminal_and_is_a_line_elsewhere() {
        assert_eq!(status_text(true, "[t]   2 of 3"), "\r\x1b[2K[t]   2 of 3");
        assert_eq!(status_text(false, "[t]   2 of 3"), "[t]   2 of 3\n");
    }
}
