//! The library's module graph from its source files, and its cycles.

use super::source;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

#[derive(Debug, Default)]
pub struct Module {
    /// Modules this one uses (`a::b`; the crate root is `crate`).
    pub uses: BTreeSet<String>,
    /// Re-exports: the name here -> the full path it names.
    reexports: BTreeMap<String, Vec<String>>,
    /// Every path it names, absolute, before resolution to a module.
    paths: Vec<Vec<String>>,
}

/// The modules of the crate under `src/`.
pub fn load(files: &[PathBuf]) -> BTreeMap<String, Module> {
    load_rooted(files, &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"))
}

/// The modules of the crate whose root directory is `root` (`lib.rs`).
pub fn load_rooted(files: &[PathBuf], root: &Path) -> BTreeMap<String, Module> {
    let mut modules = BTreeMap::new();
    for file in files {
        let Some(here) = module_path(file, root) else {
            continue;
        };
        let text = source::code_only(&std::fs::read_to_string(file).unwrap());
        if text.trim_start().starts_with("#![cfg(test)]") {
            continue; // a test module in its own file (after its `//!` doc)
        }
        let code = source::without_test_items(&text);
        let mut module = Module::default();
        let (imports, body) = source::use_items(&code);
        let children = modules_near(files, root, &here);
        for import in imports {
            let Some(path) = absolute(&import.path, &here, &children) else {
                continue;
            };
            if import.reexport {
                module.reexports.insert(import.name, path);
            } else {
                module.paths.push(path);
            }
        }
        for path in source::inline_paths(&body, &children) {
            if let Some(path) = absolute(&path, &here, &children) {
                module.paths.push(path);
            }
        }
        modules.insert(here.join("::"), module);
    }
    let names: BTreeSet<String> = modules.keys().cloned().collect();
    let resolved: Vec<(String, BTreeSet<String>)> = modules
        .iter()
        .map(|(name, m)| {
            let uses = m
                .paths
                .iter()
                .filter_map(|p| resolve(p, &modules, &names, 0))
                .filter(|target| target != name)
                .collect();
            (name.clone(), uses)
        })
        .collect();
    for (name, uses) in resolved {
        if let Some(m) = modules.get_mut(&name) {
            m.uses = uses;
        }
    }
    modules
        .remove("")
        .map(|root_module| modules.insert("crate".into(), root_module));
    for m in modules.values_mut() {
        if m.uses.remove("") {
            m.uses.insert("crate".into());
        }
    }
    modules
}

/// `src/a/b.rs` and `src/a/b/mod.rs` -> `["a", "b"]`; `lib.rs` -> `[]`;
/// `main.rs` (another crate) -> `None`.
fn module_path(file: &Path, root: &Path) -> Option<Vec<String>> {
    let relative = file.strip_prefix(root).ok()?.with_extension("");
    let mut parts: Vec<String> = relative
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    match parts.last().map(String::as_str) {
        Some("main") if parts.len() == 1 => return None,
        Some("lib") if parts.len() == 1 => parts.clear(),
        Some("mod") => {
            parts.pop();
        }
        _ => {}
    }
    Some(parts)
}

/// The child modules of `here` (a `use child::x` in `here` is relative).
fn modules_near(files: &[PathBuf], root: &Path, here: &[String]) -> BTreeSet<String> {
    files
        .iter()
        .filter_map(|f| module_path(f, root))
        .filter(|m| m.len() == here.len() + 1 && m.starts_with(here))
        .filter_map(|m| m.last().cloned())
        .collect()
}

/// A path as written in `here` -> from the crate root; `None` for another
/// crate's path.
fn absolute(path: &[String], here: &[String], children: &BTreeSet<String>) -> Option<Vec<String>> {
    let first = path.first()?;
    let mut out: Vec<String> = match first.as_str() {
        "crate" => Vec::new(),
        "super" | "self" => here.to_vec(),
        name if children.contains(name) => here.to_vec(),
        _ => return None,
    };
    let mut rest = path;
    if first == "crate" {
        rest = &path[1..];
    }
    for segment in rest {
        match segment.as_str() {
            "super" => {
                out.pop();
            }
            "self" => {}
            _ => out.push(segment.clone()),
        }
    }
    Some(out)
}

/// The deepest module a path names, following re-exports to the module
/// that defines the item.
fn resolve(
    path: &[String],
    modules: &BTreeMap<String, Module>,
    names: &BTreeSet<String>,
    depth: usize,
) -> Option<String> {
    let k = (0..=path.len())
        .rev()
        .find(|&k| names.contains(&path[..k].join("::")))?;
    let module = path[..k].join("::");
    if depth < 8 {
        if let Some(target) = path
            .get(k)
            .and_then(|next| modules[&module].reexports.get(next))
        {
            let mut followed = target.clone();
            followed.extend(path[k + 1..].iter().cloned());
            return resolve(&followed, modules, names, depth + 1);
        }
    }
    Some(module)
}

/// Each strongly connected group of two or more modules, with its edges.
pub fn cycles(modules: &BTreeMap<String, Module>) -> Vec<String> {
    // Tarjan's algorithm, iterative over the (small) graph by recursion.
    struct State<'a> {
        modules: &'a BTreeMap<String, Module>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        found: Vec<Vec<&'a str>>,
    }
    fn visit<'a>(s: &mut State<'a>, v: &'a str) {
        let n = s.index.len();
        s.index.insert(v, n);
        s.low.insert(v, n);
        s.stack.push(v);
        for w in &s.modules[v].uses {
            let Some((w, _)) = s.modules.get_key_value(w) else {
                continue;
            };
            if !s.index.contains_key(w.as_str()) {
                visit(s, w);
                let low = s.low[v].min(s.low[w.as_str()]);
                s.low.insert(v, low);
            } else if s.stack.contains(&w.as_str()) {
                let low = s.low[v].min(s.index[w.as_str()]);
                s.low.insert(v, low);
            }
        }
        if s.low[v] == s.index[v] {
            let at = s.stack.iter().rposition(|x| *x == v).unwrap_or(0);
            let group: Vec<&str> = s.stack.split_off(at);
            if group.len() > 1 {
                s.found.push(group);
            }
        }
    }
    let mut s = State {
        modules,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        found: Vec::new(),
    };
    for name in modules.keys() {
        if !s.index.contains_key(name.as_str()) {
            visit(&mut s, name);
        }
    }
    s.found
        .iter()
        .map(|group| {
            let mut lines = vec![format!("cycle among {}:", group.join(", "))];
            for a in group {
                for b in &modules[*a].uses {
                    if group.contains(&b.as_str()) {
                        lines.push(format!("  {a} -> {b}"));
                    }
                }
            }
            lines.join("\n")
        })
        .collect()
}
