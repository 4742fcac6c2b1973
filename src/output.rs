//! Rendering reports for people. JSON output is the reports' serde form.

use crate::error::Error;
use crate::rotation::{Action, Gate, Proof, Step, Verdict, WriteCheck};
use crate::runtime::{CheckReport, Report, Status};
use serde_json::json;

fn verdict_word(v: Verdict) -> &'static str {
    match v {
        Verdict::Pass => "pass",
        Verdict::Handled => "handled",
        Verdict::Blocked => "BLOCKED",
        Verdict::Impossible => "BLOCKED",
        Verdict::Overridden => "forced",
    }
}

fn gates(out: &mut String, gates: &[Gate]) {
    out.push_str("gates:\n");
    for g in gates {
        out.push_str(&format!(
            "  {:<8} {:<17} {}\n",
            verdict_word(g.verdict),
            g.name,
            g.detail
        ));
    }
}

/// The preflight, one line per write: allowed, DENIED or warning.
fn preflight(out: &mut String, indent: &str, writes: &[WriteCheck]) {
    if writes.is_empty() {
        return;
    }
    out.push_str(&format!(
        "{indent}preflight (each write tried without effect):\n"
    ));
    for w in writes {
        let word = match w.result {
            Proof::Allowed => "allowed",
            Proof::Denied => "DENIED",
            Proof::Warning => "warning",
        };
        out.push_str(&format!("{indent}  {word:<8} {}\n", w.describe()));
    }
}

fn steps(out: &mut String, steps: &[Step], action: Action) {
    out.push_str("steps:\n");
    for (i, s) in steps.iter().enumerate() {
        out.push_str(&format!("  {}. {}\n", i + 1, s.describe_in(action)));
    }
}

fn verb(action: Action) -> &'static str {
    match action {
        Action::Rotate => "rotate",
        Action::Rollback => "roll back",
    }
}

/// `seesaw plan`: the same report as `rotate --dry-run`, worded as a plan.
pub fn plan(p: &Report) -> String {
    let mut out = format!(
        "plan for {}: {} {} -> {} (current version {})\n",
        p.target,
        verb(p.action),
        p.from,
        p.to,
        p.old_version
    );
    gates(&mut out, &p.gates);
    preflight(&mut out, "", &p.preflight);
    if let Some(why) = &p.up_to_date {
        out.push_str(&format!(
            "result: up to date ({why}); `rotate` would change nothing and exit 0 (rotate --now \
                overrides)\n"
        ));
        return out;
    }
    if p.is_blocked() {
        out.push_str(&format!(
            "result: blocked; `{}` would change nothing and exit 3\n",
            match p.action {
                Action::Rotate => "rotate",
                Action::Rollback => "rollback",
            }
        ));
    } else {
        steps(&mut out, &p.planned, p.action);
    }
    out
}

pub fn report(r: &Report) -> String {
    if let Some(why) = &r.up_to_date {
        return format!(
            "{} is up to date: {why}; nothing {} (rotate --now overrides)\n",
            r.target,
            if r.dry_run { "would change" } else { "changed" }
        );
    }
    if r.dry_run {
        let mut out = format!(
            "dry run: would {} {}: {} -> {}\n",
            verb(r.action),
            r.target,
            r.from,
            r.to
        );
        gates(&mut out, &r.gates);
        preflight(&mut out, "", &r.preflight);
        steps(&mut out, &r.planned, r.action);
        return out;
    }
    let done = match r.action {
        Action::Rotate => "rotated",
        Action::Rollback => "rolled back",
    };
    let mut out = format!(
        "{done} {}: {} -> {} (version {} -> {}) in {} ms\n",
        r.target,
        r.from,
        r.to,
        r.old_version,
        r.new_version.as_deref().unwrap_or("?"),
        r.elapsed_ms
    );
    for g in r.gates.iter().filter(|g| g.verdict != Verdict::Pass) {
        out.push_str(&format!("  {}: {}\n", verdict_word(g.verdict), g.detail));
    }
    for w in r.preflight.iter().filter(|w| w.result == Proof::Warning) {
        out.push_str(&format!("  warning: {}\n", w.describe()));
    }
    for s in &r.steps {
        out.push_str(&format!(
            "  {:<18} {:>6} ms  {}\n",
            s.step.name(),
            s.elapsed_ms,
            s.detail
        ));
    }
    out.push_str(&format!(
        "{} keeps its password until the next rotation.\n",
        r.from
    ));
    out
}

pub fn statuses(list: &[Status]) -> String {
    let dash = |o: &Option<String>| o.clone().unwrap_or_else(|| "-".into());
    let rows: Vec<[String; 7]> = list
        .iter()
        .map(|s| {
            [
                s.target.clone(),
                dash(&s.active),
                dash(&s.version),
                dash(&s.previous),
                dash(&s.standby),
                s.standby_sessions
                    .map(|n| n.to_string())
                    .unwrap_or_else(|| "?".into()),
                dash(&s.next_due),
            ]
        })
        .collect();
    let header = [
        "TARGET",
        "ACTIVE",
        "VERSION",
        "PREVIOUS",
        "STANDBY",
        "STANDBY SESSIONS",
        "NEXT DUE",
    ];
    let mut widths = header.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: &[String]| {
        cells
            .iter()
            .zip(widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_owned()
            + "\n"
    };
    let mut out = line(&header.map(String::from));
    for row in &rows {
        out += &line(row);
    }
    for s in list {
        for p in &s.problems {
            out += &format!("{}: {p}\n", s.target);
        }
    }
    out
}

pub fn checks(list: &[CheckReport]) -> String {
    let mut out = String::new();
    for c in list {
        out += &format!(
            "{}: {} ({}; {})\n",
            c.target,
            if c.ok { "ok" } else { "NOT OK" },
            c.database,
            c.store
        );
        if let Some(a) = &c.active {
            out += &format!("  active user: {a}\n");
        }
        if let Some(e) = &c.error {
            out += &format!("  error: {e}\n");
        }
        for w in &c.warnings {
            out += &format!("  warning: {w}\n");
        }
        for g in &c.gates {
            out += &format!(
                "  {:<8} {:<17} {}\n",
                verdict_word(g.verdict),
                g.name,
                g.detail
            );
        }
        preflight(&mut out, "  ", &c.preflight);
    }
    out
}

pub fn error_json(e: &Error) -> serde_json::Value {
    let mut body = json!({
        "kind": e.kind(),
        "message": e.to_string(),
        "exit_code": e.exit_code(),
    });
    if let Error::Blocked { gates, .. } = e {
        body["gates"] = json!(gates);
    }
    json!({ "error": body })
}

pub fn follow(passes: &[crate::runtime::FollowPass]) -> String {
    let mut out = String::new();
    for p in passes {
        out += &format!(
            "{}: version {} ({}): {} secret(s) written, {} workload(s) restarted{}\n",
            p.target,
            p.version,
            p.username,
            p.propagation.secrets_written.len(),
            p.propagation.workloads_restarted.len(),
            if p.propagation.rolled_out {
                ", rolled out"
            } else {
                ""
            }
        );
        for s in &p.propagation.skipped {
            out += &format!("  skipped: {s}\n");
        }
    }
    out
}
