//! The [`SecretStore`] protocol on Key Vault versions and tags.

use super::calls::{status_of, tag, version_id};
use super::{AzureStore, Listed, GET, SET, TAG_REPLACES, TAG_USER, TAG_VERSION};
use crate::store::companion::{self, Companion, WithCompanion};
use crate::store::{PublishRequest, SecretStore, StoreError, StoreState, Versioned};
use async_trait::async_trait;
use azure_security_keyvault_secrets::models::SetSecretParameters;
use std::collections::HashMap;

#[async_trait]
impl SecretStore for AzureStore {
    fn describe(&self) -> String {
        self.name()
    }

    async fn read(&self) -> Result<StoreState, StoreError> {
        let (current, secret) = self.get(None).await?;
        let published_at = secret
            .attributes
            .as_ref()
            .and_then(|a| a.created)
            .and_then(|t| chrono::DateTime::from_timestamp(t.unix_timestamp(), 0));
        let previous_id = match tag(&secret, TAG_REPLACES) {
            Some(id) => Some(id.to_owned()),
            None => {
                // Adopted: the enabled version created just before current.
                let created = published_at.map(|t| t.timestamp()).unwrap_or(i64::MAX);
                let mut older: Vec<Listed> = self
                    .versions()
                    .await?
                    .into_iter()
                    .filter(|v| v.enabled && v.id != current.version && v.created <= created)
                    .collect();
                older.sort_by_key(|v| v.created);
                older.pop().map(|v| v.id)
            }
        };
        let previous = match previous_id {
            Some(id) => Some(self.get(Some(&id)).await?.0),
            None => None,
        };
        companion::state(self, current, previous, published_at).await
    }

    async fn stage(&self, request: PublishRequest<'_>) -> Result<String, StoreError> {
        companion::stage(self, request).await
    }

    async fn promote(&self, pending: &str, replaces: &str) -> Result<String, StoreError> {
        companion::promote(self, pending, replaces).await
    }

    fn clear_pending_hint(&self, _version: &str) -> String {
        self.clear_hint()
    }
}

#[async_trait]
impl WithCompanion for AzureStore {
    fn name(&self) -> String {
        AzureStore::name(self)
    }

    async fn current(&self) -> Result<Versioned, StoreError> {
        Ok(self.get(None).await?.0)
    }

    async fn current_version(&self) -> Result<String, StoreError> {
        // The value comes with the id in one call.
        Ok(self.get(None).await?.0.version)
    }

    async fn add(&self, request: PublishRequest<'_>) -> Result<String, StoreError> {
        self.add_version(request).await
    }

    async fn companion(&self) -> Result<Option<Companion>, StoreError> {
        let got = self.client.get_secret(&self.companion, None).await;
        let secret = match got {
            Ok(r) => r.into_model().map_err(|e| self.error(GET, e))?,
            Err(e) if status_of(&e) == Some(404) => return Ok(None),
            Err(e) => return Err(self.error(GET, e)),
        };
        let text = secret.value.as_deref().unwrap_or_default();
        if text.is_empty() {
            return Ok(None);
        }
        Companion::decode(text)
            .map(Some)
            .map_err(|problem| StoreError::Malformed {
                store: self.name(),
                // Unreadable, it blocks every rotation: say how to clear it.
                problem: format!(
                    "the pending secret {}: {problem}. {}",
                    self.companion,
                    self.clear_hint()
                ),
            })
    }

    async fn set_companion(&self, companion: &Companion) -> Result<(), StoreError> {
        let parameters = SetSecretParameters {
            value: Some(companion.encode()),
            content_type: Some("application/json".into()),
            ..Default::default()
        };
        let body = parameters.try_into().map_err(|e| self.error(SET, e))?;
        self.client
            .set_secret(&self.companion, body, None)
            .await
            .map_err(|e| self.error(SET, e))?;
        Ok(())
    }

    fn clear_hint(&self) -> String {
        let vault = self
            .vault
            .trim_start_matches("https://")
            .split('.')
            .next()
            .unwrap_or_default();
        format!(
            "If no rotation is running, clear it: az keyvault secret set --vault-name {vault} \
                --name {} --value '{{\"pending\": null}}'",
            self.companion
        )
    }
}

impl AzureStore {
    /// Sets `request.document` as the newest version, with the
    /// compare-and-swap described at the top.
    async fn add_version(&self, request: PublishRequest<'_>) -> Result<String, StoreError> {
        let (current, secret) = self.get(None).await?;
        if tag(&secret, TAG_VERSION) == Some(request.token) {
            return Ok(current.version); // a retry of a publish that landed
        }
        if current.version != request.replaces {
            return Err(StoreError::Conflict {
                store: self.name(),
                expected: request.replaces.into(),
                found: current.version,
            });
        }
        let replaced_at = secret
            .attributes
            .as_ref()
            .and_then(|a| a.created)
            .map(|t| t.unix_timestamp())
            .unwrap_or(0);
        let value = serde_json::to_string(&request.document.to_value()).map_err(|e| {
            StoreError::Malformed {
                store: self.name(),
                problem: format!("cannot encode the document: it {}", crate::reason::json(&e)),
            }
        })?;
        let mut tags = HashMap::from([
            (TAG_VERSION.to_owned(), request.token.to_owned()),
            (TAG_REPLACES.to_owned(), request.replaces.to_owned()),
        ]);
        if let Ok(user) = request.document.username() {
            tags.insert(TAG_USER.to_owned(), user.to_owned());
        }
        let parameters = SetSecretParameters {
            value: Some(value),
            content_type: Some("application/json".into()),
            tags: Some(tags),
            ..Default::default()
        };
        let body = parameters.try_into().map_err(|e| self.error(SET, e))?;
        let set = self
            .client
            .set_secret(&self.secret, body, None)
            .await
            .map_err(|e| self.error(SET, e))?
            .into_model()
            .map_err(|e| self.error(SET, e))?;
        let ours = set
            .id
            .as_deref()
            .map(version_id)
            .unwrap_or_default()
            .to_owned();
        // The second half of the compare-and-swap: nobody slipped in.
        let (latest, _) = self.get(None).await?;
        if latest.version != ours {
            return Err(StoreError::Conflict {
                store: self.name(),
                expected: ours,
                found: format!(
                    "{} (set by another writer right after ours)",
                    latest.version
                ),
            });
        }
        let others: Vec<String> = self
            .versions()
            .await?
            .into_iter()
            .filter(|v| v.id != ours && v.id != request.replaces && v.created > replaced_at)
            .map(|v| v.id)
            .collect();
        if let Some(other) = others.first() {
            return Err(StoreError::Conflict {
                store: self.name(),
                expected: request.replaces.into(),
                found: format!("{other} (set beside ours, version {ours})"),
            });
        }
        Ok(ours)
    }
}
