//! What a PromQL expression needs of the metrics: the seesaw metric names
//! it selects (and `up`), and the labels it matches, groups or joins on,
//! each tied to the metrics that must carry it. A scanner, not a parser:
//! enough for the expressions seesaw ships, and tested below on made-up
//! ones it must read right.

use std::collections::{BTreeMap, BTreeSet};

/// Labels Prometheus adds when it scrapes a pod through a ServiceMonitor;
/// /metrics does not serve them.
pub const SCRAPE_LABELS: [&str; 7] = [
    "job",
    "instance",
    "namespace",
    "pod",
    "service",
    "endpoint",
    "container",
];

/// `labels` must each be on one of `metrics` (or be a scrape label).
#[derive(Debug, PartialEq)]
pub struct Need {
    pub labels: BTreeSet<String>,
    pub metrics: BTreeSet<String>,
}

#[derive(Debug, PartialEq)]
enum Token {
    Ident(String, usize),
    Open(char, usize),
    Close(char, usize),
    Other,
}

fn tokens(expr: &str) -> Vec<Token> {
    let chars: Vec<char> = expr.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '"' || c == '\'' || c == '`' {
            // A string: its words are values, not names.
            i += 1;
            while i < chars.len() && chars[i] != c {
                i += if chars[i] == '\\' { 2 } else { 1 };
            }
            out.push(Token::Other);
        } else if c.is_ascii_alphabetic() || c == '_' || c == ':' {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || "_:".contains(chars[i])) {
                i += 1;
            }
            out.push(Token::Ident(chars[start..i].iter().collect(), start));
            continue;
        } else if "({[".contains(c) {
            out.push(Token::Open(c, i));
        } else if ")}]".contains(c) {
            out.push(Token::Close(c, i));
        } else if !c.is_whitespace() {
            out.push(Token::Other);
        }
        i += 1;
    }
    out
}

/// The index of the token that closes the one opened at `open`.
fn closing(tokens: &[Token], open: usize) -> usize {
    let mut depth = 0;
    for (i, t) in tokens.iter().enumerate().skip(open) {
        match t {
            Token::Open(..) => depth += 1,
            Token::Close(..) => {
                depth -= 1;
                if depth == 0 {
                    return i;
                }
            }
            _ => {}
        }
    }
    panic!("unbalanced brackets")
}

/// The metrics selected in `expr` and the labels they must have.
pub fn needs(expr: &str) -> (BTreeSet<String>, Vec<Need>) {
    let t = tokens(expr);
    let is_metric = |i: usize| match &t[i] {
        Token::Ident(name, _) => {
            name.starts_with("seesaw_")
                || (name == "up" && matches!(t.get(i + 1), Some(Token::Open('{', _))))
        }
        _ => false,
    };
    let metrics_in = |from: usize, to: usize| -> BTreeSet<String> {
        (from..to)
            .filter(|&i| is_metric(i))
            .filter_map(|i| match &t[i] {
                Token::Ident(name, _) => Some(name.clone()),
                _ => None,
            })
            .collect()
    };
    let all = metrics_in(0, t.len());
    let mut needs = Vec::new();
    // Identifiers directly inside the brackets opened at `open`, up to `close`.
    let names = |open: usize, close: usize| -> BTreeSet<String> {
        let mut names = BTreeSet::new();
        let mut i = open + 1;
        while i < close {
            if let Token::Open(..) = t[i] {
                i = closing(&t, i);
            } else if let Token::Ident(name, _) = &t[i] {
                names.insert(name.clone());
            }
            i += 1;
        }
        names
    };
    for i in 0..t.len() {
        match &t[i] {
            // name{label="value", ...}: on that metric.
            Token::Open('{', _) if i > 0 && is_metric(i - 1) => {
                if let Token::Ident(name, _) = &t[i - 1] {
                    needs.push(Need {
                        labels: names(i, closing(&t, i)),
                        metrics: BTreeSet::from([name.clone()]),
                    });
                }
            }
            Token::Ident(word, _) if matches!(t.get(i + 1), Some(Token::Open('(', _))) => {
                let close = closing(&t, i + 1);
                let labels = names(i + 1, close);
                let metrics = match word.as_str() {
                    // op by (labels) (expr), or op (expr) by (labels).
                    "by" | "without" => match t.get(close + 1) {
                        Some(Token::Open('(', _)) => metrics_in(close + 1, closing(&t, close + 1)),
                        _ => {
                            let Some(Token::Close(')', _)) = t.get(i.wrapping_sub(1)) else {
                                panic!("`{word}` without an expression in {expr}")
                            };
                            let open = (0..i - 1)
                                .rev()
                                .find(|&o| {
                                    matches!(t[o], Token::Open('(', _)) && closing(&t, o) == i - 1
                                })
                                .unwrap();
                            metrics_in(open, i)
                        }
                    },
                    "on" | "ignoring" | "group_left" | "group_right" => all.clone(),
                    _ => continue,
                };
                needs.push(Need { labels, metrics });
            }
            _ => {}
        }
    }
    (all, needs)
}

