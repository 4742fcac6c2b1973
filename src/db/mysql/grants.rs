//! Parity of two MariaDB accounts through `SHOW GRANTS`.
//!
//! SHOW GRANTS is canonical (one line per object, a fixed privilege order),
//! so two accounts have the same privileges when their lines, with the
//! grantee taken out, are the same set. A line's grantee is found from the
//! end (`" TO `user`@`host`"`): inside a quoted identifier every backtick
//! is doubled, so that sequence cannot occur earlier by accident. What
//! follows the grantee is kept only as `WITH GRANT OPTION` / `WITH ADMIN
//! OPTION`; the `*.*` line's `IDENTIFIED ...` (the password hash), `REQUIRE`
//! and resource limits are not privileges and are never compared, replayed
//! or shown.

use std::collections::BTreeSet;

/// The account's authentication plugin, as its `*.*` line says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plugin {
    /// `mysql_native_password` (MariaDB's default for `IDENTIFIED BY`), or
    /// no password yet.
    Native,
    /// MariaDB's `ed25519`.
    Ed25519,
    /// Anything else (unix_socket, pam, caching_sha2_password...): seesaw
    /// cannot set a password for it.
    Other(String),
}

/// `` `user`@`host` ``: an account as an identifier pair (backticks
/// doubled), the way SHOW GRANTS prints it and every statement names it.
pub fn account(user: &str, host: &str) -> String {
    format!(
        "`{}`@`{}`",
        user.replace('`', "``"),
        host.replace('`', "``")
    )
}

/// The privilege lines of `grantee` without the grantee, and its plugin.
pub fn normalize(lines: &[String], grantee: &str) -> (BTreeSet<String>, Plugin) {
    let mut set = BTreeSet::new();
    let mut plugin = Plugin::Native;
    let to = format!(" TO {grantee}");
    let default_role = format!(" FOR {grantee}");
    for line in lines {
        if let Some(head) = line
            .strip_prefix("SET DEFAULT ROLE ")
            .and_then(|rest| rest.strip_suffix(&default_role))
        {
            set.insert(format!("SET DEFAULT ROLE {head}"));
            continue;
        }
        let Some(at) = line.rfind(&to) else {
            continue;
        };
        let head = &line[..at];
        let tail = &line[at + to.len()..];
        if let Some(p) = identified(tail) {
            plugin = p;
        }
        if head == "GRANT USAGE ON *.*" {
            continue;
        }
        let option = if tail.contains("WITH GRANT OPTION") {
            " WITH GRANT OPTION"
        } else if tail.contains("WITH ADMIN OPTION") {
            " WITH ADMIN OPTION"
        } else {
            ""
        };
        set.insert(format!("{head}{option}"));
    }
    (set, plugin)
}

/// The plugin an `IDENTIFIED ...` clause names, if the tail has one.
fn identified(tail: &str) -> Option<Plugin> {
    let rest = tail.trim_start().strip_prefix("IDENTIFIED ")?;
    if rest.starts_with("BY PASSWORD") {
        return Some(Plugin::Native);
    }
    let via = rest.strip_prefix("VIA ")?;
    let name: String = via
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    Some(match name.as_str() {
        "mysql_native_password" => Plugin::Native,
        "ed25519" => Plugin::Ed25519,
        _ => Plugin::Other(name),
    })
}

/// The statement that gives `grantee` a normalized line.
pub fn grant(line: &str, grantee: &str) -> String {
    if let Some(role) = line.strip_prefix("SET DEFAULT ROLE ") {
        return format!("SET DEFAULT ROLE {role} FOR {grantee}");
    }
    let (head, option) = split_option(line);
    format!("{head} TO {grantee}{option}")
}

/// The statement that takes a normalized line away from `grantee`.
pub fn revoke(line: &str, grantee: &str) -> String {
    if line.starts_with("SET DEFAULT ROLE ") {
        return format!("SET DEFAULT ROLE NONE FOR {grantee}");
    }
    let (head, option) = split_option(line);
    let what = head.strip_prefix("GRANT ").unwrap_or(head);
    match find_unquoted(what, " ON ") {
        Some(at) => {
            let extra = if option.is_empty() {
                ""
            } else {
                ", GRANT OPTION"
            };
            format!(
                "REVOKE {}{extra}{} FROM {grantee}",
                &what[..at],
                &what[at..]
            )
        }
        // A role.
        None => format!("REVOKE {what} FROM {grantee}"),
    }
}

fn split_option(line: &str) -> (&str, &str) {
    for option in [" WITH GRANT OPTION", " WITH ADMIN OPTION"] {
        if let Some(head) = line.strip_suffix(option) {
            return (head, option);
        }
    }
    (line, "")
}

