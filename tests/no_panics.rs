//! No panics on any input: the non-test code of `src/` holds no `unwrap()`,
//! `expect(`, `Option::unwrap`-style paths, `panic!`, `unreachable!`,
//! `todo!` or `unimplemented!`, except where a `// never panics: <why>`
//! comment on the line or the one before says why the input cannot make it
//! fail. Comments and string literals are not code (a `//` inside a string
//! hides nothing); a call split over lines is still a call; only the items
//! under `#[cfg(test)]` (a test module, a test helper in the middle of a
//! file) and files marked `#![cfg(test)]` are skipped.
//!
//! Indexing and slicing are not checked here: the few dozen sites index
//! fixed-size arrays or follow a length check, and a textual check cannot
//! tell those from the rest. The inputs that reach them (configs, store
//! documents, server answers) are fuzzed and fed garbage instead
//! (tests/bad_input.rs, tests/canary.rs, the config fuzz cases).

use std::path::Path;

#[path = "architecture/source.rs"]
#[allow(dead_code)]
mod source;

const METHODS: [&str; 2] = ["unwrap", "expect"];
const MACROS: [&str; 4] = ["panic", "unreachable", "todo", "unimplemented"];

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn ident_before(c: &[char], i: usize) -> bool {
    i > 0 && (c[i - 1].is_alphanumeric() || c[i - 1] == '_')
}

/// Blanks the items under `#[cfg(test)]`: up to the item's `;` or the end
/// of its braces, wherever in the file it is.
fn without_test_items(code: &mut [char]) {
    let marker: Vec<char> = "#[cfg(test)]".chars().collect();
    let mut i = 0;
    while i + marker.len() <= code.len() {
        if code[i..i + marker.len()] != marker[..] {
            i += 1;
            continue;
        }
        let mut j = i + marker.len();
        let mut depth = 0;
        while j < code.len() {
            match code[j] {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        break;
                    }
                }
                ';' if depth == 0 => break,
                _ => {}
            }
            j += 1;
        }
        let stop = (j + 1).min(code.len());
        for ch in code.iter_mut().take(stop).skip(i) {
            if *ch != '\n' {
                *ch = ' ';
            }
        }
        i = j + 1;
    }
}

/// The lines (1-based) of `text` that may panic without a justification.
fn unjustified_panics(text: &str) -> Vec<(usize, String)> {
    if text.lines().any(|l| l.trim() == "#![cfg(test)]") {
        return Vec::new();
    }
    // Comments and literals blanked, lines kept: the reader the
    // architecture test uses for imports.
    let mut code: Vec<char> = source::code_only(text).chars().collect();
    without_test_items(&mut code);
    let line_of = |at: usize| code[..at].iter().filter(|c| **c == '\n').count();
    // The next non-blank character at or after `j`, and at or before it.
    let forward = |mut j: usize| {
        while j < code.len() && code[j].is_whitespace() {
            j += 1;
        }
        j
    };
    let backward = |mut j: usize| {
        while j > 0 && code[j].is_whitespace() {
            j -= 1;
        }
        j
    };
    let mut hits = std::collections::BTreeSet::new();
    let mut i = 0;
    while i < code.len() {
        if !(code[i].is_alphabetic() || code[i] == '_') || ident_before(&code, i) {
            i += 1;
            continue;
        }
        let end = (i..code.len())
            .find(|&j| !(code[j].is_alphanumeric() || code[j] == '_'))
            .unwrap_or(code.len());
        let word: String = code[i..end].iter().collect();
        let after = forward(end);
        let before = if i == 0 { None } else { Some(backward(i - 1)) };
        let by_dot = before.is_some_and(|b| code.get(b) == Some(&'.'));
        let by_path = before.is_some_and(|b| b >= 1 && code[b] == ':' && code[b - 1] == ':');
        let call = code.get(after) == Some(&'(');
        let bang = code.get(after) == Some(&'!');
        if (METHODS.contains(&word.as_str()) && ((by_dot && call) || by_path))
            || (MACROS.contains(&word.as_str()) && bang)
        {
            hits.insert(line_of(i));
        }
        i = end;
    }
    let lines: Vec<&str> = text.lines().collect();
    hits.into_iter()
        .filter(|&n| {
            let here = lines.get(n).copied().unwrap_or_default();
            let above = n
                .checked_sub(1)
                .and_then(|p| lines.get(p))
                .copied()
                .unwrap_or_default();
            !(here.contains("// never panics:")
                || above.trim_start().starts_with("// never panics:"))
        })
        .map(|n| {
            (
                n + 1,
                lines.get(n).copied().unwrap_or_default().trim().to_owned(),
            )
        })
        .collect()
}

#[test]
fn the_source_has_no_unjustified_panics() {
    let mut files = Vec::new();
    rust_files(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut files,
    );
    assert!(files.len() > 30, "found only {} files", files.len());
    let mut found = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        for (line, code) in unjustified_panics(&text) {
            found.push(format!("{}:{line}: {code}", file.display()));
        }
    }
    assert!(
        found.is_empty(),
        "possible panics in non-test code (handle the error, or say why it cannot happen with `// never panics:`):\n{}",
        found.join("\n")
    );
}

#[test]
fn the_panic_check_flags_what_hides_a_panic() {
    let flagged = [
        // A `//` inside a string once hid the rest of the line.
        "fn f() -> u32 {\n    let u = \"http://x\".len(); u.checked_add(1).unwrap()\n}\n",
        // A test helper in the middle of a file once ended the scan.
        "#[cfg(test)]\nfn helper() {}\n\nfn f(x: Option<u8>) -> u8 {\n    x.unwrap()\n}\n",
        // A call split over lines.
        "fn f(x: Option<u8>) -> u8 {\n    x\n        .expect\n        (\"set\")\n}\n",
        // A path, not a call.
        "fn f(x: Vec<Option<u8>>) -> Vec<u8> {\n    x.into_iter().map(Option::unwrap).collect()\n}\n",
        "fn f() {\n    unreachable!(\"no\")\n}\n",
    ];
    for text in flagged {
        assert_eq!(unjustified_panics(text).len(), 1, "not flagged:\n{text}");
    }
    let allowed = [
        "fn f(x: Option<u8>) -> u8 {\n    // never panics: set above\n    x.unwrap()\n}\n",
        "fn f() -> &'static str {\n    \"call .unwrap() and panic!(now)\"\n}\n",
        "fn f() {} // x.unwrap()\n",
        "fn f() {}\n#[cfg(test)]\nmod tests {\n    fn t() { None::<u8>.unwrap(); }\n}\n",
        "fn f(x: Option<u8>) -> u8 {\n    x.unwrap_or(0)\n}\n",
        "fn f<'a>(x: &'a str) -> char {\n    let q = '\"'; x.chars().next().unwrap_or(q)\n}\n",
        "#![cfg(test)]\nfn t() { None::<u8>.unwrap(); }\n",
    ];
    for text in allowed {
        assert!(
            unjustified_panics(text).is_empty(),
            "flagged:\n{text}\n{:?}",
            unjustified_panics(text)
        );
    }
}
