//! Who sets the standby's password: an admin login, or the standby itself
//! (`admin: self`).

use super::*;

/// Who runs `ALTER ROLE`: a dedicated admin login, or `self` (the standby
/// changes its own password with the one kept in the store's previous version).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdminConfig {
    Itself,
    Login(AdminLogin),
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminLogin {
    pub username: String,
    #[serde(default)]
    pub password_env: Option<String>,
    #[serde(default)]
    pub password_file: Option<PathBuf>,
}

impl AdminLogin {
    /// Exactly one place to read the password from.
    pub fn validate(&self) -> Result<(), String> {
        match (&self.password_env, &self.password_file) {
            (Some(_), None) | (None, Some(_)) => Ok(()),
            _ => Err("expected exactly one of `password_env` or `password_file`".into()),
        }
    }

    /// Reads the password (`what`, e.g. "the admin password") from where
    /// the config says, `password_env` from `env`; the error is (key under
    /// the login, message).
    pub fn read(
        &self,
        what: &str,
        env: &crate::environment::Environment,
    ) -> Result<crate::secret::Credential, (&'static str, String)> {
        let password = if let Some(var) = &self.password_env {
            match env.get(var) {
                Some(v) if !v.is_empty() => v,
                _ => {
                    return Err((
                        "password_env",
                        format!(
                            "environment variable {var} is not set or empty; export {what} in it"
                        ),
                    ))
                }
            }
        } else if let Some(path) = &self.password_file {
            let text = std::fs::read_to_string(path).map_err(|e| {
                (
                    "password_file",
                    format!("cannot read {}: {e}", path.display()),
                )
            })?;
            let trimmed = text.trim_end_matches(['\n', '\r']).to_owned();
            if trimmed.is_empty() {
                return Err(("password_file", format!("{} is empty", path.display())));
            }
            trimmed
        } else {
            return Err(("", "expected `password_env` or `password_file`".into()));
        };
        Ok(crate::secret::Credential::new(
            self.username.clone(),
            secrecy::SecretString::from(password),
        ))
    }
}

impl<'de> Deserialize<'de> for AdminConfig {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct AdminVisitor;
        impl<'de> Visitor<'de> for AdminVisitor {
            type Value = AdminConfig;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("`self` or a map with `username` and `password_env` or `password_file`")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<AdminConfig, E> {
                if v == "self" {
                    Ok(AdminConfig::Itself)
                } else {
                    Err(E::custom(format!(
                        "expected `self` or a map with `username` and `password_env` or \
                            `password_file`, got `{v}`"
                    )))
                }
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<AdminConfig, A::Error> {
                AdminLogin::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(AdminConfig::Login)
            }
        }
        d.deserialize_any(AdminVisitor)
    }
}
