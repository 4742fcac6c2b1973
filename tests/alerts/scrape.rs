//! A daemon started in-process, scraped: every metric and label the rules
//! and the dashboard use is served (a renamed metric breaks this test, not
//! the pager), docs/metrics.md lists exactly what is served, and the
//! metrics the alerts were given behave as the alerts assume.

use crate::alerts;
use crate::common::{options, two_targets};
use crate::dashboard::{dashboard, queries, variables};
use crate::docs::documented_metrics;
use crate::promql::{legend, missing, needs, Need};
use crate::support::daemon::{get, start};
use crate::support::seesaw::DB;
use seesaw::schedule::{utc, Clock};
use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::time::Duration;

/// One sample line: name, labels, value.
type Sample = (String, BTreeMap<String, String>, f64);

/// The exposition's samples and each family's type (`# TYPE`).
fn parse(text: &str) -> (Vec<Sample>, BTreeMap<String, String>) {
    let mut samples = Vec::new();
    let mut types = BTreeMap::new();
    for line in text.lines() {
        if let Some(t) = line.strip_prefix("# TYPE ") {
            let (name, kind) = t.split_once(' ').unwrap();
            types.insert(name.to_owned(), kind.to_owned());
            continue;
        }
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        let (series, value) = line.rsplit_once(' ').unwrap();
        let (name, mut rest) = series.split_once('{').unwrap_or((series, "}"));
        let mut labels = BTreeMap::new();
        while let Some((key, after)) = rest.split_once("=\"") {
            let mut value = String::new();
            let mut chars = after.char_indices();
            let end = loop {
                match chars.next().unwrap() {
                    (i, '"') => break i,
                    (_, '\\') => value.push(chars.next().unwrap().1),
                    (_, c) => value.push(c),
                }
            };
            labels.insert(key.trim_start_matches(',').to_owned(), value);
            rest = &after[end + 1..];
        }
        samples.push((name.to_owned(), labels, value.parse().unwrap()));
    }
    (samples, types)
}

/// Sample name -> the labels its series carry.
fn served(samples: &[Sample]) -> BTreeMap<String, BTreeSet<String>> {
    let mut served: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (name, labels, _) in samples {
        served
            .entry(name.clone())
            .or_default()
            .extend(labels.keys().cloned());
    }
    served
}

fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    samples
        .iter()
        .find(|(n, l, _)| {
            n == name
                && l.len() == labels.len()
                && labels
                    .iter()
                    .all(|(k, v)| l.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|s| s.2)
}

/// Scrapes `addr` until `ready` holds of the samples (30 s at most).
async fn scrape_until(
    addr: SocketAddr,
    what: &str,
    ready: impl Fn(&[Sample]) -> bool,
) -> (String, Vec<Sample>) {
    for _ in 0..300 {
        let (code, text) = get(addr, "/metrics").await;
        assert_eq!(code, 200);
        let (samples, _) = parse(&text);
        if ready(&samples) {
            return (text, samples);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "{what}: not seen in 30 s:\n{}",
        get(addr, "/metrics").await.1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_serves_what_the_alerts_and_the_dashboard_use() {
    // demo (app_a/app_b) and second (app_c/app_d), every minute with a
    // 30 s window. A session of second's standby blocks its rotation.
    let t = two_targets("  window: 30s\n").await;
    let su = t.cluster.superuser().await;
    su.batch_execute("ALTER ROLE app_d PASSWORD 'standby-Password-4'")
        .await
        .unwrap();
    let _session = t
        .cluster
        .connect("app_d", "standby-Password-4", DB)
        .await
        .unwrap();
    // 55 s before the next slot: only the rotations asked for below run.
    let clock = Clock::starting_at(utc(2026, 6, 1, 12, 0) + chrono::Duration::seconds(5), 1.0);
    let mut opts = options(clock);
    opts.rotate_now = vec!["demo".into(), "second".into()];
    let (addr, stop, task) = start(&tokio::runtime::Handle::current(), &t.config, opts).await;
    let (text, samples) = scrape_until(addr, "a success of demo and second blocked", |s| {
        value(
            s,
            "seesaw_rotations_total",
            &[("target", "demo"), ("result", "success")],
        ) == Some(1.0)
            && value(
                s,
                "seesaw_gate_blocked",
                &[("target", "second"), ("reason", "standby_sessions")],
            ) == Some(1.0)
            && value(
                s,
                "seesaw_rotation_deadline_timestamp_seconds",
                &[("target", "demo")],
            )
            .is_some()
    })
    .await;
    let served = served(&samples);
    metrics_md_lists_what_is_served(&parse(&text).1, &served);

    let mut lacking = Vec::new();
    for (name, rule) in alerts() {
        let (metrics, needs) = needs(rule["expr"].as_str().unwrap());
        lacking.extend(missing(&name, &metrics, &needs, &served));
    }
    let d = dashboard();
    for (title, expr, format) in queries(&d) {
        let (metrics, mut needs) = needs(&expr);
        needs.extend(legend(&format, &metrics));
        lacking.extend(missing(&title, &metrics, &needs, &served));
    }
    for (metric, label) in variables(&d) {
        let metrics = BTreeSet::from([metric]);
        let need = Need {
            labels: BTreeSet::from([label]),
            metrics: metrics.clone(),
        };
        lacking.extend(missing("a template variable", &metrics, &[need], &served));
    }
    assert!(
        lacking.is_empty(),
        "{}\n\nserved:\n{text}",
        lacking.join("\n")
    );

    // The alerts' assumptions: the counters exist before any failure, the
    // deadline is the next due time plus the window (the rotation just
    // published), a target never published has none, and the config's
    // rotation_timeout (15 min by default) is served.
    for result in ["success", "failure", "blocked"] {
        assert!(
            value(
                &samples,
                "seesaw_rotations_total",
                &[("target", "second"), ("result", result)]
            )
            .is_some(),
            "{text}"
        );
    }
    let at = |name: &str, target: &str| value(&samples, name, &[("target", target)]);
    assert_eq!(
        at("seesaw_rotation_deadline_timestamp_seconds", "demo"),
        at("seesaw_next_rotation_timestamp_seconds", "demo").map(|next| next + 30.0),
        "{text}"
    );
    assert_eq!(
        at("seesaw_rotation_deadline_timestamp_seconds", "second"),
        None,
        "{text}"
    );
    assert_eq!(
        value(&samples, "seesaw_rotation_timeout_seconds", &[]),
        Some(900.0)
    );
    assert_eq!(
        value(&samples, "seesaw_config_last_reload_successful", &[]),
        Some(1.0)
    );

    // A config that does not load is rejected (0); one that loads and drops
    // `second` takes its series away, so no alert fires for a target that
    // is gone.
    let config = std::fs::read_to_string(&t.config).unwrap();
    std::fs::write(&t.config, "targets: [").unwrap();
    scrape_until(addr, "the rejected config", |s| {
        value(s, "seesaw_config_last_reload_successful", &[]) == Some(0.0)
    })
    .await;
    let (demo_only, _) = config.split_once("  - name: second\n").unwrap();
    std::fs::write(&t.config, demo_only).unwrap();
    let (text, samples) = scrape_until(addr, "the config without second", |s| {
        value(s, "seesaw_config_last_reload_successful", &[]) == Some(1.0)
    })
    .await;
    assert!(
        !samples
            .iter()
            .any(|(_, l, _)| l.get("target").is_some_and(|t| t == "second")),
        "{text}"
    );
    assert!(at("seesaw_last_success_timestamp_seconds", "demo").is_some());

    let _ = stop.send(());
    tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .expect("stops")
        .unwrap()
        .unwrap();
}

/// docs/metrics.md: every metric served, with its type and labels, and
/// nothing else. Counters are listed as queried (`_total`); a histogram by
/// its name (`_bucket`, `_sum`, `_count` are its series).
fn metrics_md_lists_what_is_served(
    types: &BTreeMap<String, String>,
    served: &BTreeMap<String, BTreeSet<String>>,
) {
    let mut actual = BTreeMap::new();
    for (family, kind) in types {
        let (name, series) = match kind.as_str() {
            "counter" => (format!("{family}_total"), format!("{family}_total")),
            "histogram" => (family.clone(), format!("{family}_bucket")),
            _ => (family.clone(), family.clone()),
        };
        let mut labels = served
            .get(&series)
            .unwrap_or_else(|| {
                panic!("{family} has no series in this scrape: its labels are unknown")
            })
            .clone();
        labels.remove("le");
        actual.insert(name, (kind.clone(), labels));
    }
    assert_eq!(
        documented_metrics(),
        actual,
        "docs/metrics.md against /metrics"
    );
}
