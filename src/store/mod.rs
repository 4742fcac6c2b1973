//! Secret stores: where the current credential is published.
//!
//! The protocol needs three things of a store: read the current version (and
//! the one before it), and publish a new current version with
//! compare-and-swap on the version it replaces. Each backend implements
//! [`SecretStore`]; [`open`] turns a config entry into a boxed store.

#[cfg(feature = "aws")]
mod aws;
#[cfg(feature = "azure")]
mod azure;
mod file;
#[cfg(feature = "gcp")]
mod gcp;

#[cfg(feature = "aws")]
pub use aws::AwsStore;
#[cfg(feature = "azure")]
pub use azure::AzureStore;
pub use file::FileStore;
#[cfg(feature = "gcp")]
pub use gcp::GcpStore;

use crate::config::StoreConfig;
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
    pub previous: Option<Versioned>,
    /// When the current version was published, where the store knows
    /// (the daemon's `min_interval` guard uses it).
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
    /// Makes `document` the current version; the replaced one becomes the
    /// previous. Returns the new version's id. Publishing a document equal
    /// to the current one (a retry) returns the current version unchanged.
    async fn publish(&self, request: PublishRequest<'_>) -> Result<String, StoreError>;
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
    #[error("{store}: the current version is {found}, not {expected} as read before publishing: another writer changed the secret. Nothing was overwritten; run again to continue from the new version")]
    Conflict {
        store: String,
        expected: String,
        found: String,
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
            StoreError::Malformed { .. } => "malformed",
            StoreError::Transient { .. } => "transient",
            StoreError::Other { .. } => "other",
        }
    }
}

/// Builds the store a target's config names. Fails for a store this build
/// does not include, or a cloud client that cannot find credentials.
pub async fn open(config: &StoreConfig) -> Result<Box<dyn SecretStore>, StoreError> {
    match config {
        StoreConfig::File(f) => Ok(Box::new(FileStore::new(f.path.clone()))),
        #[cfg(feature = "aws")]
        StoreConfig::Aws(a) => Ok(Box::new(AwsStore::connect(a).await)),
        #[cfg(feature = "gcp")]
        StoreConfig::Gcp(g) => Ok(Box::new(GcpStore::connect(g).await?)),
        #[cfg(feature = "azure")]
        StoreConfig::Azure(a) => Ok(Box::new(AzureStore::connect(a)?)),
        #[allow(unreachable_patterns)]
        other => Err(StoreError::Other {
            store: format!("store.{}", other.backend()),
            message: format!(
                "this seesaw was built without the `{0}` feature; use a release build, or cargo build --features {0}",
                other.backend()
            ),
        }),
    }
}