/// The first `pat` in `s` outside backtick-quoted identifiers.
fn find_unquoted(s: &str, pat: &str) -> Option<usize> {
    let mut quoted = false;
    for (i, c) in s.char_indices() {
        if c == '`' {
            quoted = !quoted;
        } else if !quoted && s[i..].starts_with(pat) {
            return Some(i);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &str) -> Vec<String> {
        text.lines().map(str::to_owned).collect()
    }

    /// As measured on MariaDB 10.11 for an account with a role, a default
    /// role, a database grant with grant option, a column grant, REQUIRE
    /// SSL and a resource limit.
    const A: &str = "GRANT `app_rw` TO `app_a`@`%`
GRANT USAGE ON *.* TO `app_a`@`%` IDENTIFIED BY PASSWORD \
    '*CFFA0000000000000000000000000000000BE0' REQUIRE SSL WITH MAX_USER_CONNECTIONS 50
GRANT SELECT, INSERT, EXECUTE ON `app`.* TO `app_a`@`%` WITH GRANT OPTION
GRANT SELECT (`id`) ON `app`.`t` TO `app_a`@`%`
SET DEFAULT ROLE `app_rw` FOR `app_a`@`%`";

    #[test]
    fn lines_lose_the_grantee_and_the_hash() {
        let (set, plugin) = normalize(&lines(A), &account("app_a", "%"));
        assert_eq!(plugin, Plugin::Native);
        let expected: BTreeSet<String> = [
            "GRANT `app_rw`",
            "GRANT SELECT, INSERT, EXECUTE ON `app`.* WITH GRANT OPTION",
            "GRANT SELECT (`id`) ON `app`.`t`",
            "SET DEFAULT ROLE `app_rw`",
        ]
        .into_iter()
        .map(str::to_owned)
        .collect();
        assert_eq!(set, expected);
        assert!(!set.iter().any(|l| l.contains("PASSWORD")));
    }

    #[test]
    fn replay_statements_name_the_other_account() {
        let b = account("app_b", "%");
        assert_eq!(
            grant("GRANT SELECT, INSERT ON `app`.* WITH GRANT OPTION", &b),
            "GRANT SELECT, INSERT ON `app`.* TO `app_b`@`%` WITH GRANT OPTION"
        );
        assert_eq!(
            revoke("GRANT SELECT, INSERT ON `app`.* WITH GRANT OPTION", &b),
            "REVOKE SELECT, INSERT, GRANT OPTION ON `app`.* FROM `app_b`@`%`"
        );
        assert_eq!(grant("GRANT `app_rw`", &b), "GRANT `app_rw` TO `app_b`@`%`");
        assert_eq!(
            revoke("GRANT `app_rw`", &b),
            "REVOKE `app_rw` FROM `app_b`@`%`"
        );
        assert_eq!(
            grant("SET DEFAULT ROLE `app_rw`", &b),
            "SET DEFAULT ROLE `app_rw` FOR `app_b`@`%`"
        );
        assert_eq!(
            revoke("SET DEFAULT ROLE `app_rw`", &b),
            "SET DEFAULT ROLE NONE FOR `app_b`@`%`"
        );
    }

    #[test]
    fn hostile_names_are_found_from_the_end_and_quoted() {
        let user = "we`ird ' TO x";
        let grantee = account(user, "%");
        assert_eq!(grantee, "`we``ird ' TO x`@`%`");
        let shown = vec![
            format!("GRANT USAGE ON *.* TO {grantee} IDENTIFIED VIA ed25519 USING 'abc'"),
            format!("GRANT SELECT ON `a ON b`.* TO {grantee}"),
        ];
        let (set, plugin) = normalize(&shown, &grantee);
        assert_eq!(plugin, Plugin::Ed25519);
        assert_eq!(set.len(), 1);
        let line = set.iter().next().unwrap();
        assert_eq!(line, "GRANT SELECT ON `a ON b`.*");
        assert_eq!(
            revoke(line, &grantee),
            "REVOKE SELECT ON `a ON b`.* FROM `we``ird ' TO x`@`%`"
        );
    }

    #[test]
    fn other_plugins_are_named() {
        let g = account("u", "%");
        let (_, p) = normalize(
            &[format!(
                "GRANT USAGE ON *.* TO {g} IDENTIFIED VIA unix_socket"
            )],
            &g,
        );
        assert_eq!(p, Plugin::Other("unix_socket".into()));
        let (_, p) = normalize(&[format!("GRANT USAGE ON *.* TO {g}")], &g);
        assert_eq!(p, Plugin::Native);
    }
}
