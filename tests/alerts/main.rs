//! The alerts, the dashboard and the monitoring objects seesaw ships
//! (deploy/helm/seesaw/files, the chart's templates, the kustomize
//! component deploy/kubernetes/components/monitoring), tested with the
//! tools that will read them:
//!
//! - `rules`: `promtool check rules` and `promtool test rules`
//!   (tests/alerts/rules.test.yaml: every alert fires when it should, stays
//!   silent when it should not, on both sides of its `for:`); the docs'
//!   table and runbook sections match the rules.
//! - `objects`: the chart with the monitoring values on and the kustomize
//!   component, accepted by the real API server (server-side dry run) with
//!   the prometheus-operator CRDs from its Go module applied.
//! - `dashboard`: Grafana's classic JSON model at the schemaVersion it
//!   declares, a row per target, the panels operators look for, queries
//!   that promtool parses.
//! - `scrape` (daemon feature): a daemon started in-process serves every
//!   metric and label the rules and the dashboard use, and docs/metrics.md
//!   lists exactly what it serves.
//!
//! promtool and the CRDs come from Go modules at pinned releases
//! (`tests/alerts/tools promtool | operator-crds`, which .ci/run calls and
//! exports as SEESAW_PROMTOOL and SEESAW_OPERATOR_CRDS); without them a
//! test skips locally, saying how to get them, and fails in CI.

#[path = "../support/mod.rs"]
mod support;

#[cfg(feature = "daemon")]
#[path = "../daemon/common.rs"]
#[allow(dead_code)]
mod common;
mod copies;
mod dashboard;
mod docs;
mod objects;
mod promql;
mod rules;
#[cfg(feature = "daemon")]
mod scrape;

use std::path::{Path, PathBuf};

pub fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

pub fn read(path: &str) -> String {
    std::fs::read_to_string(repo().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The rules file: the one source of the alerts.
pub const RULES: &str = "deploy/helm/seesaw/files/prometheus-rules.yaml";
/// The dashboard: the one source of it.
pub const DASHBOARD: &str = "deploy/helm/seesaw/files/grafana-dashboard.json";
/// Where every alert's runbook_url points (plus `#alertname`).
pub const RUNBOOK: &str = "https://github.com/seesaw-dev/seesaw/blob/main/docs/operations.md";

/// A tool named by `var`; `None` outside CI when it is unset (the test then
/// skips, printing `how`), a failure in CI.
pub fn tool(var: &str, how: &str) -> Option<PathBuf> {
    match std::env::var_os(var) {
        Some(path) => Some(PathBuf::from(path)),
        None => {
            assert!(
                std::env::var_os("CI").is_none(),
                "{var} is not set in CI: .ci/run sets it ({how})"
            );
            eprintln!("skipped: {var} is not set ({how})");
            None
        }
    }
}

pub fn promtool() -> Option<PathBuf> {
    tool(
        "SEESAW_PROMTOOL",
        "export SEESAW_PROMTOOL=$(tests/alerts/tools promtool)",
    )
}

/// Runs `cmd`; its stdout, or a panic with everything it printed.
pub fn must(cmd: &mut std::process::Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n{stdout}{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// Every alert of the rules file: (name, its rule as YAML).
pub fn alerts() -> Vec<(String, serde_yaml_ng::Value)> {
    let rules: serde_yaml_ng::Value = serde_yaml_ng::from_str(&read(RULES)).unwrap();
    let mut alerts = Vec::new();
    for group in rules["groups"].as_sequence().unwrap() {
        for rule in group["rules"].as_sequence().unwrap() {
            if let Some(name) = rule["alert"].as_str() {
                alerts.push((name.to_owned(), rule.clone()));
            }
        }
    }
    alerts
}
