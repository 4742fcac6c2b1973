//! Reading a Rust file for its imports: comments, strings and
//! `#[cfg(test)]` items removed, then `use` trees and inline paths.

/// The code of `text` without comments, string and char literals: each of
/// their characters replaced by a space and each newline kept, so `use`
/// inside a string is not an import and lines still line up (the panic
/// check in tests/no_panics.rs reports line numbers from it).
pub fn code_only(text: &str) -> String {
    let c: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let blank = |out: &mut String, part: &[char]| {
        out.extend(part.iter().map(|ch| if *ch == '\n' { '\n' } else { ' ' }));
    };
    let mut i = 0;
    while i < c.len() {
        let next = c.get(i + 1).copied();
        let start = i;
        if c[i] == '/' && next == Some('/') {
            while i < c.len() && c[i] != '\n' {
                i += 1;
            }
            blank(&mut out, &c[start..i]);
        } else if c[i] == '/' && next == Some('*') {
            let mut depth = 0;
            while i < c.len() {
                if c[i] == '/' && c.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if c[i] == '*' && c.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
            blank(&mut out, &c[start..i.min(c.len())]);
        } else if c[i] == 'r'
            && (next == Some('"') || next == Some('#'))
            && !ident(c.get(i.wrapping_sub(1)))
        {
            // r"..." or r#"..."#: ends at a quote followed by as many #.
            let mut j = i + 1;
            let mut hashes = 0;
            while c.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            if c.get(j) != Some(&'"') {
                out.push(c[i]);
                i += 1;
                continue;
            }
            j += 1;
            while j < c.len() {
                if c[j] == '"' && (0..hashes).all(|h| c.get(j + 1 + h) == Some(&'#')) {
                    j += 1 + hashes;
                    break;
                }
                j += 1;
            }
            i = j.min(c.len());
            blank(&mut out, &c[start..i]);
        } else if c[i] == '"' {
            i += 1;
            while i < c.len() && c[i] != '"' {
                i += if c[i] == '\\' { 2 } else { 1 };
            }
            i = (i + 1).min(c.len());
            blank(&mut out, &c[start..i]);
        } else if c[i] == '\'' && char_literal_len(&c[i..]) > 0 {
            i += char_literal_len(&c[i..]);
            blank(&mut out, &c[start..i]);
        } else {
            out.push(c[i]);
            i += 1;
        }
    }
    out
}

fn ident(c: Option<&char>) -> bool {
    c.is_some_and(|c| c.is_alphanumeric() || *c == '_')
}

/// `'x'`, `'\n'`, `'\u{1F600}'`: its length; 0 for a lifetime (`'a`).
fn char_literal_len(c: &[char]) -> usize {
    if c.get(1) == Some(&'\\') {
        (2..c.len().min(12))
            .find(|&k| c[k] == '\'')
            .map_or(0, |k| k + 1)
    } else if c.get(2) == Some(&'\'') {
        3
    } else {
        0
    }
}

/// `code` without the items under `#[cfg(test)]` (a test module, a test
/// helper): up to the item's `;` or the end of its braces.
pub fn without_test_items(code: &str) -> String {
    let marker = "#[cfg(test)]";
    let mut out = String::new();
    let mut rest = code;
    while let Some(at) = rest.find(marker) {
        out.push_str(&rest[..at]);
        let after = &rest[at + marker.len()..];
        let brace = after.find('{');
        let semi = after.find(';');
        rest = match (brace, semi) {
            (_, Some(s)) if brace.is_none_or(|b| s < b) => &after[s + 1..],
            (Some(b), _) => {
                let mut depth = 0;
                let mut end = after.len();
                for (k, ch) in after[b..].char_indices() {
                    match ch {
                        '{' => depth += 1,
                        '}' => {
                            depth -= 1;
                            if depth == 0 {
                                end = b + k + 1;
                                break;
                            }
                        }
                        _ => {}
                    }
                }
                &after[end..]
            }
            _ => "",
        };
    }
    out.push_str(rest);
    out
}

/// One imported path, and whether it is a re-export (`pub use`).
#[derive(Debug)]
pub struct Import {
    pub path: Vec<String>,
    /// The name it is known by here (`as` renames it).
    pub name: String,
    pub reexport: bool,
}

/// Every path of every `use` item in `code`, groups expanded, and the
/// code without them (for [`inline_paths`]: a re-export's path is not a use).
pub fn use_items(code: &str) -> (Vec<Import>, String) {
    let mut out = Vec::new();
    let mut rest = String::new();
    let mut kept = 0;
    let bytes = code.as_bytes();
    let mut from = 0;
    while let Some(k) = code[from..].find("use ") {
        let at = from + k;
        from = at + 4;
        if at > 0 && (bytes[at - 1].is_ascii_alphanumeric() || bytes[at - 1] == b'_') {
            continue;
        }
        let Some(end) = code[from..].find(';') else {
            break;
        };
        let before = code[..at].trim_end();
        let reexport = before.ends_with("pub")
            || before
                .rsplit_once("pub(")
                .is_some_and(|(_, r)| r.len() < 12 && r.ends_with(')'));
        let tree: String = code[from..from + end]
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        expand(&tree, &[], reexport, &mut out);
        rest.push_str(&code[kept..at]);
        from += end;
        kept = from;
    }
    rest.push_str(&code[kept..]);
    (out, rest)
}

fn expand(tree: &str, prefix: &[String], reexport: bool, out: &mut Vec<Import>) {
    let tree = tree.trim().trim_start_matches("::");
    if let Some(open) = tree.find('{') {
        let mut path = prefix.to_vec();
        path.extend(segments(&tree[..open]));
        let inner = &tree[open + 1..tree.rfind('}').unwrap_or(tree.len())];
        for part in split_top_level(inner) {
            expand(part, &path, reexport, out);
        }
        return;
    }
    let (tree, alias) = match tree.split_once(" as ") {
        Some((t, a)) => (t, Some(a.trim().to_owned())),
        None => (tree, None),
    };
    let mut path = prefix.to_vec();
    path.extend(segments(tree));
    if path.last().is_some_and(|s| s == "self") {
        path.pop();
    }
    if path.is_empty() || path.last().is_some_and(|s| s == "*") && path.len() == 1 {
        return;
    }
    let name = alias.unwrap_or_else(|| path.last().cloned().unwrap_or_default());
    out.push(Import {
        path,
        name,
        reexport,
    });
}

fn segments(path: &str) -> impl Iterator<Item = String> + '_ {
    path.split("::")
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

fn split_top_level(list: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0, 0);
    for (k, ch) in list.char_indices() {
        match ch {
            '{' => depth += 1,
            '}' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&list[start..k]);
                start = k + 1;
            }
            _ => {}
        }
    }
    parts.push(&list[start..]);
    parts.into_iter().filter(|p| !p.trim().is_empty()).collect()
}

/// Inline paths starting at `crate::`, `super::`, `self::` or a child
/// module's name (`children`: `http::serve(..)` in `daemon/mod.rs`).
pub fn inline_paths(code: &str, children: &std::collections::BTreeSet<String>) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let c: Vec<char> = code.chars().collect();
    let starts_with = |i: usize, p: &str| c[i..].iter().take(p.len()).copied().eq(p.chars());
    let mut i = 0;
    while i < c.len() {
        let starts = ["crate::", "super::", "self::"]
            .iter()
            .any(|p| starts_with(i, p))
            || children
                .iter()
                .any(|child| starts_with(i, &format!("{child}::")));
        if starts && !ident(c.get(i.wrapping_sub(1))) && c.get(i.wrapping_sub(1)) != Some(&':') {
            let mut j = i;
            while j < c.len() && (c[j].is_alphanumeric() || c[j] == '_' || c[j] == ':') {
                j += 1;
            }
            let text: String = c[i..j].iter().collect();
            out.push(segments(&text).collect());
            i = j;
        } else {
            i += 1;
        }
    }
    out
}
