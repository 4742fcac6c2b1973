//! Opening the store a target's config names, behind the time bound.

#[cfg(feature = "aws")]
use super::AwsStore;
#[cfg(feature = "azure")]
use super::AzureStore;
#[cfg(feature = "gcp")]
use super::GcpStore;
use super::{FileStore, SecretStore, StoreError};
use crate::config::StoreConfig;

/// Builds the store a target's config names. Fails for a store this build
/// does not include, or a cloud client that cannot find credentials.
/// Every call of the store it returns is bounded by the config's `timeout`.
/// Cloud SDKs take their credentials, region and proxy from `env`.
pub async fn open(
    config: &StoreConfig,
    env: &crate::environment::Environment,
) -> Result<Box<dyn SecretStore>, StoreError> {
    let inner: Box<dyn SecretStore> = match config {
        StoreConfig::File(f) => Box::new(FileStore::new(f.path.clone())),
        #[cfg(feature = "aws")]
        StoreConfig::Aws(a) => Box::new(AwsStore::connect(a, env).await),
        #[cfg(feature = "gcp")]
        StoreConfig::Gcp(g) => Box::new(GcpStore::connect(g).await?),
        #[cfg(feature = "azure")]
        StoreConfig::Azure(a) => Box::new(AzureStore::connect(a, env)?),
        #[allow(unreachable_patterns)]
        other => {
            let _ = env; // only the cloud stores read it
            return Err(StoreError::Other {
                store: format!("store.{}", other.backend()),
                message: format!(
                    "this seesaw was built without the `{0}` feature; use a release build, or \
                        cargo build --features {0}",
                    other.backend()
                ),
            });
        }
    };
    Ok(Box::new(super::bounded::Bounded {
        inner,
        timeout: config.timeout(),
    }))
}
