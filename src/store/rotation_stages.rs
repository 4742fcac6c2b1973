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
//! store through its pending version: a version id the store does not hold
//! is a new rotation's, the pending version is its value, finish is
//! promote. The companion stores (GCP, Azure) keep the caller's token as
//! the pending version's id, and after promote too, so all four calls name
//! it; the file store (the default methods below, over [`SecretStore`]'s
//! read, stage and promote) names versions by their content, so its later
//! calls name the id [`RotationStages::create_pending`] returned.

#[cfg(any(feature = "gcp", feature = "azure"))]
use super::companion::{self, WithCompanion};
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

// The file store: its pending version, through the default methods. Its
// versions are named by their content, so the later calls name the id
// `create_pending` returned; a createSecret retried under the caller's
// token is refused (PendingExists, nothing overwritten), and finish swaps
// against the version current when it runs, as AWS's finishSecret does.
impl RotationStages for super::FileStore {}

// The companion stores keep the caller's token as the pending version's id
// and keep it after promote, so every call names the token: a retried step
// is recognised, a finished rotation is `Current`, and finish swaps
// against the version the pending one was staged on.
#[cfg(feature = "gcp")]
#[async_trait]
impl RotationStages for super::GcpStore {
    async fn version_state(&self, version: &str, _: Reads) -> Result<VersionState, StoreError> {
        companion_state(self, version).await
    }

    async fn finish(&self, version: &str) -> Result<(), StoreError> {
        companion_finish(self, version).await
    }
}

#[cfg(feature = "azure")]
#[async_trait]
impl RotationStages for super::AzureStore {
    async fn version_state(&self, version: &str, _: Reads) -> Result<VersionState, StoreError> {
        companion_state(self, version).await
    }

    async fn finish(&self, version: &str) -> Result<(), StoreError> {
        companion_finish(self, version).await
    }
}

#[cfg(any(feature = "gcp", feature = "azure"))]
async fn companion_state(
    store: &dyn WithCompanion,
    version: &str,
) -> Result<VersionState, StoreError> {
    let Some(companion) = store.companion().await?.filter(|c| c.token == version) else {
        // Not the companion's rotation: a new one's version (staging it
        // is refused while another one is pending).
        return Ok(VersionState::Pending(None));
    };
    let current = store.current().await?;
    Ok(match companion.pending {
        // Promoted (the companion cleared, or not yet): finished.
        None => VersionState::Current,
        Some(document) if document == current.document => VersionState::Current,
        Some(document) => VersionState::Pending(Some(Versioned {
            version: companion.token,
            document,
        })),
    })
}

#[cfg(any(feature = "gcp", feature = "azure"))]
async fn companion_finish(store: &dyn WithCompanion, version: &str) -> Result<(), StoreError> {
    let replaces = store
        .companion()
        .await?
        .filter(|c| c.token == version)
        .map(|c| c.replaces)
        .unwrap_or_default();
    // Refused with Conflict if the current version is no longer the one
    // the pending version was staged on (another writer came between).
    companion::promote(store, version, &replaces)
        .await
        .map(drop)
}
