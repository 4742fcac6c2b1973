//! PgBouncer's `auth_file` (`userlist.txt`): one line per user,
//! `"username" "secret"`, a `"` inside a field written twice, anything
//! after the second field ignored, lines starting with `;` comments.
//!
//! seesaw replaces the secret of one user and keeps every other byte of
//! the file: other users, comments, the order, the file's owner and mode
//! (PgBouncer runs as its own user and must still read it). The write is
//! atomic (see [`crate::atomic_file`]) under a lock on the file's
//! directory, so two targets sharing one file take turns.

use crate::atomic_file;
use secrecy::{ExposeSecret, SecretString};
use std::path::{Path, PathBuf};
use zeroize::Zeroize;

/// What [`set_secret`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    /// The user's line was replaced.
    Replaced,
    /// The user had no line; one was added at the end.
    Added,
}

/// Sets `user`'s secret in the auth_file at `path` (symlinks followed to
/// the real file, which is replaced).
pub fn set_secret(path: &Path, user: &str, secret: &SecretString) -> std::io::Result<Written> {
    let real = regular_file(path)?;
    let _lock = atomic_file::lock_directory_of(&real)?;
    let meta = std::fs::metadata(&real)?;
    let mut text = std::fs::read_to_string(&real)?;
    let (mut body, written) = with_secret(&text, user, secret.expose_secret());
    text.zeroize();
    let result = atomic_file::replace(
        &real,
        body.as_bytes(),
        atomic_file::Keep::OwnerAndMode(&meta),
    );
    body.zeroize();
    result.map(|()| written)
}

/// Whether seesaw could write the file now, without writing it: the file
/// opens for writing, and a temporary file can be created (and is removed)
/// beside it. `Err` says what is missing.
pub fn check_writable(path: &Path) -> Result<(), String> {
    let real = regular_file(path).map_err(|e| format!("{}: {e}", path.display()))?;
    std::fs::OpenOptions::new()
        .append(true)
        .open(&real)
        .map_err(|e| format!("cannot open {} for writing: {e}", real.display()))?;
    let dir = atomic_file::parent(&real);
    let probe = tempfile::Builder::new()
        .prefix(".seesaw-check-")
        .tempfile_in(&dir)
        .map_err(|e| {
            format!(
                "cannot create a file in {} (seesaw replaces {} by renaming a new file over it): \
                    {e}",
                dir.display(),
                real.display()
            )
        })?;
    // The new file must get the old one's owner and group.
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(&real).map_err(|e| format!("{}: {e}", real.display()))?;
    let made = probe.as_file().metadata().map_err(|e| e.to_string())?;
    if (made.uid(), made.gid()) != (meta.uid(), meta.gid()) {
        std::os::unix::fs::fchown(probe.as_file(), Some(meta.uid()), Some(meta.gid())).map_err(
            |e| {
                format!(
                "cannot give a new file {}'s owner {}:{} ({e}): run seesaw as that user or as root",
                real.display(),
                meta.uid(),
                meta.gid()
            )
            },
        )?;
    }
    let text = std::fs::read(&real).map_err(|e| format!("cannot read {}: {e}", real.display()))?;
    if std::str::from_utf8(&text).is_err() {
        return Err(format!("{} is not UTF-8 text", real.display()));
    }
    Ok(())
}

/// Whether `user` has a line in the file (for `check`).
pub fn has_entry(path: &Path, user: &str) -> std::io::Result<bool> {
    let mut text = std::fs::read_to_string(path)?;
    let found = text
        .lines()
        .any(|line| matches!(field(line.trim_start()), Some((name, _)) if name == user));
    text.zeroize();
    Ok(found)
}

/// The file `path` names, symlinks followed; anything but a regular file
/// is refused before it is opened (a FIFO would block forever).
fn regular_file(path: &Path) -> std::io::Result<PathBuf> {
    let meta = std::fs::metadata(path)?;
    if !meta.file_type().is_file() {
        return Err(std::io::Error::other(
            "not a regular file; point auth_file at PgBouncer's userlist.txt",
        ));
    }
    std::fs::canonicalize(path)
}

/// The file's text with `user`'s secret set: every line of `user`
/// rewritten (anything after its second field kept), or a line added.
pub fn with_secret(text: &str, user: &str, secret: &str) -> (String, Written) {
    let mut out = String::with_capacity(text.len() + secret.len() + user.len() + 8);
    let mut written = Written::Added;
    for line in text.split_inclusive('\n') {
        let indent = line.len() - line.trim_start().len();
        match field(&line[indent..]) {
            Some((name, rest)) if name == user => {
                let tail = field(rest.trim_start()).map_or(rest, |(_, tail)| tail);
                out.push_str(&line[..indent]);
                out.push_str(&quote(user));
                out.push(' ');
                out.push_str(&quote(secret));
                out.push_str(tail);
                written = Written::Replaced;
            }
            _ => out.push_str(line),
        }
    }
    if written == Written::Added {
        if !out.is_empty() && !out.ends_with('\n') {
            out.push('\n');
        }
        out.push_str(&quote(user));
        out.push(' ');
        out.push_str(&quote(secret));
        out.push('\n');
    }
    (out, written)
}

