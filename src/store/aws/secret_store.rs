//! The [`SecretStore`] protocol on Secrets Manager's stages.

use super::stages::{staged, staged_pending};
use super::{AwsStore, CURRENT, PENDING, PREVIOUS};
use crate::store::{PublishRequest, SecretStore, StoreError, StoreState};
use async_trait::async_trait;

#[async_trait]
impl SecretStore for AwsStore {
    fn describe(&self) -> String {
        self.name()
    }

    async fn read(&self) -> Result<StoreState, StoreError> {
        let state = self.read_latest().await?;
        Ok(StoreState {
            previous: self.version(PREVIOUS).await?,
            ..state
        })
    }

    async fn read_latest(&self) -> Result<StoreState, StoreError> {
        let (current, published_at) = self.current().await?;
        let previous = None;
        let pending = self
            .version(PENDING)
            .await?
            .filter(|p| p.version != current.version);
        Ok(StoreState {
            current,
            previous,
            pending,
            published_at,
        })
    }

    async fn stage(&self, request: PublishRequest<'_>) -> Result<String, StoreError> {
        let stages = self.stages().await?;
        let current = staged(&stages, CURRENT).unwrap_or_default();
        if current == request.token {
            return Ok(current); // a retry of a publish that landed
        }
        if staged_pending(&stages).as_deref() == Some(request.token) {
            return Ok(request.token.to_owned()); // a retried stage
        }
        self.no_stuck_pending(&stages, request.token)?;
        if current != request.replaces {
            return Err(StoreError::Conflict {
                store: self.name(),
                expected: request.replaces.into(),
                found: current,
            });
        }
        self.put_pending(request.token, request.document).await?;
        Ok(request.token.to_owned())
    }

    async fn promote(&self, pending: &str, replaces: &str) -> Result<String, StoreError> {
        let stages = self.stages().await?;
        let current = staged(&stages, CURRENT).unwrap_or_default();
        if current != pending {
            if current != replaces {
                return Err(StoreError::Conflict {
                    store: self.name(),
                    expected: replaces.into(),
                    found: current,
                });
            }
            if staged_pending(&stages).as_deref() != Some(pending) {
                return Err(StoreError::Conflict {
                    store: self.name(),
                    expected: format!("pending version {pending}"),
                    found: staged_pending(&stages)
                        .map(|p| format!("pending version {p}"))
                        .unwrap_or_else(|| "no pending version".into()),
                });
            }
            if let Err(e) = self.move_current(pending, replaces).await {
                // Refused: find out why from the secret itself.
                self.forget_stages();
                let now = self.stages().await?;
                let found = staged(&now, CURRENT).unwrap_or_default();
                if found != replaces && found != pending {
                    return Err(StoreError::Conflict {
                        store: self.name(),
                        expected: replaces.into(),
                        found,
                    });
                }
                if found != pending {
                    return Err(e);
                }
            }
        }
        if staged_pending(&stages).as_deref() == Some(pending) || current != pending {
            self.drop_pending(pending).await?;
        }
        Ok(pending.to_owned())
    }

    fn clear_pending_hint(&self, version: &str) -> String {
        format!(
            "If no rotation is running, remove the stage: aws secretsmanager \
                update-secret-version-stage --secret-id {} --version-stage AWSPENDING \
                    --remove-from-version-id {version}",
            self.secret_id
        )
    }
}
