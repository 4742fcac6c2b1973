//! The one-shot commands: load the config, run one engine call per target,
//! print, and return the exit code.

use crate::cli::{Cli, Command, Output};
use crate::config::{Config, TargetConfig};
use crate::error::Error;
use crate::output;
use crate::rotation::{Action, Step};
use crate::runtime::{Engine, EngineOptions, Progress, RotateOptions};
use serde::Serialize;
use std::sync::atomic::{AtomicBool, Ordering};

/// Set by the first Ctrl-C (or SIGTERM): the engine finishes the step in
/// flight, then stops at the step boundary, where every stored credential
/// still logs in and a rerun converges. A second Ctrl-C exits at once.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

const INTERRUPT_REASON: &str = "interrupted (Ctrl-C or SIGTERM)";

fn interrupted() -> Result<(), String> {
    match INTERRUPTED.load(Ordering::SeqCst) {
        true => Err(INTERRUPT_REASON.into()),
        false => Ok(()),
    }
}

/// Step-by-step progress on stderr, for people watching.
struct Terminal;

impl Progress for Terminal {
    fn started(&self, target: &str, step: &Step) {
        stderr(&format!("[{target}] {} ...\n", step.describe()));
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

/// True while a status line is on the terminal, not yet ended by a newline.
static STATUS_SHOWING: AtomicBool = AtomicBool::new(false);

/// A wait's state. Waits report only changes; on a terminal each change
/// rewrites one status line (a rollout of many workloads does not scroll
/// the screen), elsewhere (a log file, CI) each is a line of its own.
fn status(line: &str) {
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

/// Watches for Ctrl-C / SIGTERM while a one-shot command runs.
fn watch_interrupts() {
    tokio::spawn(async {
        terminated().await;
        INTERRUPTED.store(true, Ordering::SeqCst);
        stderr("\nstopping after the step in progress (every stored credential keeps working; run the command again to finish); Ctrl-C again to exit now\n");
        let _ = tokio::signal::ctrl_c().await;
        stderr("exiting now; run the command again: it resumes from the store's pending version\n");
        std::process::exit(130);
    });
}

struct Printer(Output);

/// `print!` panics when stdout is closed; these do not.
fn stdout(text: &str) {
    use std::io::Write;
    end_status();
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
}

fn stderr(text: &str) {
    end_status();
    write_stderr(text);
}

fn write_stderr(text: &str) {
    use std::io::Write;
    let _ = std::io::stderr().lock().write_all(text.as_bytes());
}

impl Printer {
    /// Writes the result. A closed stdout (`seesaw rotate | head -0`) is
    /// not an error of the command: what it did is already in the store
    /// and the log, so the exit status stays the command's own.
    fn print<T: Serialize>(&self, value: &T, human: impl FnOnce(&T) -> String) {
        let encoded = match self.0 {
            Output::Human => Ok(human(value)),
            Output::Json => serde_json::to_string_pretty(value)
                .map(|s| s + "\n")
                .map_err(|e| e.to_string()),
            Output::Yaml => serde_yaml_ng::to_string(value).map_err(|e| e.to_string()),
        };
        match encoded {
            Ok(text) => stdout(&text),
            Err(e) => stderr(&format!("error: cannot encode output: {e}\n")),
        }
    }

    /// Something that works but should not be so: on stderr for a person,
    /// a log line for a script (stdout stays one JSON document).
    fn warn(&self, text: &str) {
        match self.0 {
            Output::Human => stderr(&format!("warning: {text}\n")),
            Output::Json | Output::Yaml => tracing::warn!("{text}"),
        }
    }

    /// A remark for the person at the terminal (stderr, never in JSON).
    fn note(&self, text: &str) {
        if let Output::Human = self.0 {
            stderr(&format!("note: {text}\n"));
        }
    }

    fn error(&self, e: &Error) -> i32 {
        match self.0 {
            Output::Human => stderr(&format!("error: {e}\n")),
            Output::Json => stdout(&format!("{}\n", output::error_json(e))),
            Output::Yaml => {
                stdout(&serde_yaml_ng::to_string(&output::error_json(e)).unwrap_or_default())
            }
        }
        match e {
            // The shell's convention for a run ended by the user.
            Error::Interrupted { .. } if INTERRUPTED.load(Ordering::SeqCst) => 130,
            _ => e.exit_code(),
        }
    }

    fn progress(&self) -> &'static dyn Progress {
        match self.0 {
            Output::Human => &Terminal,
            Output::Json | Output::Yaml => &Quiet,
        }
    }
}

/// Runs the command; returns the process exit code.
pub async fn run(cli: Cli) -> i32 {
    let out = Printer(cli.output);
    if let Command::Lambda = &cli.command {
        return lambda().await;
    }
    if let Some(text) = about(&cli.command) {
        stdout(&text);
        return 0;
    }
    if let Command::Demo {
        rotations,
        clients,
        interval,
    } = &cli.command
    {
        let interval = match crate::duration::parse(interval) {
            Ok(d) if !d.is_zero() && d <= std::time::Duration::from_secs(3600) => d,
            _ => {
                eprintln!("error: --interval {interval:?} is not a duration between 1ms and 1h (e.g. 2s, 500ms)");
                return 2;
            }
        };
        let options = crate::demo::DemoOptions {
            rotations: *rotations,
            clients: *clients as usize,
            interval,
        };
        return crate::demo::run(options, terminated()).await;
    }
    if let Command::Run {
        http_addr,
        rotate_now,
    } = &cli.command
    {
        return daemon(&cli, http_addr, rotate_now, &out).await;
    }
    let config = match Config::load(&cli.config) {
        Ok(c) => c,
        Err(e) => return out.error(&Error::Config(e)),
    };
    watch_interrupts();
    let options = EngineOptions {
        kube_context: cli.kube_context.clone(),
        kubeconfig: cli.kubeconfig.clone(),
        ..Default::default()
    };
    match execute(&cli.command, &config, &options, &out).await {
        Ok(code) => code,
        Err(e) => out.error(&e),
    }
}

/// What `version`, `completions` and `man` print (no config needed).
fn about(command: &Command) -> Option<String> {
    use clap::CommandFactory;
    match command {
        Command::Version => {
            let features = crate::features();
            Some(format!(
                "seesaw {}\ncommit {} ({})\nfeatures: {}\ndatabases: postgres{}\nstores: file{}\n",
                env!("CARGO_PKG_VERSION"),
                env!("SEESAW_COMMIT"),
                env!("SEESAW_COMMIT_DATE"),
                if features.is_empty() {
                    "none".to_owned()
                } else {
                    features.join(", ")
                },
                // MySQL is accepted by the config and refused at the admin
                // gate (docs/mysql.md), so it is not listed.
                if features.contains(&"mysql") {
                    ", mariadb"
                } else {
                    ""
                },
                ["aws", "gcp", "azure"]
                    .iter()
                    .filter(|s| features.contains(s))
                    .map(|s| format!(", {s}"))
                    .collect::<String>()
            ))
        }
        Command::Completions { shell } => {
            let mut out = Vec::new();
            clap_complete::generate(*shell, &mut Cli::command(), "seesaw", &mut out);
            Some(String::from_utf8_lossy(&out).into_owned())
        }
        Command::Man => {
            let mut out = Vec::new();
            clap_mangen::Man::new(Cli::command())
                .render(&mut out)
                .ok()?;
            Some(String::from_utf8_lossy(&out).into_owned())
        }
        _ => None,
    }
}

/// SIGTERM (Kubernetes stopping the pod) or Ctrl-C.
async fn terminated() {
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

fn targets<'c>(config: &'c Config, only: &Option<String>) -> Result<Vec<&'c TargetConfig>, Error> {
    match only {
        Some(name) => Ok(vec![config.target(name)?]),
        None => Ok(config.targets.iter().collect()),
    }
}

async fn execute(
    command: &Command,
    config: &Config,
    options: &EngineOptions,
    out: &Printer,
) -> Result<i32, Error> {
    match command {
        Command::Rotate {
            target,
            force,
            dry_run,
            now,
        } => {
            let target = config.target(target)?;
            let engine = Engine::from_config(target, options).await?;
            let min_interval = target.schedule_config(&config.daemon.defaults).min_interval;
            if *now && min_interval.is_some() {
                out.note(&format!(
                    "--now: ignoring min_interval {} of target {:?}",
                    crate::duration::format(min_interval.unwrap_or_default()),
                    target.name
                ));
            }
            let options = RotateOptions {
                force: *force,
                dry_run: *dry_run,
                min_interval: min_interval.filter(|_| !*now),
                now: None,
                timeout: Some(config.daemon.rotation_timeout),
            };
            if let Some(warning) = engine.passwords_unchecked().await {
                out.warn(&warning);
            }
            let report = engine.rotate(options, out.progress()).await?;
            out.print(&report, output::report);
            Ok(0)
        }
        Command::Rollback { target, dry_run } => {
            let engine = Engine::from_config(config.target(target)?, options).await?;
            let report = engine.rollback(*dry_run, out.progress()).await?;
            out.print(&report, output::report);
            Ok(0)
        }
        Command::Plan { target, rollback } => {
            let engine = Engine::from_config(config.target(target)?, options).await?;
            let action = if *rollback {
                Action::Rollback
            } else {
                Action::Rotate
            };
            if let Some(warning) = engine.passwords_unchecked().await {
                out.warn(&warning);
            }
            let plan = engine.plan(action, false).await?;
            // The same document as `rotate --dry-run` (docs/output.md).
            let report = crate::runtime::Report::new(&plan, true);
            out.print(&report, output::plan);
            Ok(if plan.is_blocked() { 3 } else { 0 })
        }
        Command::Status { target } => {
            let mut list = Vec::new();
            for t in targets(config, target)? {
                list.push(match Engine::from_config(t, options).await {
                    Ok(engine) => engine.status().await,
                    Err(e) => crate::runtime::Status {
                        next_due: None,
                        target: t.name.clone(),
                        active: None,
                        version: None,
                        previous: None,
                        previous_version: None,
                        standby: None,
                        standby_sessions: None,
                        problems: vec![e.to_string()],
                    },
                });
            }
            let now = chrono::Utc::now();
            for (status, t) in list.iter_mut().zip(targets(config, target)?) {
                if let Ok(Some(schedule)) = t.schedule_config(&config.daemon.defaults).build() {
                    status.next_due = schedule.next_due(&t.name, now).map(|d| d.to_rfc3339());
                }
            }
            out.print(&list, |l| output::statuses(l));
            Ok(if list.iter().any(|s| !s.problems.is_empty()) {
                1
            } else {
                0
            })
        }
        Command::Check { target } => {
            let mut list = Vec::new();
            let mut code = 0;
            for t in targets(config, target)? {
                let report = match Engine::from_config(t, options).await {
                    Ok(engine) => engine.check().await,
                    Err(e) => {
                        code = code.max(e.exit_code());
                        crate::runtime::CheckReport {
                            target: t.name.clone(),
                            ok: false,
                            store: String::new(),
                            database: String::new(),
                            active: None,
                            gates: Vec::new(),
                            error: Some(e.to_string()),
                            warnings: Vec::new(),
                        }
                    }
                };
                if !report.ok {
                    code = code.max(1);
                }
                list.push(report);
            }
            out.print(&list, |l| output::checks(l));
            Ok(code)
        }
        Command::Follow {
            target,
            interval,
            once,
        } => {
            let engine = Engine::from_config(
                config.target(target)?,
                &EngineOptions {
                    follow_only: true,
                    ..options.clone()
                },
            ).await?;
            let interval = crate::duration::parse(interval).map_err(|message| {
                Error::Config(crate::config::ConfigError {
                    file: "--interval".into(),
                    target: None,
                    key: String::new(),
                    message,
                })
            })?;
            // SIGTERM (a pod stopping) or Ctrl-C ends it between passes.
            let shutdown = terminated();
            let passes = engine
                .follow(interval, *once, out.progress(), shutdown)
                .await?;
            out.print(&passes, |p| output::follow(p));
            Ok(0)
        }
        Command::Run { .. }
        | Command::Lambda
        | Command::Demo { .. }
        | Command::Version
        | Command::Completions { .. }
        | Command::Man => Err(Error::Inconsistent {
            target: "-".into(),
            message: "`run` and `lambda` are started before the config is loaded; this is a bug in seesaw".into(),
        }),
        Command::SetupSql { target } => {
            stdout(&crate::setup_sql::render(config.target(target)?));
            Ok(0)
        }
    }
}

/// `seesaw run`: the daemon, until SIGTERM.
#[cfg(feature = "daemon")]
async fn daemon(
    cli: &Cli,
    http_addr: &Option<String>,
    rotate_now: &[String],
    out: &Printer,
) -> i32 {
    let options = crate::runtime::daemon::DaemonOptions {
        engine: EngineOptions {
            kube_context: cli.kube_context.clone(),
            kubeconfig: cli.kubeconfig.clone(),
            ..Default::default()
        },
        http_address: http_addr.clone(),
        rotate_now: rotate_now.to_vec(),
        ..Default::default()
    };
    match crate::runtime::daemon::run(&cli.config, options, terminated(), None).await {
        Ok(()) => 0,
        Err(e) => out.error(&e),
    }
}

#[cfg(not(feature = "daemon"))]
async fn daemon(_: &Cli, _: &Option<String>, _: &[String], _: &Printer) -> i32 {
    eprintln!("error: this seesaw was built without the `daemon` feature (`seesaw run`); cargo build --release --features daemon, or run `seesaw rotate TARGET` from a scheduled job");
    2
}

#[cfg(feature = "lambda")]
async fn lambda() -> i32 {
    match crate::runtime::lambda::serve().await {
        Ok(()) => 0,
        Err(e) => {
            // One line: JSON logs are what CloudWatch keeps.
            tracing::error!("{e}");
            1
        }
    }
}

#[cfg(not(feature = "lambda"))]
async fn lambda() -> i32 {
    eprintln!("error: this seesaw was built without the `lambda` feature; cargo build --release --features lambda");
    2
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
