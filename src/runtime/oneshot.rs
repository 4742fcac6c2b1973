//! The one-shot commands: load the config, run one engine call per target,
//! print, and return the exit code.
//!
//! Here: the commands; `printer.rs` shows their results, `console.rs`
//! writes to the terminal, `interrupt.rs` handles Ctrl-C and SIGTERM.

mod console;
mod interrupt;
mod printer;

use crate::cli::{Cli, Command};
use crate::config::{Config, TargetConfig};
use crate::error::Error;
use crate::output;
use crate::rotation::Action;
use crate::runtime::{Engine, EngineOptions, RotateOptions};
use console::stdout;
use interrupt::{terminated, watch_interrupts};
use printer::Printer;

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
                eprintln!(
                    "error: --interval {interval:?} is not a duration between 1ms and 1h \
                    (e.g. 2s, 500ms)"
                );
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
            // The trust check runs beside the rotation, so a silent server
            // costs one connect_timeout (or store timeout), not two.
            let (warning, report) = tokio::join!(
                engine.passwords_unchecked(),
                engine.rotate(options, out.progress())
            );
            if let Some(warning) = warning {
                out.warn(&warning);
            }
            let report = report?;
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
            let target = config.target(target)?;
            let engine = Engine::from_config(target, options).await?;
            let options = RotateOptions {
                min_interval: target.schedule_config(&config.daemon.defaults).min_interval,
                ..Default::default()
            };
            let action = if *rollback {
                Action::Rollback
            } else {
                Action::Rotate
            };
            let (warning, report) =
                tokio::join!(engine.passwords_unchecked(), engine.plan(action, options));
            if let Some(warning) = warning {
                out.warn(&warning);
            }
            // The same document as `rotate --dry-run` (docs/output.md).
            let report = report?;
            out.print(&report, output::plan);
            Ok(if report.is_blocked() { 3 } else { 0 })
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
                            preflight: Vec::new(),
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
            )
            .await?;
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
            message: "`run` and `lambda` are started before the config is loaded; this is a bug \
                in seesaw"
                .into(),
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
    eprintln!(
        "error: this seesaw was built without the `daemon` feature (`seesaw run`); cargo \
        build --release --features daemon, or run `seesaw rotate TARGET` from a scheduled job"
    );
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
    eprintln!(
        "error: this seesaw was built without the `lambda` feature; cargo build --release \
        --features lambda"
    );
    2
}
