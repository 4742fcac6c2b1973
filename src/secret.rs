//! Secret values: a login credential and the secret document published to stores.
//!
//! Both print `<redacted>` in place of the password in `Debug`, and the
//! document zeroizes its password when dropped, so a stray `{:?}` in a log
//! line or an error cannot leak a credential.

use secrecy::{ExposeSecret, SecretString};
use serde_json::{Map, Value};
use std::fmt;
use zeroize::Zeroize;

/// A database login: a role name and its password.
#[derive(Clone)]
pub struct Credential {
    pub username: String,
    pub password: SecretString,
}

impl Credential {
    pub fn new(username: impl Into<String>, password: SecretString) -> Self {
        Credential {
            username: username.into(),
            password,
        }
    }
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credential")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// What is wrong with a secret document, named by field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DocumentError {
    #[error("the secret document is not a JSON object")]
    NotAnObject,
    #[error("the secret document has no `{0}` field")]
    Missing(&'static str),
    #[error("the secret document's `{field}` field must be {expected}")]
    WrongType {
        field: &'static str,
        expected: &'static str,
    },
}

/// The JSON secret document, compatible with the AWS RDS secret shape:
/// `{"engine","host","port","dbname","username","password", ...}`.
///
/// Fields seesaw does not know are kept as they are on every write, because
/// other tools (External Secrets templates, AWS's own rotation functions)
/// read them.
#[derive(Clone, PartialEq)]
pub struct SecretDocument {
    fields: Map<String, Value>,
}

impl SecretDocument {
    /// Accepts any JSON object; fields are checked when they are read, so
    /// a document can be loaded (and reported on) before it is validated.
    pub fn from_value(value: Value) -> Result<Self, DocumentError> {
        match value {
            Value::Object(fields) => Ok(SecretDocument { fields }),
            _ => Err(DocumentError::NotAnObject),
        }
    }

    /// A stored version's text as a document: what a store read. The
    /// problem names the position or the field, never the text (which is
    /// the secret).
    pub fn parse(text: &[u8]) -> Result<Self, String> {
        let value = serde_json::from_slice(text).map_err(|e| {
            format!(
                "is not a JSON secret document: it {}",
                crate::reason::json(&e)
            )
        })?;
        SecretDocument::from_value(value).map_err(|problem| problem.to_string())
    }

    pub fn to_value(&self) -> Value {
        Value::Object(self.fields.clone())
    }

    pub fn username(&self) -> Result<&str, DocumentError> {
        match self.fields.get("username") {
            None | Some(Value::Null) => Err(DocumentError::Missing("username")),
            Some(Value::String(s)) if !s.is_empty() => Ok(s),
            Some(_) => Err(DocumentError::WrongType {
                field: "username",
                expected: "a non-empty string",
            }),
        }
    }

    pub fn password(&self) -> Result<SecretString, DocumentError> {
        match self.fields.get("password") {
            None | Some(Value::Null) => Err(DocumentError::Missing("password")),
            Some(Value::String(s)) => Ok(SecretString::from(s.as_str())),
            Some(_) => Err(DocumentError::WrongType {
                field: "password",
                expected: "a string",
            }),
        }
    }

    /// The login this document carries; fails on a missing or mistyped field.
    pub fn credential(&self) -> Result<Credential, DocumentError> {
        Ok(Credential::new(self.username()?, self.password()?))
    }

    pub fn get(&self, field: &str) -> Option<&Value> {
        self.fields.get(field)
    }

    /// A copy with a new login, every other field kept.
    pub fn with_credential(&self, credential: &Credential) -> SecretDocument {
        let mut next = self.clone();
        next.fields.insert(
            "username".into(),
            Value::String(credential.username.clone()),
        );
        next.fields.insert(
            "password".into(),
            Value::String(credential.password.expose_secret().to_owned()),
        );
        next
    }

    /// Sets `field` only where the document has no value for it, so the
    /// connection details an application already reads are never changed.
    pub fn fill_missing(&mut self, field: &str, value: Value) {
        match self.fields.get(field) {
            None | Some(Value::Null) => {
                self.fields.insert(field.to_owned(), value);
            }
            Some(_) => {}
        }
    }

    /// The fields of `other`, besides the login, that this document lacks
    /// or holds with another value (by name, never by value).
    pub fn differs_from_besides_login(&self, other: &SecretDocument) -> Vec<String> {
        other
            .fields
            .iter()
            .filter(|(k, _)| *k != "username" && *k != "password")
            .filter(|(k, v)| self.fields.get(*k) != Some(*v))
            .map(|(k, _)| k.clone())
            .collect()
    }

    pub fn field_names(&self) -> impl Iterator<Item = &str> {
        self.fields.keys().map(String::as_str)
    }
}

impl Drop for SecretDocument {
    fn drop(&mut self) {
        if let Some(Value::String(p)) = self.fields.get_mut("password") {
            p.zeroize();
        }
    }
}

impl fmt::Debug for SecretDocument {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut map = f.debug_map();
        for (k, v) in &self.fields {
            if k == "password" || k.contains("secret") || k.contains("token") {
                map.entry(k, &"<redacted>");
            } else {
                map.entry(k, v);
            }
        }
        map.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn debug_never_shows_the_password() {
        let doc = SecretDocument::from_value(json!({"username": "a", "password": "hunter2-xyz"}))
            .unwrap();
        let cred = doc.credential().unwrap();
        assert!(!format!("{doc:?}").contains("hunter2-xyz"));
        assert!(!format!("{cred:?}").contains("hunter2-xyz"));
        assert!(format!("{doc:?}").contains("<redacted>"));
    }

    #[test]
    fn with_credential_keeps_unknown_fields() {
        let doc = SecretDocument::from_value(
            json!({"username": "a", "password": "x", "host": "db", "custom": {"k": 1}}),
        )
        .unwrap();
        let next = doc.with_credential(&Credential::new("b", SecretString::from("y")));
        assert_eq!(next.username().unwrap(), "b");
        assert_eq!(next.get("custom"), Some(&json!({"k": 1})));
        assert_eq!(next.get("host"), Some(&json!("db")));
    }

    #[test]
    fn missing_and_mistyped_fields_are_named() {
        let doc = SecretDocument::from_value(json!({"password": "x"})).unwrap();
        assert_eq!(doc.username(), Err(DocumentError::Missing("username")));
        let doc = SecretDocument::from_value(json!({"username": 5, "password": "x"})).unwrap();
        assert!(doc
            .username()
            .unwrap_err()
            .to_string()
            .contains("`username`"));
        assert!(SecretDocument::from_value(json!([1])).is_err());
    }
}
