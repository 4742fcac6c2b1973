//! The target a secret describes: its name (keys the advisory lock), the
//! pair of users, who is active, and the engine's config built from the
//! secret's fields and the environment.

use super::error::LambdaError;
use super::event::Rotation;
use super::settings::Settings;
use crate::config::{Config, MembershipPolicy, SessionPolicy, TlsMode};
use crate::secret::SecretDocument;
use serde_json::{json, Value};

/// Characters AWS's own rotation templates exclude for RDS: they break
/// connection strings and shells.
const EXCLUDE: &str = "/@\"'\\`";

/// A target name (letters, digits, `-`, `_`, `.`; at most 63) for a secret
/// id or ARN: its readable tail and a digest of the whole, so two secrets
/// never share a name (it keys the advisory lock).
fn target_name(secret_id: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(secret_id.as_bytes());
    let tail: String = secret_id
        .rsplit(':')
        .next()
        .unwrap_or(secret_id)
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '-'
            }
        })
        .collect();
    let tail: String = tail
        .chars()
        .rev()
        .take(50)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    format!(
        "{tail}-{:02x}{:02x}{:02x}{:02x}",
        digest[0], digest[1], digest[2], digest[3]
    )
}

/// The target a secret describes: the pair, who is active, and a config
/// for the engine built from the secret's fields and the environment (so
/// it goes through the same validation as a config file).
pub(super) struct Target {
    pub config: Config,
    pub active: String,
    pub standby: String,
    /// The pair is `<user>` / `<user>_clone`, not given explicitly.
    pub clone_convention: bool,
}

