//! Secret data templates: minijinja over the secret document.
//!
//! ```text
//! DATABASE_URL: "postgresql://{{ username | urlencode }}:{{ password | urlencode }}\
//!   @{{ host }}:{{ port }}/{{ dbname }}"
//! ```
//! (one line in a config; split here at the `\`).
//!
//! Undefined variables are errors (a typo must not publish an empty
//! password). Errors carry the kind and detail only, never minijinja's
//! debug view, which can show the values in scope.

use crate::secret::SecretDocument;
use minijinja::{Environment, UndefinedBehavior};
use std::collections::BTreeMap;

fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
    // The built-in filter (like Jinja2's) leaves `/` as it is, which ends
    // the userinfo of a URL early; credentials need every reserved
    // character encoded.
    env.add_filter("urlencode", |value: minijinja::Value| {
        urlencode(&value.to_string())
    });
    // A field of PgBouncer's auth_file (userlist.txt), for a sidecar
    // PgBouncer whose userlist is a key of the same Secret.
    env.add_filter("pgbouncer_quote", |value: minijinja::Value| {
        crate::pooler::auth_file::quote(&value.to_string())
    });
    env
}

/// Percent-encodes all but RFC 3986's unreserved characters.
pub fn urlencode(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 3);
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

fn describe(e: &minijinja::Error) -> String {
    match e.detail() {
        Some(detail) => format!("{}: {detail}", e.kind()),
        None => e.kind().to_string(),
    }
}

/// Checks that a template parses; for config validation.
pub fn check(template: &str) -> Result<(), String> {
    environment()
        .template_from_str(template)
        .map(|_| ())
        .map_err(|e| describe(&e))
}

/// Renders each key's template over the document. Without templates, every
/// field of the document becomes a key (strings as they are, other values
/// as JSON).
pub fn render(
    templates: Option<&BTreeMap<String, String>>,
    document: &SecretDocument,
) -> Result<BTreeMap<String, String>, (String, String)> {
    let value = document.to_value();
    let Some(templates) = templates else {
        let mut out = BTreeMap::new();
        if let serde_json::Value::Object(map) = &value {
            for (k, v) in map {
                let text = match v {
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                out.insert(k.clone(), text);
            }
        }
        return Ok(out);
    };
    let env = environment();
    let context = minijinja::Value::from_serialize(&value);
    let mut out = BTreeMap::new();
    for (key, template) in templates {
        let rendered = env
            .template_from_str(template)
            .and_then(|t| t.render(&context))
            .map_err(|e| (key.clone(), describe(&e)))?;
        out.insert(key.clone(), rendered);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn doc() -> SecretDocument {
        SecretDocument::from_value(json!({
            "username": "app_b", "password": "p@ss:/?#%w0rd", "host": "db", "port": 5432,
                "dbname": "app"
        }))
        .unwrap()
    }

    #[test]
    fn urlencoded_url_round_trips_the_password() {
        let templates = BTreeMap::from([(
            "DATABASE_URL".to_string(),
            "postgresql://{{ username | urlencode }}:{{ password | urlencode }}@{{ host }}:{{ \
                port }}/{{ dbname }}"
                .to_string(),
        )]);
        let out = render(Some(&templates), &doc()).unwrap();
        let url = url::Url::parse(&out["DATABASE_URL"]).unwrap();
        let password = percent_encoding::percent_decode_str(url.password().unwrap())
            .decode_utf8()
            .unwrap();
        assert_eq!(password, "p@ss:/?#%w0rd");
        assert_eq!(url.port(), Some(5432));
    }

    #[test]
    fn urlencode_encodes_every_reserved_character() {
        assert_eq!(
            urlencode("a/b@c:d?e#f%g h"),
            "a%2Fb%40c%3Ad%3Fe%23f%25g%20h"
        );
        assert_eq!(urlencode("Ünï"), "%C3%9Cn%C3%AF");
    }

    #[test]
    fn a_userlist_line_reads_back_as_the_credential() {
        let weird = SecretDocument::from_value(json!({
            "username": "app_b", "password": "a\"b c\"\""
        }))
        .unwrap();
        let templates = BTreeMap::from([(
            "userlist.txt".to_string(),
            "{{ username | pgbouncer_quote }} {{ password | pgbouncer_quote }}".to_string(),
        )]);
        let out = render(Some(&templates), &weird).unwrap();
        assert_eq!(out["userlist.txt"], "\"app_b\" \"a\"\"b c\"\"\"\"\"");
        assert_eq!(
            crate::pooler::auth_file::entries(&out["userlist.txt"]),
            vec![("app_b".to_string(), "a\"b c\"\"".to_string())]
        );
    }

    #[test]
    fn default_data_is_the_documents_fields() {
        let out = render(None, &doc()).unwrap();
        assert_eq!(out["username"], "app_b");
        assert_eq!(out["port"], "5432");
    }

    #[test]
    fn undefined_variables_are_errors_that_show_no_values() {
        let templates = BTreeMap::from([("x".to_string(), "{{ pasword }}".to_string())]);
        let (key, message) = render(Some(&templates), &doc()).unwrap_err();
        assert_eq!(key, "x");
        assert!(message.contains("undefined"), "{message}");
        assert!(!message.contains("p@ss"), "{message}");
        assert!(check("{{ unclosed").is_err());
        assert!(check("{{ password | urlencode }}").is_ok());
    }
}
