//! No panics on any input: the non-test code of `src/` holds no `unwrap()`,
//! `expect(`, `panic!`, `unreachable!`, `todo!` or `unimplemented!`, except
//! where a `// never panics: <why>` comment on the line or the one before
//! says why the input cannot make it fail. Test modules (after the file's
//! top-level `#[cfg(test)]`, or a whole file marked `#![cfg(test)]`) are
//! not checked.

use std::path::Path;

const PATTERNS: [&str; 6] = [
    ".unwrap()",
    ".expect(",
    "panic!(",
    "unreachable!(",
    "todo!(",
    "unimplemented!(",
];

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
        // A file that is a test module as a whole says so itself.
        if text.lines().any(|l| l.trim() == "#![cfg(test)]") {
            continue;
        }
        let lines: Vec<&str> = text.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            if line.starts_with("#[cfg(test)]") {
                break;
            }
            let code = line.split("//").next().unwrap_or_default();
            if !PATTERNS.iter().any(|p| code.contains(p)) {
                continue;
            }
            let justified = line.contains("// never panics:")
                || (i > 0 && lines[i - 1].trim_start().starts_with("// never panics:"));
            if !justified {
                found.push(format!("{}:{}: {}", file.display(), i + 1, line.trim()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "possible panics in non-test code (handle the error, or say why it cannot happen with `// never panics:`):\n{}",
        found.join("\n")
    );
}