impl Target {
    pub fn from_document(
        rotation: &Rotation,
        settings: &Settings,
        document: &SecretDocument,
    ) -> Result<Target, LambdaError> {
        let fail = |message: String| {
            LambdaError::fatal(
                rotation.step.as_str(),
                &rotation.secret_id,
                "malformed",
                message,
            )
        };
        let active = document
            .username()
            .map_err(|e| fail(format!("the current version: {e}")))?
            .to_owned();
        let engine = match document
            .get("engine")
            .and_then(Value::as_str)
            .unwrap_or("postgres")
        {
            "postgres" | "postgresql" | "aurora-postgresql" => crate::config::Engine::Postgres,
            "mariadb" => crate::config::Engine::Mariadb,
            "mysql" | "aurora-mysql" => crate::config::Engine::Mysql,
            other => {
                return Err(fail(format!(
                    "engine {other:?} is not supported; seesaw rotates postgres and mariadb"
                )))
            }
        };
        let master = document.get("masterarn").is_some();
        if engine != crate::config::Engine::Postgres && !master {
            return Err(fail(format!(
                "a {} secret needs \"masterarn\" (the ARN of a secret holding an admin with \
                    CREATE USER, PROCESS and SELECT on mysql.*): seesaw does not rotate {} \
                        accounts as themselves",
                engine.name(),
                engine.name()
            )));
        }
        let host = document
            .get("host")
            .and_then(Value::as_str)
            .ok_or_else(|| fail("the secret has no \"host\"".into()))?;
        let port = match document.get("port") {
            None => u64::from(engine.default_port()),
            Some(Value::Number(n)) => n.as_u64().unwrap_or(0),
            Some(Value::String(s)) => s.parse().unwrap_or(0),
            Some(_) => 0,
        };
        if port == 0 || port > 65535 {
            return Err(fail("\"port\" is not a TCP port".into()));
        }
        let dbname = document
            .get("dbname")
            .and_then(Value::as_str)
            .unwrap_or(match engine {
                crate::config::Engine::Postgres => "postgres",
                _ => "mysql",
            });
        let explicit = match document.get("seesaw").and_then(|s| s.get("users")) {
            Some(Value::Array(names)) => {
                let names: Vec<&str> = names.iter().filter_map(Value::as_str).collect();
                match names.as_slice() {
                    [a, b] if a != b && !a.is_empty() && !b.is_empty() => {
                        Some([a.to_string(), b.to_string()])
                    }
                    _ => {
                        return Err(fail(
                            "\"seesaw\": {\"users\": [...]} must name two different users".into(),
                        ))
                    }
                }
            }
            Some(_) => return Err(fail("\"seesaw\": {\"users\": [...]} must be a list".into())),
            None => settings.users.clone(),
        };
        let clone_convention = explicit.is_none();
        let users = explicit.unwrap_or_else(|| {
            let base = active.strip_suffix("_clone").unwrap_or(&active);
            [base.to_owned(), format!("{base}_clone")]
        });
        if !users.contains(&active) {
            return Err(fail(format!(
                "the current user {active:?} is not one of the pair {users:?}"
            )));
        }
        let standby = crate::rotation::standby_of(&users, &active).to_owned();
        let tls = match settings.tls {
            TlsMode::Disable => "disable",
            TlsMode::Require => "require",
            TlsMode::VerifyFull => "verify-full",
        };
        let sessions = match settings.standby_sessions {
            SessionPolicy::Fail => "fail",
            SessionPolicy::Wait => "wait",
            SessionPolicy::Terminate => "terminate",
        };
        let memberships = match settings.memberships {
            MembershipPolicy::Check => "check",
            MembershipPolicy::Fix => "fix",
        };
        // The master credential, when there is one, is handed to the engine
        // directly; the config's admin only shapes messages and validation
        // (which refuses `self` where an engine cannot rotate that way).
        let admin = if master {
            json!({"username": "masterarn", "password_env": "SEESAW_LAMBDA_MASTER_UNUSED"})
        } else {
            json!("self")
        };
        let mut database = json!({
            "engine": engine.name(),
            "host": host,
            "port": port,
            "dbname": dbname,
            "tls": tls,
            "users": users,
            "admin": admin,
            "standby_sessions": sessions,
            "memberships": memberships,
        });
        if let Some(ca) = &settings.ca_file {
            database["ca_file"] = json!(ca);
        }
        let text = json!({
            "targets": [{
                "name": target_name(&rotation.secret_id),
                "database": database,
                "password": {"exclude": EXCLUDE},
                "store": {"aws": {"secret_id": rotation.secret_id}},
            }]
        })
        .to_string();
        let config = Config::parse(&text, "the secret", std::path::Path::new("/"))
            .map_err(|e| fail(e.to_string()))?;
        Ok(Target {
            config,
            active,
            standby,
            clone_convention,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::event::Step;
    use super::*;
    use secrecy::ExposeSecret;

    fn rotation() -> Rotation {
        Rotation {
            step: Step::CreateSecret,
            secret_id: "arn:aws:secretsmanager:eu-west-1:1:secret:app-AbCdEf".into(),
            token: "0".repeat(32),
        }
    }

    fn doc(v: Value) -> SecretDocument {
        SecretDocument::from_value(v).unwrap()
    }

    #[test]
    fn the_clone_convention_and_an_explicit_pair() {
        let s = Settings::default();
        let t = Target::from_document(
            &rotation(),
            &s,
            &doc(json!({"username": "app", "password": "x", "host": "db"})),
        )
        .unwrap();
        assert_eq!(
            (t.active.as_str(), t.standby.as_str(), t.clone_convention),
            ("app", "app_clone", true)
        );
        let t = Target::from_document(
            &rotation(),
            &s,
            &doc(json!({"username": "app_clone", "password": "x", "host": "db"})),
        )
        .unwrap();
        assert_eq!(t.standby, "app");
        let t = Target::from_document(
            &rotation(),
            &s,
            &doc(json!({"username": "b", "password": "x",
            "host": "db", "seesaw": {"users": ["a", "b"]}})),
        )
        .unwrap();
        assert_eq!((t.standby.as_str(), t.clone_convention), ("a", false));
        assert_eq!(t.config.targets[0].database.tls, TlsMode::VerifyFull);
    }

    #[test]
    fn bad_secrets_are_named() {
        let s = Settings::default();
        for (v, says) in [
            (
                json!({"username": "c", "password": "x", "host": "db", "seesaw": {"users": ["a",
                    "b"]}}),
                "not one of the pair",
            ),
            (json!({"username": "a", "password": "x"}), "no \"host\""),
            (
                json!({"username": "a", "password": "x", "host": "db", "engine": "oracle"}),
                "not supported",
            ),
            (
                json!({"username": "a", "password": "x", "host": "db", "engine": "mariadb"}),
                "needs \"masterarn\"",
            ),
            (
                json!({"username": "a", "password": "x", "host": "db", "port": "http"}),
                "not a TCP port",
            ),
        ] {
            let e = Target::from_document(&rotation(), &s, &doc(v))
                .err()
                .unwrap();
            assert!(e.to_string().contains(says), "{e}");
            assert!(!e.to_string().contains("\"x\""));
        }
    }

    #[test]
    fn the_pending_password_is_generated_without_excluded_characters() {
        let t = Target::from_document(
            &rotation(),
            &Settings::default(),
            &doc(json!({"username": "a", "password": "x", "host": "db"})),
        )
        .unwrap();
        let p = t.config.targets[0].password.generate();
        assert!(!p.expose_secret().chars().any(|c| EXCLUDE.contains(c)));
    }
}
