//! The function's environment, read once at cold start. Unset means the
//! safe default: TLS `verify-full`, standby sessions `fail`.

use crate::config::{MembershipPolicy, SessionPolicy, TlsMode};
use std::path::PathBuf;

#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// `SEESAW_DB_TLS`: disable | require | verify-full (default).
    pub tls: TlsMode,
    /// `SEESAW_DB_CA_FILE`: e.g. the RDS CA bundle shipped with the function.
    pub ca_file: Option<PathBuf>,
    /// `SEESAW_USERS`: `app_a,app_b`, an explicit pair for every secret.
    pub users: Option<[String; 2]>,
    /// `SEESAW_STANDBY_SESSIONS`: fail (default) | wait | terminate.
    pub standby_sessions: SessionPolicy,
    /// `SEESAW_MEMBERSHIPS`: check (default) | fix, when the standby's role
    /// memberships differ from the active user's (AWS's `<user>_clone`,
    /// a member of the user, counts as equal).
    pub memberships: MembershipPolicy,
    /// Secrets Manager endpoint (`AWS_ENDPOINT_URL_SECRETS_MANAGER` or
    /// `AWS_ENDPOINT_URL`; a VPC endpoint's DNS name needs none).
    pub endpoint_url: Option<String>,
    /// Where the Secrets Manager client finds its credentials and region:
    /// the function's environment (the runtime's role credentials).
    pub environment: crate::environment::Environment,
}

#[derive(Debug, thiserror::Error)]
#[error("{var}: {message}")]
pub struct SettingsError {
    pub var: &'static str,
    pub message: String,
}

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

fn enum_value<T: serde::de::DeserializeOwned>(
    name: &'static str,
    choices: &str,
) -> Result<Option<T>, SettingsError> {
    let Some(text) = var(name) else {
        return Ok(None);
    };
    serde_json::from_value(serde_json::Value::String(text.trim().to_owned()))
        .map(Some)
        .map_err(|_| SettingsError {
            var: name,
            message: format!("{text:?} is not one of {choices}"),
        })
}

/// `a,b` -> `[a, b]`: two different, non-empty names.
pub fn parse_users(text: &str) -> Result<[String; 2], String> {
    let names: Vec<&str> = text.split(',').map(str::trim).collect();
    match names.as_slice() {
        [a, b] if !a.is_empty() && !b.is_empty() && a != b => Ok([a.to_string(), b.to_string()]),
        _ => Err(format!(
            "expected two different user names separated by a comma (app_a,app_b), got {text:?}"
        )),
    }
}

impl Settings {
    pub fn from_env() -> Result<Settings, SettingsError> {
        Ok(Settings {
            tls: enum_value("SEESAW_DB_TLS", "disable, require, verify-full")?.unwrap_or_default(),
            ca_file: var("SEESAW_DB_CA_FILE").map(PathBuf::from),
            users: var("SEESAW_USERS")
                .map(|u| parse_users(&u))
                .transpose()
                .map_err(|message| SettingsError {
                    var: "SEESAW_USERS",
                    message,
                })?,
            standby_sessions: enum_value("SEESAW_STANDBY_SESSIONS", "fail, wait, terminate")?
                .unwrap_or_default(),
            memberships: enum_value("SEESAW_MEMBERSHIPS", "check, fix")?.unwrap_or_default(),
            endpoint_url: var("AWS_ENDPOINT_URL_SECRETS_MANAGER")
                .or_else(|| var("AWS_ENDPOINT_URL")),
            environment: crate::environment::Environment::process(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users_need_two_different_names() {
        assert_eq!(
            parse_users("a, b").unwrap(),
            ["a".to_string(), "b".to_string()]
        );
        assert!(parse_users("a").is_err());
        assert!(parse_users("a,a").is_err());
        assert!(parse_users("a,,b").is_err());
    }

    #[test]
    fn defaults_are_safe() {
        let s = Settings::default();
        assert_eq!(s.tls, TlsMode::VerifyFull);
        assert_eq!(s.standby_sessions, SessionPolicy::Fail);
    }
}
