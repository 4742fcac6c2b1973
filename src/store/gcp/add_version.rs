//! Adding a GCP secret version with the two-half compare-and-swap that
//! `gcp.rs` describes at its top: the only write to the secret itself.

use super::{number, version_id, GcpStore, ADD};
use crate::store::{PublishRequest, StoreError};
use google_cloud_secretmanager_v1::model::SecretPayload;

impl GcpStore {
    /// Adds `request.document` as the newest version, with the
    /// compare-and-swap described at the top of `gcp.rs`.
    pub(super) async fn add_version(
        &self,
        request: PublishRequest<'_>,
    ) -> Result<String, StoreError> {
        let versions = self.enabled().await?;
        let newest = versions.first().ok_or_else(|| self.empty())?;
        let current = version_id(&newest.name).to_owned();
        if current != request.replaces {
            // A retry of a publish that landed shows its document on top.
            if self.access(newest).await?.document == *request.document {
                return Ok(current);
            }
            return Err(StoreError::Conflict {
                store: self.name(),
                expected: request.replaces.into(),
                found: current,
            });
        }
        let body = serde_json::to_vec(&request.document.to_value()).map_err(|e| {
            StoreError::Malformed {
                store: self.name(),
                problem: format!("cannot encode the document: it {}", crate::reason::json(&e)),
            }
        })?;
        let added = self
            .client
            .add_secret_version()
            .set_parent(&self.secret)
            .set_payload(SecretPayload::new().set_data(body))
            .send()
            .await
            .map_err(|e| self.error(ADD, e))?;
        let ours = number(&added.name);
        // The second half of the compare-and-swap: nobody slipped in.
        let after = self.enabled().await?;
        let below = after
            .iter()
            .map(|v| number(&v.name))
            .find(|n| *n < ours)
            .map(|n| n.to_string())
            .unwrap_or_default();
        let newest = after.first().map(|v| number(&v.name)).unwrap_or_default();
        if newest != ours {
            return Err(StoreError::Conflict {
                store: self.name(),
                expected: ours.to_string(),
                found: format!("{newest} (added by another writer right after ours)"),
            });
        }
        if below != request.replaces {
            return Err(StoreError::Conflict {
                store: self.name(),
                expected: request.replaces.into(),
                found: format!("{below} (added beside ours, version {ours})"),
            });
        }
        Ok(ours.to_string())
    }
}
