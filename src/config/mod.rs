//! The YAML configuration, parsed into validated types.
//!
//! Every error names the file, the target and the key, and says what is
//! expected: `seesaw.yaml: target "demo": database.tls: unknown variant
//! `tsl`, expected one of `disable`, `require`, `verify-full``.
//! Relative paths in the file are resolved against the file's directory, so
//! a config works the same from any working directory.

use crate::password::PasswordPolicy;
use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

mod admin;
mod daemon;
mod database;
mod kubernetes;
mod store;
mod target;
// Marked `#![cfg(test)]` inside.
mod tests;

pub use admin::*;
pub use daemon::*;
use daemon::{default_rotation_timeout, default_shutdown};
pub use database::*;
pub use kubernetes::*;
pub use store::*;
use target::validate_target;
pub use target::*;

#[derive(Debug, Clone)]
pub struct Config {
    /// The file it was read from (for messages).
    pub path: PathBuf,
    pub targets: Vec<TargetConfig>,
    pub daemon: DaemonConfig,
}

/// What `seesaw run` needs beyond the targets. (Its keys sit at the top of
/// the file, next to `targets`; serde's `flatten` would lose
/// `deny_unknown_fields`, so they are spelled out in `RawConfig`.)
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    targets: Vec<TargetConfig>,
    #[serde(default)]
    defaults: ScheduleConfig,
    #[serde(default)]
    concurrency: Concurrency,
    #[serde(default)]
    retry: RetryConfig,
    #[serde(default)]
    http: HttpConfig,
    #[serde(default)]
    leader_election: LeaderElection,
    #[serde(
        default = "default_shutdown",
        deserialize_with = "crate::duration::deserialize"
    )]
    shutdown_timeout: Duration,
    #[serde(
        default = "default_rotation_timeout",
        deserialize_with = "crate::duration::deserialize_positive"
    )]
    rotation_timeout: Duration,
}

/// A configuration problem: where it is and what is expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}: {}{key}{message}", target.as_ref().map(|t| format!("target \
    \"{t}\": ")).unwrap_or_default(),
        key = if key.is_empty() { String::new() } else { format!("{key}: ") })]
pub struct ConfigError {
    pub file: String,
    pub target: Option<String>,
    pub key: String,
    pub message: String,
}

/// Where the first byte that is not UTF-8 is, as an editor counts.
fn not_utf8(bytes: &[u8], at: usize) -> String {
    let before = &bytes[..at.min(bytes.len())];
    let line = before.iter().filter(|b| **b == b'\n').count() + 1;
    let line_start = before
        .iter()
        .rposition(|b| *b == b'\n')
        .map_or(0, |i| i + 1);
    let column = String::from_utf8_lossy(&before[line_start..])
        .chars()
        .count()
        + 1;
    format!(
        "line {line}, column {column}: byte 0x{:02x} is not UTF-8; save the file as UTF-8",
        bytes.get(at).copied().unwrap_or_default()
    )
}

