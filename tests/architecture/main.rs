//! The shape of the code, checked: no import cycles between the library's
//! modules, no source file over 400 lines, no test that changes the
//! process's environment. `docs/architecture.md` draws the module picture
//! these checks keep true.
//!
//! The module graph comes from the source text (no extra tool to install):
//! every `use` tree and every inline `crate::`/`super::`/`self::` path,
//! outside `#[cfg(test)]` code, is an edge from the file's module to the
//! deepest module the path names. A `pub use` is a re-export, not a
//! dependency of the module that makes it: paths through it lead to the
//! module it names.

mod commands;
mod decisions;
mod error_text;
mod graph;
mod source;

use std::path::{Path, PathBuf};

const MAX_LINES: usize = 400;

fn rust_files(dir: &str) -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    let mut out = Vec::new();
    walk(&Path::new(env!("CARGO_MANIFEST_DIR")).join(dir), &mut out);
    out.sort();
    out
}

#[test]
fn no_two_modules_import_each_other_even_through_others() {
    let modules = graph::load(&rust_files("src"));
    assert!(
        modules.len() > 50,
        "only {} modules found under src/",
        modules.len()
    );
    let edges: usize = modules.values().map(|m| m.uses.len()).sum();
    assert!(
        edges > 100,
        "only {edges} imports found: is the parser blind?"
    );
    let cycles = graph::cycles(&modules);
    assert!(
        cycles.is_empty(),
        "import cycles (move the shared item to the module that owns it):\n{}",
        cycles.join("\n")
    );
}

#[test]
fn the_cycle_check_sees_a_cycle_through_a_use_group_and_a_re_export() {
    // The same parser on a made-up crate: `a` uses `b` through a group,
    // `b` reaches `a` through `c`'s re-export. Proves the check can fail.
    let dir = tempfile::tempdir().unwrap();
    let file = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        path
    };
    let files = [
        file("lib.rs", "pub mod a;\npub mod b;\npub mod c;\n"),
        file("a.rs", "use crate::{b::{self, Thing}, c};\npub struct A;\n"),
        file("b.rs", "pub fn f() -> crate::c::A { todo!() }\n"),
        file("c.rs", "pub use super::a::A;\n// use crate::b;\n"),
        file(
            "d/mod.rs",
            "mod e;\n#[cfg(test)]\nmod tests { use crate::a; }\n",
        ),
        file("d/e.rs", "const X: &str = \"use crate::a;\";\n"),
    ];
    let modules = graph::load_rooted(&files, dir.path());
    let cycles = graph::cycles(&modules);
    assert_eq!(cycles.len(), 1, "{cycles:?}");
    assert!(
        cycles[0].contains("a -> b") && cycles[0].contains("b -> a"),
        "{cycles:?}"
    );
    // Comments, strings and test code are not imports.
    assert!(modules["c"].uses.is_empty(), "{:?}", modules["c"].uses);
    assert!(modules["d"].uses.is_empty(), "{:?}", modules["d"].uses);
    assert!(
        modules["d::e"].uses.is_empty(),
        "{:?}",
        modules["d::e"].uses
    );
}

#[test]
fn no_source_file_is_over_400_lines() {
    let mut long = Vec::new();
    let mut seen = 0;
    for dir in ["src", "tests", "benches"] {
        for path in rust_files(dir) {
            seen += 1;
            let lines = std::fs::read_to_string(&path).unwrap().lines().count();
            if lines > MAX_LINES {
                long.push(format!("{lines:>5} {}", path.display()));
            }
        }
    }
    assert!(seen > 100, "only {seen} files found");
    assert!(
        long.is_empty(),
        "files over {MAX_LINES} lines (split them by concern):\n{}",
        long.join("\n")
    );
}

#[test]
fn tests_pass_the_environment_instead_of_changing_the_process_one() {
    // Spelled in two parts so this file does not match itself.
    let needles = [concat!("set", "_var("), concat!("remove", "_var(")];
    let mut found = Vec::new();
    for dir in ["tests", "benches"] {
        for path in rust_files(dir) {
            let text = std::fs::read_to_string(&path).unwrap();
            for (n, line) in text.lines().enumerate() {
                if needles.iter().any(|needle| line.contains(needle)) {
                    found.push(format!("{}:{}: {}", path.display(), n + 1, line.trim()));
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "tests change the process's environment (other tests' threads read it); pass a seesaw::environment::Environment or Command::env instead:\n{}",
        found.join("\n")
    );
}

#[test]
fn no_line_in_src_is_over_100_characters() {
    // rustfmt leaves an expression unformatted when it cannot fit it in
    // 100 columns (a long string inside it): a long line hides code from
    // the formatter. Long messages continue with `\` at a space.
    let mut long = Vec::new();
    for path in rust_files("src") {
        let text = std::fs::read_to_string(&path).unwrap();
        for (n, line) in text.lines().enumerate() {
            if line.chars().count() > 100 {
                long.push(format!("{}:{}", path.display(), n + 1));
            }
        }
    }
    assert!(
        long.is_empty(),
        "lines over 100 characters:\n{}",
        long.join("\n")
    );
}