/// The (user, secret) lines of a userlist's text, as PgBouncer reads them.
pub fn entries(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|line| {
            let (user, rest) = field(line.trim_start())?;
            let (secret, _) = field(rest.trim_start())?;
            Some((user, secret))
        })
        .collect()
}

/// `"` + the value with each `"` doubled + `"`, as PgBouncer reads it.
pub fn quote(value: &str) -> String {
    format!("\"{}\"", value.replace('"', "\"\""))
}

/// The quoted field at the start of `s` and what follows it; `None` when
/// `s` does not start with a complete quoted field.
fn field(s: &str) -> Option<(String, &str)> {
    let mut chars = s.char_indices();
    if chars.next()?.1 != '"' {
        return None;
    }
    let mut value = String::new();
    let mut chars = chars.peekable();
    while let Some((i, c)) = chars.next() {
        if c == '"' {
            if matches!(chars.peek(), Some((_, '"'))) {
                chars.next();
                value.push('"');
            } else {
                return Some((value, &s[i + 1..]));
            }
        } else {
            value.push(c);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_only_the_users_line_and_keeps_the_rest() {
        let text = "; managed by hand\n\"app_a\" \"SCRAM-SHA-256$4096:old-a\"\n  \"app_b\" \
            \"old-b\" trailing\n\"pgb_admin\" \"pw\"";
        let (out, w) = with_secret(text, "app_b", "SCRAM-SHA-256$4096:new");
        assert_eq!(w, Written::Replaced);
        assert_eq!(
            out,
            "; managed by hand\n\"app_a\" \"SCRAM-SHA-256$4096:old-a\"\n  \"app_b\" \
                \"SCRAM-SHA-256$4096:new\" trailing\n\"pgb_admin\" \"pw\""
        );
    }

    #[test]
    fn adds_a_missing_user_on_its_own_line() {
        let (out, w) = with_secret("\"app_a\" \"x\"", "app_b", "y");
        assert_eq!(w, Written::Added);
        assert_eq!(out, "\"app_a\" \"x\"\n\"app_b\" \"y\"\n");
        let (out, _) = with_secret("", "app_b", "y");
        assert_eq!(out, "\"app_b\" \"y\"\n");
    }

    #[test]
    fn quotes_are_doubled_and_read_back() {
        let (out, _) = with_secret("", "we\"ird", "s\"e");
        assert_eq!(out, "\"we\"\"ird\" \"s\"\"e\"\n");
        let (name, rest) = field(&out).unwrap();
        assert_eq!(name, "we\"ird");
        assert_eq!(field(rest.trim_start()).unwrap().0, "s\"e");
        // The same user again is recognised and replaced, not added.
        let (again, w) = with_secret(&out, "we\"ird", "t");
        assert_eq!(w, Written::Replaced);
        assert_eq!(again, "\"we\"\"ird\" \"t\"\n");
    }

    #[test]
    fn a_user_whose_name_is_a_prefix_of_another_is_not_confused() {
        let (out, w) = with_secret("\"app\" \"1\"\n\"app_b\" \"2\"\n", "app_b", "3");
        assert_eq!(w, Written::Replaced);
        assert_eq!(out, "\"app\" \"1\"\n\"app_b\" \"3\"\n");
    }

    #[test]
    fn broken_lines_are_kept_verbatim() {
        let text = "\"unterminated\n\"app_b\" \"2\"\n";
        let (out, _) = with_secret(text, "app_b", "3");
        assert_eq!(out, "\"unterminated\n\"app_b\" \"3\"\n");
    }

    #[test]
    fn the_file_keeps_its_mode_and_other_lines() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("userlist.txt");
        std::fs::write(&path, "\"app_a\" \"a\"\n\"app_b\" \"b\"\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        let link = dir.path().join("link.txt");
        std::os::unix::fs::symlink(&path, &link).unwrap();
        let w = set_secret(&link, "app_b", &SecretString::from("new")).unwrap();
        assert_eq!(w, Written::Replaced);
        assert!(link.symlink_metadata().unwrap().file_type().is_symlink());
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "\"app_a\" \"a\"\n\"app_b\" \"new\"\n"
        );
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode, 0o640);
        assert!(has_entry(&path, "app_a").unwrap());
        assert!(!has_entry(&path, "app_c").unwrap());
        assert!(check_writable(&path).is_ok());
        // Nothing left beside it.
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 2, "{names:?}");
        assert!(check_writable(&dir.path().join("missing.txt")).is_err());
        assert!(set_secret(dir.path(), "app_b", &SecretString::from("x")).is_err());
    }
}
