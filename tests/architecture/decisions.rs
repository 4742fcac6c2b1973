//! `rotation/` decides and `runtime/` acts: a plan is made (its steps and
//! gates) only in `src/rotation/`, a gate deals with its condition by
//! returning a step, never by adding one to a list it is handed, and no
//! code finds a gate again by its name to rebuild it.

use super::rust_files;

/// What a rule forbids, the text that shows it, and the paths it holds in.
type Rule = (&'static str, &'static str, fn(&str) -> bool);

const RULES: [Rule; 4] = [
    (
        "a plan's steps edited outside rotation/",
        ".steps.retain(",
        outside_rotation,
    ),
    (
        "a gate added outside rotation/",
        ".gates.push(",
        outside_rotation,
    ),
    ("a gate looked up by name", ".name == \"", any_file),
    ("a gate handed the step list", "Vec<Step>", gate_functions),
];

fn outside_rotation(path: &str) -> bool {
    !path.contains("src/rotation/")
}

fn any_file(_: &str) -> bool {
    true
}

fn gate_functions(path: &str) -> bool {
    path.ends_with("src/rotation/decide/gates.rs")
}

/// Lines of `text` (at `path`) that break a rule; comment lines are not
/// code.
fn broken(path: &str, text: &str) -> Vec<String> {
    let mut found = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim_start().starts_with("//") {
            continue;
        }
        for (what, pattern, applies) in RULES {
            if applies(path) && line.contains(pattern) {
                found.push(format!("{path}:{}: {what}: {}", n + 1, line.trim()));
            }
        }
    }
    found
}

#[test]
fn plans_and_gates_are_made_only_where_the_protocol_decides() {
    let mut found = Vec::new();
    let files = rust_files("src");
    for path in &files {
        let text = std::fs::read_to_string(path).unwrap();
        // Unit tests look gates up by name to check them.
        let code = match text.find("#[cfg(test)]") {
            Some(at) => &text[..at],
            None => &text,
        };
        if path.to_string_lossy().contains("/tests") {
            continue;
        }
        found.extend(broken(&path.to_string_lossy(), code));
    }
    assert!(files.len() > 50);
    assert!(found.is_empty(), "{}", found.join("\n"));
}

#[test]
fn the_rules_catch_what_they_forbid() {
    let runtime = "/x/src/runtime/run.rs";
    let made_up = "let mut plan = rotate(o);\nplan.steps.retain(|s| true);\n// plan.steps.retain(x)\nplan.gates.push(g);\nlet g = plan.gates.iter().find(|g| g.name == \"standby_sessions\");\n";
    let found = broken(runtime, made_up);
    assert_eq!(found.len(), 3, "{found:?}");
    assert!(found[0].contains(":2: a plan's steps edited"), "{found:?}");
    let gates = "/x/src/rotation/decide/gates.rs";
    assert_eq!(
        broken(gates, "fn g(obs: &O, steps: &mut Vec<Step>) -> Gate {").len(),
        1
    );
    assert!(broken("/x/src/rotation/decide.rs", "plan.steps.retain(|s| true);").is_empty());
}
