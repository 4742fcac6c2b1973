//! No error of another crate becomes text in the modules that talk to
//! servers (`src/store`, `src/k8s`, `src/db`): an SDK error may quote the
//! raw answer it could not parse, and a store's answer is the secret.
//! There, an error reaches a message only through `seesaw::reason` (the
//! operation, the status, a code, a short reason). seesaw's own errors
//! (a `DocumentError`, a `DbError`) are bound by another name (`problem`,
//! `source`) where they are formatted.

/// The names a caught error goes by in this code base.
const NAMES: [&str; 3] = ["e", "err", "error"];

/// Lines of `text` that format a caught error whole: `{e}`, `{e:?}`,
/// `e.to_string()`, `format!("{}", e)`, an SDK's error-context wrapper.
pub fn formatted_errors(text: &str) -> Vec<(usize, String)> {
    let code = super::source::without_test_items(text);
    let mut found = Vec::new();
    for (n, line) in code.lines().enumerate() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("//") {
            continue;
        }
        let mut hit = line.contains(concat!("DisplayError", "Context("))
            && !line.contains("fn ")
            && !line.contains("let c =");
        for name in NAMES {
            let inline = ["", ":?", ":#?", ":#"]
                .iter()
                .any(|spec| line.contains(&format!("{{{name}{spec}}}")));
            let to_string = line.contains(&format!("{name}.to_string()"))
                && !line.contains(&format!("_{name}.to_string()"));
            let positional = (line.contains("{}") || line.contains("{:?}"))
                && [
                    format!(", {name})"),
                    format!(", &{name})"),
                    format!(", {name},"),
                ]
                .iter()
                .any(|arg| line.contains(arg.as_str()));
            hit |= inline || to_string || positional;
        }
        if hit {
            found.push((n + 1, trimmed.to_owned()));
        }
    }
    found
}

#[test]
fn servers_errors_become_text_only_through_reason() {
    let mut found = Vec::new();
    let mut seen = 0;
    for dir in ["src/store", "src/k8s", "src/db"] {
        for path in super::rust_files(dir) {
            seen += 1;
            // A test module in a file of its own (`mod tests;`).
            let inside = path.strip_prefix(env!("CARGO_MANIFEST_DIR")).unwrap();
            if inside
                .components()
                .any(|c| c.as_os_str() == "tests" || c.as_os_str() == "tests.rs")
            {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            for (line, code) in formatted_errors(&text) {
                found.push(format!("{}:{line}: {code}", path.display()));
            }
        }
    }
    assert!(seen > 30, "only {seen} files found");
    assert!(
        found.is_empty(),
        "an error of another crate is formatted whole (it may quote a server's answer, which can be the secret); build the text with seesaw::reason (transport, json, code, service_message, headline):\n{}",
        found.join("\n")
    );
}

#[test]
fn the_error_text_check_flags_each_way_of_formatting_an_error() {
    let flagged = [
        "let x = y.map_err(|e| format!(\"cannot read: {e}\"));",
        "let x = y.map_err(|err| format!(\"cannot read: {err:?}\"));",
        "let x = y.map_err(|e| Other { message: e.to_string() });",
        "let x = format!(\"{}: {}\", action, e);",
        "let x = format!(\"{:?}\", &e);",
        "let x = DisplayErrorContext(&e).to_string();",
        "tracing::debug!(\"watch broke: {error}\");",
    ];
    for line in flagged {
        let text = format!("fn f() {{\n    {line}\n}}\n");
        assert_eq!(formatted_errors(&text).len(), 1, "not flagged: {line}");
    }
    let allowed = [
        "let x = y.map_err(|e| format!(\"cannot read: {}\", reason::json(&e)));",
        "let x = y.map_err(|_e| format!(\"{kind}\"));",
        "// an example: {e}",
        "let x = y.map_err(|e| headline(&e));",
    ];
    for line in allowed {
        let text = format!("fn f() {{\n    {line}\n}}\n");
        assert!(formatted_errors(&text).is_empty(), "flagged: {line}");
    }
    // Test code may format what it likes.
    let test_only = "#[cfg(test)]\nmod tests {\n    fn t() { let _ = format!(\"{e}\"); }\n}\n";
    assert!(formatted_errors(test_only).is_empty());
}
