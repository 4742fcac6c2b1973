//! `ALTER ROLE ... SET` statements that give a new role the settings of
//! another (`pg_db_role_setting`), quoted the way `pg_dumpall` quotes them:
//! the settings of AWS's `<user>_clone` must match `<user>`'s, or the clone
//! would, say, create tables it owns itself instead of the owner role.

use postgres_protocol::escape::{escape_identifier, escape_literal};

/// Settings whose stored value is a list of possibly double-quoted items;
/// each item must be given as its own literal (`variable_is_guc_list_quote`
/// in PostgreSQL's `string_utils.c`). Others take the value as one literal.
const LIST_SETTINGS: [&str; 6] = [
    "local_preload_libraries",
    "search_path",
    "session_preload_libraries",
    "shared_preload_libraries",
    "temp_tablespaces",
    "unix_socket_directories",
];

/// The statement that sets `entry` (`name=value`, as `setconfig` stores
/// it) for `role`, in `database` only if given.
pub fn alter_role_set(role: &str, database: Option<&str>, entry: &str) -> Result<String, String> {
    let (name, value) = entry
        .split_once('=')
        .filter(|(name, _)| !name.is_empty())
        .ok_or_else(|| format!("a role setting without a name: {entry:?}"))?;
    let value = if LIST_SETTINGS.contains(&name.to_ascii_lowercase().as_str()) {
        let items = split_list(value)
            .ok_or_else(|| format!("the setting {name} is not a valid list: {value:?}"))?;
        if items.is_empty() {
            "''".to_owned()
        } else {
            items
                .iter()
                .map(|i| escape_literal(i))
                .collect::<Vec<_>>()
                .join(", ")
        }
    } else {
        escape_literal(value)
    };
    let scope = match database {
        Some(db) => format!(" IN DATABASE {}", escape_identifier(db)),
        None => String::new(),
    };
    Ok(format!(
        "ALTER ROLE {}{scope} SET {} TO {value}",
        escape_identifier(role),
        escape_identifier(name)
    ))
}

/// PostgreSQL's `SplitGUCList` with `,`: items separated by commas, each
/// either bare (up to a comma or space) or double-quoted with `""` for a
/// quote. `None` on bad syntax.
fn split_list(s: &str) -> Option<Vec<String>> {
    let mut items = Vec::new();
    let mut rest = s.trim_start();
    if rest.is_empty() {
        return Some(items);
    }
    loop {
        let item;
        if let Some(quoted) = rest.strip_prefix('"') {
            let mut value = String::new();
            let mut chars = quoted.char_indices().peekable();
            let mut end = None;
            while let Some((i, c)) = chars.next() {
                if c == '"' {
                    if chars.peek().map(|&(_, c)| c) == Some('"') {
                        chars.next();
                        value.push('"');
                    } else {
                        end = Some(i + 1);
                        break;
                    }
                } else {
                    value.push(c);
                }
            }
            item = value;
            rest = &quoted[end?..];
        } else {
            let len = rest
                .find(|c: char| c == ',' || c.is_whitespace())
                .unwrap_or(rest.len());
            if len == 0 {
                return None;
            }
            item = rest[..len].to_owned();
            rest = &rest[len..];
        }
        items.push(item);
        rest = rest.trim_start();
        match rest.strip_prefix(',') {
            Some(next) => rest = next.trim_start(),
            None if rest.is_empty() => return Some(items),
            None => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_setting_is_one_literal() {
        assert_eq!(
            alter_role_set("app_clone", None, "role=app_owner").unwrap(),
            r#"ALTER ROLE "app_clone" SET "role" TO 'app_owner'"#
        );
        assert_eq!(
            alter_role_set("c", Some("app db"), "statement_timeout=5s").unwrap(),
            r#"ALTER ROLE "c" IN DATABASE "app db" SET "statement_timeout" TO '5s'"#
        );
    }

    #[test]
    fn hostile_values_stay_inside_their_literal() {
        let sql = alter_role_set("c", None, "application_name=x'; DROP ROLE y; --").unwrap();
        assert_eq!(
            sql,
            r#"ALTER ROLE "c" SET "application_name" TO 'x''; DROP ROLE y; --'"#
        );
        // A value with an `=` keeps everything after the first one.
        assert!(alter_role_set("c", None, "x.y=a=b")
            .unwrap()
            .ends_with("TO 'a=b'"));
    }

    #[test]
    fn list_settings_give_each_item_its_own_literal() {
        assert_eq!(
            alter_role_set("c", None, r#"search_path=app, "My Schema", "q""t", public"#).unwrap(),
            r#"ALTER ROLE "c" SET "search_path" TO 'app', 'My Schema', 'q"t', 'public'"#
        );
        assert!(alter_role_set("c", None, "search_path=")
            .unwrap()
            .ends_with("TO ''"));
    }

    #[test]
    fn malformed_entries_are_errors_not_guesses() {
        assert!(alter_role_set("c", None, "no equals sign").is_err());
        assert!(alter_role_set("c", None, "=value").is_err());
        assert!(alter_role_set("c", None, r#"search_path="unterminated"#).is_err());
        assert!(alter_role_set("c", None, "search_path=a b").is_err());
        assert!(alter_role_set("c", None, "search_path=a,,b").is_err());
    }
}
