//! The docs that describe the alerts and the metrics, read as tables so a
//! test can hold them to the rules and to what /metrics serves.

use crate::{alerts, read};
use std::collections::BTreeMap;

/// The cells of each table row of `text` whose first cell starts with
/// `first`.
fn rows<'a>(text: &'a str, first: &str) -> Vec<Vec<&'a str>> {
    text.lines()
        .filter(|l| l.starts_with(&format!("| {first}")))
        .map(|l| l.trim_matches('|').split(" | ").map(str::trim).collect())
        .collect()
}

/// docs/metrics.md: metric name -> (type, labels).
#[cfg(feature = "daemon")]
pub fn documented_metrics() -> BTreeMap<String, (String, std::collections::BTreeSet<String>)> {
    let mut metrics = BTreeMap::new();
    for row in rows(&read("docs/metrics.md"), "`seesaw_") {
        let name = row[0].trim_matches('`').to_owned();
        let labels = row[2]
            .split(", ")
            .filter(|l| l.starts_with('`'))
            .map(|l| l.trim_matches('`').to_owned())
            .collect();
        let previous = metrics.insert(name.clone(), (row[1].to_owned(), labels));
        assert!(previous.is_none(), "docs/metrics.md lists {name} twice");
    }
    metrics
}

/// docs/operations.md's table of alerts says what the rules say: every
/// alert, its `for:` and its severity.
#[test]
fn the_alert_table_in_operations_md_is_the_rules() {
    let text = read("docs/operations.md");
    let mut table: BTreeMap<String, (String, String)> = rows(&text, "[Seesaw")
        .into_iter()
        .map(|row| {
            let name = row[0][1..row[0].find(']').unwrap()].to_owned();
            assert_eq!(
                row[0],
                format!("[{name}](#{})", name.to_lowercase()),
                "the table links each alert to its section"
            );
            (name, (row[1].to_owned(), row[2].to_owned()))
        })
        .collect();
    for (name, rule) in alerts() {
        let documented = table
            .remove(&name)
            .unwrap_or_else(|| panic!("docs/operations.md's alert table lacks {name}"));
        let wanted = (
            rule["for"].as_str().unwrap_or("0m").to_owned(),
            rule["labels"]["severity"].as_str().unwrap().to_owned(),
        );
        assert_eq!(documented, wanted, "{name}: (for, severity) in the docs");
    }
    assert!(
        table.is_empty(),
        "the docs list alerts the rules lack: {table:?}"
    );
}
