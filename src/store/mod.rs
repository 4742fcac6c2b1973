//! Secret stores: where the current credential is published.
//!
//! The protocol needs four things of a store: read the current version (and
//! the one before it, and a pending one), *stage* a new credential as
//! pending before the database changes, *promote* the pending version to
//! current with compare-and-swap on the version it replaces, and say how a
//! person clears a pending version seesaw cannot explain. Each backend
//! implements [`SecretStore`]; [`open`] turns a config entry into a boxed
//! store. [`RotationStages`] is the same protocol driven one step per call
//! under the caller's version id (the Lambda's four events): AWS keeps it
//! natively, every other store through its pending version.
//!
//! Why pending: the new password must be durable before `ALTER ROLE`, so a
//! run that dies after changing the standby can be finished by the next run
//! with exactly that password (nothing is lost), and a store that cannot be
//! written is found out before the database is touched. AWS's `AWSPENDING`
//! stage is the model; docs/protocol.md says how each store keeps it.

#[cfg(feature = "aws")]
mod aws;
#[cfg(feature = "azure")]
mod azure;
mod bounded;
#[cfg(any(feature = "gcp", feature = "azure"))]
mod companion;
mod file;
#[cfg(feature = "gcp")]
mod gcp;
mod open;
mod rotation_stages;

#[cfg(feature = "aws")]
pub use aws::AwsStore;
#[cfg(feature = "azure")]
pub use azure::AzureStore;
pub use file::FileStore;
#[cfg(feature = "gcp")]
pub use gcp::GcpStore;
pub use open::open;
pub use rotation_stages::{Reads, RotationStages, VersionState};

use crate::secret::SecretDocument;
use async_trait::async_trait;

/// One version of the secret document, with the store's id for it.
#[derive(Debug, Clone)]
pub struct Versioned {
    pub version: String,
    pub document: SecretDocument,
}

/// What the store holds now: the current version and, once a rotation has
/// happened, the version it replaced (whose user still has its password).
#[derive(Debug, Clone)]
pub struct StoreState {
    pub current: Versioned,
    /// Always `None` from [`SecretStore::read_latest`].
    pub previous: Option<Versioned>,
    /// A credential staged by a rotation that has not been promoted yet
    /// (the run is in progress, or died): the next run resumes it.
    pub pending: Option<Versioned>,
    /// When the current version was published, where the store knows
    /// (`min_interval` is measured from it).
    pub published_at: Option<chrono::DateTime<chrono::Utc>>,
}

#[derive(Debug, Clone, Copy)]
pub struct PublishRequest<'a> {
    pub document: &'a SecretDocument,
    /// The current version this publish replaces. If the store's current
    /// version is something else, the publish fails with
    /// [`StoreError::Conflict`] instead of overwriting another writer.
    pub replaces: &'a str,
    /// Stable for one rotation, so a retried publish is recognised and
    /// does not create a second version (stores with request tokens use it).
    pub token: &'a str,
}

#[async_trait]
pub trait SecretStore: Send + Sync {
    /// "file store /etc/seesaw/demo.json": names the store in messages.
    fn describe(&self) -> String;
    async fn read(&self) -> Result<StoreState, StoreError>;
    /// `read` without the previous version (`previous` is `None`), for a
    /// rotation with an admin login, which never needs it. Stores where
    /// the previous version costs a call of its own skip that call.
    async fn read_latest(&self) -> Result<StoreState, StoreError> {
        let state = self.read().await?;
        Ok(StoreState {
            previous: None,
            ..state
        })
    }
    /// Writes `document` as the pending version, if the current version is
    /// still `replaces` and no other version is pending. Returns the
    /// pending version's id. A retry (same token and document) writes
    /// nothing new and returns the same id.
    async fn stage(&self, request: PublishRequest<'_>) -> Result<String, StoreError>;
    /// Makes the pending version `pending` current; the replaced one
    /// becomes the previous. Refused with [`StoreError::Conflict`] unless
    /// the current version is still `replaces`. A retry after it landed
    /// (`pending` is already current) succeeds and changes nothing.
    async fn promote(&self, pending: &str, replaces: &str) -> Result<String, StoreError>;
    /// The exact command (or edit) that removes the pending version
    /// `version`, for a person, when seesaw will not.
    fn clear_pending_hint(&self, version: &str) -> String;
    /// Stage, then promote: the new version replaces the current one.
    async fn publish(&self, request: PublishRequest<'_>) -> Result<String, StoreError> {
        let pending = self.stage(request).await?;
        self.promote(&pending, request.replaces).await
    }
}

/// A store failure. Messages name the store and say what to do; they never
/// hold a secret value.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{store}: not found: {hint}")]
    NotFound { store: String, hint: String },
    #[error("{store}: access denied: {permission} is needed (see {policy})")]
    Denied {
        store: String,
        permission: String,
        policy: String,
    },
    #[error(
        "{store}: the current version is {found}, not {expected} as read before publishing: \
        another writer changed the secret. Nothing was overwritten; run again to continue from \
            the new version"
    )]
    Conflict {
        store: String,
        expected: String,
        found: String,
    },
    #[error("{store}: version {pending} is already pending; seesaw will not overwrite it. {hint}")]
    PendingExists {
        store: String,
        pending: String,
        hint: String,
    },
    #[error("{store}: {problem}")]
    Malformed { store: String, problem: String },
    #[error("{store}: temporarily unavailable ({reason}); retrying later should succeed")]
    Transient { store: String, reason: String },
    #[error("{store}: {message}")]
    Other { store: String, message: String },
}

impl StoreError {
    /// Throttling, timeouts and 5xx: retry with backoff. Everything else
    /// needs a person (or a new read, for a conflict).
    pub fn is_transient(&self) -> bool {
        matches!(self, StoreError::Transient { .. })
    }

    pub fn kind(&self) -> &'static str {
        match self {
            StoreError::NotFound { .. } => "not_found",
            StoreError::Denied { .. } => "denied",
            StoreError::Conflict { .. } => "conflict",
            StoreError::PendingExists { .. } => "pending_exists",
            StoreError::Malformed { .. } => "malformed",
            StoreError::Transient { .. } => "transient",
            StoreError::Other { .. } => "other",
        }
    }
}
