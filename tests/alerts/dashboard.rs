//! The Grafana dashboard: the classic JSON model at the schemaVersion it
//! declares (datasource references as objects since 33; 42 is the last
//! version of the classic model, which every Grafana still imports), one
//! repeated row per target, the panels an operator looks for, and queries
//! that Prometheus's own parser accepts.

use crate::{must, promtool, read, DASHBOARD};
use serde_json::Value;
use std::collections::BTreeSet;
use std::process::Command;

/// The classic model's schema versions whose datasource references are
/// objects (`{type, uid}`), up to its last.
const SCHEMA_VERSIONS: std::ops::RangeInclusive<u64> = 33..=42;

const PANEL_TYPES: [&str; 6] = [
    "row",
    "stat",
    "timeseries",
    "state-timeline",
    "bargauge",
    "table",
];

pub fn dashboard() -> Value {
    serde_json::from_str(&read(DASHBOARD)).expect("the dashboard is JSON")
}

/// Every query: (panel title, PromQL with Grafana's variables, legend).
pub fn queries(d: &Value) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for p in d["panels"].as_array().unwrap() {
        for t in p["targets"].as_array().into_iter().flatten() {
            out.push((
                p["title"].as_str().unwrap().to_owned(),
                t["expr"].as_str().unwrap().to_owned(),
                t["legendFormat"].as_str().unwrap_or("").to_owned(),
            ));
        }
    }
    out
}

/// Each query variable's `label_values(metric, label)`.
pub fn variables(d: &Value) -> Vec<(String, String)> {
    d["templating"]["list"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v["type"] == "query")
        .map(|v| {
            let q = v["query"]["query"].as_str().unwrap();
            assert_eq!(v["definition"].as_str(), Some(q), "{v}");
            let args = q
                .strip_prefix("label_values(")
                .and_then(|q| q.strip_suffix(')'))
                .unwrap_or_else(|| panic!("not label_values(metric, label): {q}"));
            let (metric, label) = args.rsplit_once(',').unwrap();
            let metric = metric.split('{').next().unwrap().trim().to_owned();
            (metric, label.trim().to_owned())
        })
        .collect()
}

#[test]
fn the_dashboard_is_grafanas_model_with_a_row_per_target() {
    let d = dashboard();
    let version = d["schemaVersion"].as_u64().expect("schemaVersion");
    assert!(
        SCHEMA_VERSIONS.contains(&version),
        "schemaVersion {version}"
    );
    let uid = d["uid"].as_str().unwrap();
    assert!(
        uid.len() <= 40
            && uid
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_".contains(c))
    );
    assert!(d["title"].as_str().is_some_and(|t| !t.is_empty()));
    assert!(d["time"]["from"].is_string() && d["time"]["to"].is_string());

    let vars = d["templating"]["list"].as_array().unwrap();
    let var = |name: &str| {
        vars.iter()
            .find(|v| v["name"] == name)
            .unwrap_or_else(|| panic!("no ${name}"))
    };
    assert_eq!(var("datasource")["type"], "datasource");
    assert_eq!(var("datasource")["query"], "prometheus");
    let target = var("target");
    assert_eq!(target["type"], "query");
    assert!(
        target["multi"] == true && target["includeAll"] == true,
        "{target}"
    );
    assert_eq!(
        variables(&d).len(),
        vars.len() - 1,
        "every other variable is label_values"
    );

    let datasource = serde_json::json!({"type": "prometheus", "uid": "${datasource}"});
    let mut ids = BTreeSet::new();
    let mut cells = BTreeSet::new();
    let mut row: Option<&Value> = None;
    let mut per_target = BTreeSet::new();
    for p in d["panels"].as_array().unwrap() {
        let title = p["title"].as_str().unwrap();
        let kind = p["type"].as_str().unwrap();
        assert!(PANEL_TYPES.contains(&kind), "{title}: panel type {kind}");
        assert!(
            ids.insert(p["id"].as_u64().unwrap()),
            "{title}: id used twice"
        );
        let g = &p["gridPos"];
        let (x, y, w, h) = [&g["x"], &g["y"], &g["w"], &g["h"]]
            .map(|v| v.as_u64().unwrap())
            .into();
        assert!(w > 0 && h > 0 && x + w <= 24, "{title}: gridPos {g}");
        for cx in x..x + w {
            for cy in y..y + h {
                assert!(
                    cells.insert((cx, cy)),
                    "{title} overlaps another panel at {cx},{cy}"
                );
            }
        }
        if kind == "row" {
            // Not collapsed: the row's panels follow it in the list.
            assert_eq!(p["collapsed"], false, "{title}");
            assert_eq!(p["panels"], serde_json::json!([]), "{title}");
            row = Some(p);
            continue;
        }
        assert_eq!(p["datasource"], datasource, "{title}");
        let targets = p["targets"].as_array().unwrap();
        assert!(!targets.is_empty(), "{title}: no query");
        let refs: BTreeSet<_> = targets
            .iter()
            .map(|t| t["refId"].as_str().unwrap())
            .collect();
        assert_eq!(refs.len(), targets.len(), "{title}: refIds");
        for t in targets {
            assert_eq!(t["datasource"], datasource, "{title}");
        }
        if row.is_some_and(|r| r["repeat"] == "target") {
            for t in targets {
                let expr = t["expr"].as_str().unwrap();
                assert!(expr.contains(r#"target="$target""#), "{title}: {expr}");
            }
            per_target.insert(title);
        }
    }
    for wanted in [
        "Last success",
        "Rotations by result",
        "Steps (how long each ran)",
        "Standby sessions",
    ] {
        assert!(
            per_target.contains(wanted),
            "no panel {wanted:?} in the target row: {per_target:?}"
        );
    }
    assert!(
        queries(&d)
            .iter()
            .any(|(title, expr, legend)| title == "Leader per pod"
                && expr.contains("seesaw_leader")
                && legend == "{{pod}}"),
        "a panel of the leader per pod"
    );
}

/// Every query parses as PromQL (Grafana's variables replaced by values),
/// by promtool's parser.
#[test]
fn the_dashboard_queries_parse() {
    let Some(promtool) = promtool() else { return };
    for (title, expr, _) in queries(&dashboard()) {
        let expr = expr
            .replace("$__rate_interval", "2m")
            .replace("$__range", "1d")
            .replace("$namespace", "shop")
            .replace("$target", "demo");
        must(
            Command::new(&promtool)
                .args(["--experimental", "promql", "format"])
                .arg(&expr),
        );
        assert!(!expr.contains('$'), "{title}: a variable left in {expr}");
    }
}
