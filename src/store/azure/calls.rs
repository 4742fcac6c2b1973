//! The Key Vault calls the protocol is made of, and their errors.

use super::{AzureStore, Listed, GET, LIST, POLICY};
use crate::secret::SecretDocument;
use crate::store::{StoreError, Versioned};
use azure_security_keyvault_secrets::models::{
    Secret, SecretClientGetSecretOptions, SecretProperties,
};
use futures::StreamExt;

impl AzureStore {
    /// Maps a client error: what failed and what to do, never a value.
    pub(super) fn error(&self, permission: &str, e: azure_core::Error) -> StoreError {
        use azure_core::error::ErrorKind;
        let store = self.name();
        match e.kind() {
            ErrorKind::HttpResponse {
                status, error_code, ..
            } => {
                let status = u16::from(*status);
                // A code only if it is one (an HTML page has none).
                let code = error_code
                    .as_deref()
                    .and_then(crate::reason::code)
                    .filter(|c| c.parse::<u16>().is_err())
                    .unwrap_or_default()
                    .to_owned();
                match status {
                    // Not a permission: the version itself is switched off
                    // (Key Vault's inner code; the outer one is Forbidden).
                    403 if inner_code(&e).as_deref() == Some("SecretDisabled") => {
                        StoreError::Other {
                            store,
                            message: format!(
                                "{permission}: a version seesaw reads is disabled (Key \
                            Vault: SecretDisabled); seesaw reads the newest version and the one \
                                it replaced. Enable it: az keyvault secret set-attributes \
                                    --vault-name <vault> --name {} --version <version> --enabled \
                                        true (az keyvault secret list-versions shows which is \
                                            disabled)",
                                self.secret
                            ),
                        }
                    }
                    404 => StoreError::NotFound {
                        store,
                        hint: format!(
                            "check store.azure.vault_url and store.azure.secret, or \
                            create it with the active user's credential as its value (az \
                                keyvault secret set --vault-name <vault> --name {} --file \
                                    secret.json)",
                            self.secret
                        ),
                    },
                    401 | 403 => StoreError::Denied {
                        store,
                        permission: format!(
                            "{permission} (role Key Vault Secrets Officer on the \
                            secret{})",
                            if code.is_empty() {
                                String::new()
                            } else {
                                format!(
                                    "; \
                                Key Vault said {code}"
                                )
                            }
                        ),
                        policy: POLICY.into(),
                    },
                    429 | 500.. => StoreError::Transient {
                        store,
                        reason: format!("{permission}: HTTP {status} {code}"),
                    },
                    _ if code.is_empty() => StoreError::Other {
                        store,
                        message: format!(
                            "{permission}: unexpected answer HTTP {status} that is \
                            not Key Vault's (its body is not shown: it may hold the secret); \
                                check store.azure.vault_url and any proxy in between"
                        ),
                    },
                    _ => StoreError::Other {
                        store,
                        message: format!("{permission}: HTTP {status} {code}"),
                    },
                }
            }
            ErrorKind::Io => StoreError::Transient {
                store,
                reason: format!(
                    "{permission}: cannot reach Key Vault ({})",
                    crate::reason::transport(&e)
                ),
            },
            ErrorKind::Credential => StoreError::Other {
                store,
                message: format!(
                    "cannot get a token{}; check seesaw's workload identity, \
                    managed identity or `az login`",
                    crate::reason::cause(&e)
                        .map(|c| format!(
                            " \
                        ({c})"
                        ))
                        .unwrap_or_default()
                ),
            },
            // An answer the client could not parse (its body is not
            // repeated: it may be the secret), or a request it could not
            // build.
            kind => StoreError::Other {
                store,
                message: format!(
                    "{permission}: {}; check store.azure.vault_url and any proxy in between",
                    match kind {
                        ErrorKind::DataConversion =>
                            "unexpected answer that is not Key Vault's \
                            (its body is not shown: it may hold the secret)",
                        _ => "the call failed before an answer",
                    }
                ),
            },
        }
    }

    pub(super) async fn get(
        &self,
        version: Option<&str>,
    ) -> Result<(Versioned, Secret), StoreError> {
        let options = SecretClientGetSecretOptions {
            secret_version: version.map(str::to_owned),
            ..Default::default()
        };
        let secret = self
            .client
            .get_secret(&self.secret, Some(options))
            .await
            .map_err(|e| self.error(GET, e))?
            .into_model()
            .map_err(|e| self.error(GET, e))?;
        let id = secret
            .id
            .as_deref()
            .map(version_id)
            .unwrap_or_default()
            .to_owned();
        let malformed = |problem: String| StoreError::Malformed {
            store: self.name(),
            problem: format!("version {id}: {problem}"),
        };
        let text = secret.value.as_deref().unwrap_or_default();
        let document = SecretDocument::parse(text.as_bytes()).map_err(malformed)?;
        Ok((
            Versioned {
                version: id,
                document,
            },
            secret,
        ))
    }

    pub(super) async fn versions(&self) -> Result<Vec<Listed>, StoreError> {
        let mut pager = self
            .client
            .list_secret_properties_versions(&self.secret, None)
            .map_err(|e| self.error(LIST, e))?;
        let mut out = Vec::new();
        while let Some(item) = pager.next().await {
            let item: SecretProperties = item.map_err(|e| self.error(LIST, e))?;
            let attributes = item.attributes.unwrap_or_default();
            out.push(Listed {
                id: item
                    .id
                    .as_deref()
                    .map(version_id)
                    .unwrap_or_default()
                    .to_owned(),
                created: attributes.created.map(|t| t.unix_timestamp()).unwrap_or(0),
                enabled: attributes.enabled.unwrap_or(true),
            });
        }
        Ok(out)
    }
}

/// The HTTP status of a failed call, if it got that far.
pub(super) fn status_of(e: &azure_core::Error) -> Option<u16> {
    match e.kind() {
        azure_core::error::ErrorKind::HttpResponse { status, .. } => Some(u16::from(*status)),
        _ => None,
    }
}

/// `https://v.vault.azure.net/secrets/name/abc123` -> `abc123`
pub(super) fn version_id(id: &str) -> &str {
    id.trim_end_matches('/').rsplit('/').next().unwrap_or(id)
}

pub(super) fn tag<'a>(secret: &'a Secret, key: &str) -> Option<&'a str> {
    secret.tags.as_ref()?.get(key).map(String::as_str)
}

/// The inner error code of a Key Vault error document ("SecretDisabled"),
/// read from the answer's JSON; nothing else of the body is kept.
fn inner_code(e: &azure_core::Error) -> Option<String> {
    let azure_core::error::ErrorKind::HttpResponse {
        raw_response: Some(raw),
        ..
    } = e.kind()
    else {
        return None;
    };
    let answer: azure_core::error::ErrorResponse =
        serde_json::from_slice(raw.body().as_ref()).ok()?;
    let code = answer.error?.inner_error?.code?;
    crate::reason::code(&code).map(str::to_owned)
}
