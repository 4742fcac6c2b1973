//! Follow mode: the store is rotated by something else (the AWS Lambda);
//! seesaw carries each new current version into Kubernetes. It reads the
//! store and writes Secrets and workloads; it never logs in to the database.

use super::engine::Engine;
use crate::consumers::{ConsumerError, Propagation, SyncReason};
use crate::error::Error;
use crate::progress::Progress;
use serde::Serialize;
use std::future::Future;
use std::time::Duration;

/// One sync that followed a version.
#[derive(Debug, Clone, Serialize)]
pub struct FollowPass {
    pub target: String,
    pub version: String,
    pub username: String,
    pub propagation: Propagation,
}

impl Engine {
    /// Syncs the consumers to the store's current version on the first pass
    /// and whenever the version changes, every `interval`, until `shutdown`
    /// resolves (or after one pass with `once`). A failed pass is logged and
    /// retried at the next tick; with `once` it is returned.
    pub async fn follow(
        &self,
        interval: Duration,
        once: bool,
        progress: &dyn Progress,
        shutdown: impl Future<Output = ()>,
    ) -> Result<Vec<FollowPass>, Error> {
        let Some(consumers) = &self.backends.consumers else {
            return Err(self.on().inconsistent(
                "follow needs a `kubernetes:` section in the target's config".into(),
            ));
        };
        let mut passes = Vec::new();
        let mut followed: Option<String> = None;
        tokio::pin!(shutdown);
        loop {
            let pass = async {
                let (state, current) = self.read_store(false).await?;
                if followed.as_deref() == Some(state.current.version.as_str()) {
                    return Ok(None);
                }
                let document = self.complete(&state.current.document);
                let err = |source| {
                    self.on().consumers(
                        format!("carry version {} into Kubernetes", state.current.version),
                        source,
                    )
                };
                // Every write tried first: a refused one stops the pass
                // before any Secret changes, so the Secrets never disagree.
                let writes = consumers
                    .preflight(self.name(), &document, &state.current.version)
                    .await
                    .map_err(err)?;
                if let Some(refused) = ConsumerError::refusals(&writes) {
                    return Err(err(refused));
                }
                let propagation = consumers
                    .sync(
                        self.name(),
                        &document,
                        &state.current.version,
                        SyncReason::Follow,
                        false,
                        progress,
                    )
                    .await
                    .map_err(err)?;
                Ok::<_, Error>(Some(FollowPass {
                    target: self.name().into(),
                    version: state.current.version.clone(),
                    username: current.username.clone(),
                    propagation,
                }))
            };
            match pass.await {
                Ok(Some(p)) => {
                    tracing::info!(target_name = %p.target, version = %p.version,
                        user = %p.username,
                        secrets = p.propagation.secrets_written.len(),
                            workloads = p.propagation.workloads_restarted.len(), "followed");
                    followed = Some(p.version.clone());
                    passes.push(p);
                }
                Ok(None) => {}
                Err(e) if once => return Err(e),
                Err(e) => {
                    tracing::error!(target_name = %self.name(), kind = e.kind(), "follow pass \
                        failed: {e}")
                }
            }
            if once {
                return Ok(passes);
            }
            tokio::select! {
                _ = tokio::time::sleep(interval) => {}
                _ = &mut shutdown => return Ok(passes),
            }
        }
    }
}