impl Config {
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let file = path.display().to_string();
        let bytes = std::fs::read(path).map_err(|e| ConfigError {
            file: file.clone(),
            target: None,
            key: String::new(),
            message: match e.kind() {
                std::io::ErrorKind::NotFound => {
                    "no such file: pass --config PATH or create seesaw.yaml (see examples/)".into()
                }
                _ => format!("cannot read: {e}"),
            },
        })?;
        let text = String::from_utf8(bytes).map_err(|e| ConfigError {
            file: file.clone(),
            target: None,
            key: String::new(),
            message: not_utf8(e.as_bytes(), e.utf8_error().valid_up_to()),
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        Config::parse(&text, &file, base)
    }

    /// Parses `text` (named `file` in messages); relative paths are taken
    /// relative to `base`.
    pub fn parse(text: &str, file: &str, base: &Path) -> Result<Config, ConfigError> {
        let err = |target: Option<String>, key: &str, message: String| ConfigError {
            file: file.to_owned(),
            target,
            key: key.to_owned(),
            message,
        };
        // serde-saphyr hands out its Deserializer only inside a closure;
        // serde_path_to_error runs there and leaves the path behind.
        let mut path = None;
        let raw: RawConfig =
            serde_saphyr::with_deserializer_from_str_with_options(text, yaml_options(), |de| {
                serde_path_to_error::deserialize(de).map_err(|e| {
                    path = Some(e.path().clone());
                    e.into_inner()
                })
            })
            .map_err(|e| {
                let (target, key) = match &path {
                    Some(path) => locate(text, path),
                    None => (None, String::new()),
                };
                err(target, &key, yaml_message(&e, key.is_empty()))
            })?;
        let daemon = DaemonConfig {
            defaults: raw.defaults,
            concurrency: raw.concurrency,
            retry: raw.retry,
            http: raw.http,
            leader_election: raw.leader_election,
            shutdown_timeout: raw.shutdown_timeout,
            rotation_timeout: raw.rotation_timeout,
        };
        if let Err((key, message)) = daemon.defaults.build() {
            return Err(err(None, &format!("defaults.{key}"), message));
        }
        if daemon.concurrency.rotations == 0 || daemon.concurrency.rollouts == 0 {
            return Err(err(
                None,
                "concurrency",
                "expected at least 1 for rotations and rollouts".into(),
            ));
        }
        let mut targets = raw.targets;
        if targets.is_empty() {
            return Err(err(None, "targets", "expected at least one target".into()));
        }
        let mut names = BTreeSet::new();
        for t in &mut targets {
            let name = Some(t.name.clone());
            if t.database.port == 0 {
                t.database.port = t.database.engine.default_port();
            }
            t.database.split_host_parts();
            validate_target(t).map_err(|(key, message)| err(name.clone(), key, message))?;
            if !names.insert(t.name.clone()) {
                return Err(err(
                    name,
                    "name",
                    "another target has the same name; names must be unique".into(),
                ));
            }
            resolve_paths(t, base);
        }
        for t in &targets {
            if let Err((key, message)) = t.schedule_config(&daemon.defaults).build() {
                return Err(err(Some(t.name.clone()), key, message));
            }
        }
        Ok(Config {
            path: PathBuf::from(file),
            targets,
            daemon,
        })
    }

    pub fn target(&self, name: &str) -> Result<&TargetConfig, ConfigError> {
        self.targets.iter().find(|t| t.name == name).ok_or_else(|| {
            let known: Vec<_> = self.targets.iter().map(|t| t.name.as_str()).collect();
            ConfigError {
                file: self.path.display().to_string(),
                target: None,
                key: String::new(),
                message: format!(
                    "no target named \"{name}\"; the targets are: {}",
                    known.join(", ")
                ),
            }
        })
    }
}

/// How seesaw reads YAML: only `true`/`false` are booleans (YAML 1.2, so
/// `admin: yes` or `symbols: on` is an error, not a silent `true`);
/// duplicate keys are errors (the default); `<<` merge keys are expanded
/// (the default); no rustc-style snippet (the message is one line).
fn yaml_options() -> serde_saphyr::Options {
    serde_saphyr::options! {
        strict_booleans: true,
        with_snippet: false,
        budget: yaml_budget(),
    }
}

/// The parser's limits, sized for a daemon's config: its default (250,000
/// nodes) refused 10,000 targets of ~30 nodes each. A target takes 25 to
/// 100 nodes, so this admits 50,000 of them; the limits on aliases and
/// depth that stop an alias bomb stay as they are.
fn yaml_budget() -> Option<serde_saphyr::Budget> {
    serde_saphyr::budget! {
        max_nodes: 5_000_000,
        max_events: 12_000_000,
    }
}

/// The parser's message for an operator: its user wording (no hints at
/// Rust types or API names), with `at line L, column C`.
fn yaml_message(e: &serde_saphyr::Error, at_root: bool) -> String {
    if at_root && matches!(e.without_snippet(), serde_saphyr::Error::Eof { .. }) {
        // An empty file (or only comments).
        return "missing field `targets`: the file has no targets".into();
    }
    e.render_with_formatter(&serde_saphyr::UserMessageFormatter)
}

/// A list key written with nothing after it (`workloads:`) is YAML's null:
/// read as the empty list it means, as for a key left out.
pub(crate) fn empty_if_null<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// Turns serde's path (`targets[1].database.tls`) into the target's name and
/// the key inside it, because operators know targets by name, not index.
fn locate(text: &str, path: &serde_path_to_error::Path) -> (Option<String>, String) {
    use serde_path_to_error::Segment;
    // `a.b[2].c`, from the segments after the target.
    fn dotted(segments: &[&Segment]) -> String {
        segments
            .iter()
            .map(|s| match s {
                Segment::Seq { index } => format!("[{index}]"),
                other => format!(".{other}"),
            })
            .collect::<String>()
            .trim_start_matches('.')
            .to_owned()
    }
    // A trailing `?` is a key the parser refused (a duplicate, a merge key).
    let segments: Vec<&Segment> = path
        .iter()
        .filter(|s| !matches!(s, Segment::Unknown))
        .collect();
    if let [Segment::Map { key }, Segment::Seq { index }, rest @ ..] = segments.as_slice() {
        if key == "targets" {
            let name = target_name(text, *index).unwrap_or_else(|| format!("#{}", index + 1));
            return (Some(name), dotted(rest));
        }
    }
    (None, dotted(&segments))
}

/// `targets[index].name`, read leniently (other keys ignored), or None if
/// the file does not get that far.
fn target_name(text: &str, index: usize) -> Option<String> {
    #[derive(Deserialize)]
    struct Names {
        #[serde(default)]
        targets: Vec<Named>,
    }
    #[derive(Deserialize)]
    struct Named {
        #[serde(default)]
        name: Option<String>,
    }
    let options = serde_saphyr::options! {
        duplicate_keys: serde_saphyr::DuplicateKeyPolicy::FirstWins,
        with_snippet: false,
        budget: yaml_budget(),
    };
    serde_saphyr::from_str_with_options::<Names>(text, options)
        .ok()?
        .targets
        .into_iter()
        .nth(index)?
        .name
}

fn resolve_paths(t: &mut TargetConfig, base: &Path) {
    let fix = |p: &mut PathBuf| {
        if p.is_relative() {
            // Drop `./` so messages show a clean path.
            let rest: PathBuf = p
                .components()
                .filter(|c| !matches!(c, std::path::Component::CurDir))
                .collect();
            *p = base.join(rest);
        }
    };
    match &mut t.store {
        StoreConfig::File(f) => fix(&mut f.path),
        StoreConfig::Azure(AzureStoreConfig {
            ca_file: Some(ca), ..
        }) => fix(ca),
        _ => {}
    }
    if let Some(ca) = &mut t.database.ca_file {
        fix(ca);
    }
    if let AdminConfig::Login(AdminLogin {
        password_file: Some(p),
        ..
    }) = &mut t.database.admin
    {
        fix(p);
    }
    for pooler in &mut t.database.poolers {
        let b = &mut pooler.pgbouncer;
        for p in [&mut b.auth_file, &mut b.ca_file, &mut b.admin.password_file]
            .into_iter()
            .flatten()
        {
            fix(p);
        }
    }
}
