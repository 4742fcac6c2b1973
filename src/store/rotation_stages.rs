//! A rotation driven from outside, one call per step, under a version id
//! the caller chose: how Secrets Manager drives a rotation function
//! (`createSecret`, `setSecret`, `testSecret`, `finishSecret`, each with the
//! same `ClientRequestToken`). The Lambda's steps (`runtime/lambda/steps.rs`)
//! use only this trait, so they run on any store.
//!
//! Every store implements it. AWS natively (`aws/rotation_stages.rs`):
//! RotateSecret registers the token as a version staged `AWSPENDING` with no
//! value; `createSecret` gives it one; `finishSecret` moves `AWSCURRENT` onto
//! it and, as AWS's own functions do, leaves `AWSPENDING` there. Every other
//! store through its pending version (the default methods below, over
//! [`SecretStore`]'s read, stage and promote): a version id the store does
//! not hold is a new rotation's, the pending version is its value, finish
//! is promote. The companion stores (GCP, Azure) name the pending version
//! by the caller's token, so all four calls name it; the file store names
//! versions by their content, so its later calls name the id
//! [`RotationStages::create_pending`] returned.

use super::{PublishRequest, SecretStore, StoreError, Versioned};
use crate::secret::SecretDocument;
use async_trait::async_trait;

/// Where one version stands.
#[derive(Debug, Clone)]
pub enum VersionState {
    /// The store does not know it (Secrets Manager: RotateSecret did not
    /// register it, so it is no rotation's to act on).
    Unknown,
    /// Known, but neither pending nor current (an older version); the
    /// store's words for where it is.
    Retired(String),
    /// Pending. Its value once created; `None` when it has none yet, or
    /// when the caller asked for [`Reads::Labels`] only.
    Pending(Option<Versioned>),
    /// Current: its rotation finished.
    Current,
}

/// What a step will read after [`RotationStages::version_state`], so a
/// store that can read it at the same time does (AWS: one round trip).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reads {
    /// Where the version stands, not its value (`finishSecret`).
    Labels,
    /// Its value too (`testSecret`).
    Value,
    /// Its value and the current version (`createSecret`, `setSecret`).
    ValueAndCurrent,
}

#[async_trait]
pub trait RotationStages: SecretStore {
    /// Where `version` stands now.
    async fn version_state(&self, version: &str, reads: Reads) -> Result<VersionState, StoreError> {
        let _ = reads;
        let state = self.read().await?;
        Ok(if state.current.version == version {
            VersionState::Current
        } else if state
            .previous
            .as_ref()
            .is_some_and(|p| p.version == version)
        {
            VersionState::Retired("the previous version".into())
        } else {
            // A version the store does not hold is a new rotation's: the
            // pending one, if it is this, or nothing yet.
            VersionState::Pending(state.pending.filter(|p| p.version == version))
        })
    }

    /// The current version.
    async fn current_version(&self) -> Result<Versioned, StoreError> {
        Ok(self.read_latest().await?.current)
    }

    /// Writes `document` as the pending version `version`, if the current
    /// version is still `replaces` and no other version is pending
    /// ([`StoreError::PendingExists`] names it otherwise). Returns the id
    /// the later steps name it by.
    async fn create_pending(
        &self,
        version: &str,
        document: &SecretDocument,
        replaces: &str,
    ) -> Result<String, StoreError> {
        self.stage(PublishRequest {
            document,
            replaces,
            token: version,
        })
        .await
    }

    /// Makes the pending version `version` current, replacing the version
    /// current now (compare-and-swap on it, as [`SecretStore::promote`]).
    async fn finish(&self, version: &str) -> Result<(), StoreError> {
        let current = self.read_latest().await?.current.version;
        self.promote(version, &current).await.map(|_| ())
    }
}

// Every other store: its pending version, through the default methods.
impl RotationStages for super::FileStore {}
#[cfg(feature = "gcp")]
impl RotationStages for super::GcpStore {}
#[cfg(feature = "azure")]
impl RotationStages for super::AzureStore {}
