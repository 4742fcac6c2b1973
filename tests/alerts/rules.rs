//! The rules as Prometheus reads them: `promtool check rules` and the unit
//! tests in rules.test.yaml, which must test every alert firing and, one
//! evaluation earlier, silent (the edge of its `for:`).

use crate::{alerts, must, promtool, read, repo, RULES, RUNBOOK};
use serde_yaml_ng::Value;
use std::collections::BTreeMap;
use std::process::Command;

const TESTS: &str = "tests/alerts/rules.test.yaml";

#[test]
fn promtool_checks_the_rules_and_passes_their_unit_tests() {
    let Some(promtool) = promtool() else { return };
    let out = must(
        Command::new(&promtool)
            .args(["check", "rules", "--lint=all", "--lint-fatal"])
            .arg(repo().join(RULES)),
    );
    assert!(
        out.contains(&format!("SUCCESS: {} rules found", alerts().len())),
        "{out}"
    );
    let out = must(
        Command::new(&promtool)
            .args(["test", "rules"])
            .arg(repo().join(TESTS)),
    );
    assert!(out.contains("SUCCESS"), "{out}");
}

/// promtool passes a test file that leaves an alert out; this makes sure
/// none is: for every alert, a test where it fires, and the evaluation
/// just before it in the same group, where it does not yet.
#[test]
fn every_alert_is_tested_firing_and_silent_the_evaluation_before() {
    let tests: Value = serde_yaml_ng::from_str(&read(TESTS)).unwrap();
    let interval = duration(tests["evaluation_interval"].as_str().unwrap());
    // alert -> (group, eval time, fires?)
    let mut seen: BTreeMap<String, Vec<(usize, u64, bool)>> = BTreeMap::new();
    for (g, group) in tests["tests"].as_sequence().unwrap().iter().enumerate() {
        for case in group["alert_rule_test"].as_sequence().unwrap() {
            let fires = !case["exp_alerts"].as_sequence().unwrap().is_empty();
            seen.entry(case["alertname"].as_str().unwrap().to_owned())
                .or_default()
                .push((g, duration(case["eval_time"].as_str().unwrap()), fires));
        }
    }
    for (name, _) in alerts() {
        let cases = seen.remove(&name).unwrap_or_default();
        let edge = cases
            .iter()
            .any(|&(g, at, fires)| fires && cases.contains(&(g, at - interval, false)));
        assert!(
            edge,
            "{name}: no test fires it with a silent evaluation just before ({cases:?})"
        );
    }
    assert!(
        seen.is_empty(),
        "tests of alerts that do not exist: {seen:?}"
    );
}

/// What Alertmanager routes on and what the page links to: a severity,
/// and a runbook_url to the alert's own section of docs/operations.md.
#[test]
fn every_alert_has_a_severity_and_a_runbook_section() {
    let operations = read("docs/operations.md");
    for (name, rule) in alerts() {
        let severity = rule["labels"]["severity"].as_str();
        assert!(
            matches!(severity, Some("warning" | "critical" | "info")),
            "{name}: severity {severity:?}"
        );
        let url = rule["annotations"]["runbook_url"].as_str().unwrap_or("");
        assert_eq!(
            url,
            format!("{RUNBOOK}#{}", name.to_lowercase()),
            "{name}: runbook_url"
        );
        assert!(
            operations
                .lines()
                .any(|l| l.trim_start_matches('#').trim() == name && l.starts_with("### ")),
            "docs/operations.md has no section `### {name}` (the runbook_url's anchor)"
        );
        for key in ["summary", "description"] {
            assert!(
                rule["annotations"][key]
                    .as_str()
                    .is_some_and(|s| !s.is_empty()),
                "{name}: no {key}"
            );
        }
    }
}

/// A Prometheus duration ("1h30m", "59m", "25h") in seconds.
pub fn duration(text: &str) -> u64 {
    let mut total = 0;
    let mut number = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let n: u64 = number
            .parse()
            .unwrap_or_else(|_| panic!("duration {text:?}"));
        number.clear();
        total += n * match c {
            's' => 1,
            'm' if chars.peek() == Some(&'s') => {
                chars.next();
                0
            }
            'm' => 60,
            'h' => 3600,
            'd' => 86400,
            'w' => 7 * 86400,
            _ => panic!("duration {text:?}"),
        };
    }
    assert!(number.is_empty(), "duration {text:?} ends in a number");
    total
}