/// Labels Grafana fills a legend with (`{{pod}}`): on one of `metrics`.
pub fn legend(format: &str, metrics: &BTreeSet<String>) -> Vec<Need> {
    format
        .split("{{")
        .skip(1)
        .filter_map(|s| s.split_once("}}"))
        .map(|(label, _)| Need {
            labels: BTreeSet::from([label.trim().to_owned()]),
            metrics: metrics.clone(),
        })
        .collect()
}

/// What `needs` lacks in `served` (sample name -> its labels), as messages.
pub fn missing(
    what: &str,
    metrics: &BTreeSet<String>,
    needs: &[Need],
    served: &BTreeMap<String, BTreeSet<String>>,
) -> Vec<String> {
    let mut missing = Vec::new();
    for m in metrics {
        if m != "up" && !served.contains_key(m) {
            missing.push(format!("{what}: {m} is not served"));
        }
    }
    for need in needs {
        for label in &need.labels {
            let on = |m: &String| served.get(m).is_some_and(|l| l.contains(label));
            if !SCRAPE_LABELS.contains(&label.as_str()) && !need.metrics.iter().any(on) {
                missing.push(format!(
                    "{what}: label {label} is on none of {:?}",
                    need.metrics
                ));
            }
        }
    }
    missing
}

#[test]
fn the_scanner_ties_each_label_to_the_metrics_that_must_have_it() {
    let set = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
    let (all, found) = needs(
        r#"max by (namespace, target, reason) (seesaw_gate_blocked{reason!="x"} * ignoring (target, reason) group_left seesaw_leader) == 1 or absent(up{job="seesaw"})"#,
    );
    assert_eq!(all, set(&["seesaw_gate_blocked", "seesaw_leader", "up"]));
    for need in [
        (set(&["reason"]), set(&["seesaw_gate_blocked"])),
        (
            set(&["namespace", "target", "reason"]),
            set(&["seesaw_gate_blocked", "seesaw_leader"]),
        ),
        (set(&["target", "reason"]), all.clone()),
        (set(&["job"]), set(&["up"])),
    ] {
        let need = Need {
            labels: need.0,
            metrics: need.1,
        };
        assert!(found.contains(&need), "{need:?} not in {found:?}");
    }
    // The other form of aggregation; words in strings are not names.
    let (all, found) = needs(r#"sum(rate(seesaw_x_total{result="seesaw_y"}[5m])) by (step)"#);
    assert_eq!(all, set(&["seesaw_x_total"]));
    assert!(found.contains(&Need {
        labels: set(&["step"]),
        metrics: set(&["seesaw_x_total"])
    }));

    // What it reports against a scrape.
    let served = BTreeMap::from([
        ("seesaw_gate_blocked".to_owned(), set(&["target", "reason"])),
        ("seesaw_leader".to_owned(), set(&[])),
    ]);
    let (all, found) =
        needs(r#"max by (target, step) (seesaw_gate_blocked{gate="a"}) + seesaw_gone"#);
    let mut report = missing("made up", &all, &found, &served);
    report.sort();
    assert_eq!(
        report,
        [
            "made up: label gate is on none of {\"seesaw_gate_blocked\"}",
            "made up: label step is on none of {\"seesaw_gate_blocked\"}",
            "made up: seesaw_gone is not served",
        ]
    );
    let found = legend("{{pod}} {{ step }}", &set(&["seesaw_leader"]));
    assert_eq!(
        missing("legend", &BTreeSet::new(), &found, &served),
        ["legend: label step is on none of {\"seesaw_leader\"}"]
    );
}
