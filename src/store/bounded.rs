//! Every store call bounded in time: a cloud endpoint that accepts the
//! connection and never answers (a black-holed VPC endpoint, a stuck
//! proxy) fails the call after the store's `timeout` with a transient
//! error, instead of holding the target's lock with no output. One
//! decorator for every backend, so no store can forget it.

use super::{PublishRequest, SecretStore, StoreError, StoreState};
use async_trait::async_trait;
use std::future::Future;
use std::time::Duration;

pub struct Bounded {
    pub inner: Box<dyn SecretStore>,
    pub timeout: Duration,
}

impl Bounded {
    async fn bound<T>(
        &self,
        doing: &str,
        call: impl Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        match tokio::time::timeout(self.timeout, call).await {
            Ok(result) => result,
            Err(_) => Err(StoreError::Transient {
                store: self.inner.describe(),
                reason: format!(
                    "{doing}: no answer within {} (the store's `timeout`); check the endpoint \
                        and the network path to it",
                    crate::duration::format(self.timeout)
                ),
            }),
        }
    }
}

#[async_trait]
impl SecretStore for Bounded {
    fn describe(&self) -> String {
        self.inner.describe()
    }
    async fn read(&self) -> Result<StoreState, StoreError> {
        self.bound("read", self.inner.read()).await
    }
    async fn read_latest(&self) -> Result<StoreState, StoreError> {
        self.bound("read", self.inner.read_latest()).await
    }
    async fn stage(&self, request: PublishRequest<'_>) -> Result<String, StoreError> {
        self.bound("write the pending version", self.inner.stage(request))
            .await
    }
    async fn promote(&self, pending: &str, replaces: &str) -> Result<String, StoreError> {
        self.bound(
            "promote the pending version",
            self.inner.promote(pending, replaces),
        )
        .await
    }
    fn clear_pending_hint(&self, version: &str) -> String {
        self.inner.clear_pending_hint(version)
    }
}
