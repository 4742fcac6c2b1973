//! [`RotationStages`] natively, on Secrets Manager's own stages: the
//! rotation function's contract, as AWS's own functions keep it.

use super::stages::staged;
use super::{AwsStore, CURRENT, PENDING};
use crate::secret::SecretDocument;
use crate::store::{Reads, RotationStages, StoreError, VersionState, Versioned};
use async_trait::async_trait;

#[async_trait]
impl RotationStages for AwsStore {
    /// One DescribeSecret, with the reads `reads` names at the same time
    /// (a snapshot store answers the step's later reads from them).
    async fn version_state(&self, version: &str, reads: Reads) -> Result<VersionState, StoreError> {
        let stages = match reads {
            Reads::Labels => self.stages().await,
            Reads::Value => self.stages_and_prefetch(version, false).await,
            Reads::ValueAndCurrent => self.stages_and_prefetch(version, true).await,
        }?;
        // RotateSecret registers the token, staged AWSPENDING, before it
        // calls the function: a version it did not register is unknown.
        let Some(labels) = stages.get(version) else {
            return Ok(VersionState::Unknown);
        };
        let has = |stage: &str| labels.iter().any(|x| x == stage);
        if has(CURRENT) {
            return Ok(VersionState::Current);
        }
        if !has(PENDING) {
            return Ok(VersionState::Retired(format!("staged {labels:?}")));
        }
        Ok(VersionState::Pending(match reads {
            Reads::Labels => None,
            Reads::Value | Reads::ValueAndCurrent => {
                self.version_by_id(version, Some(PENDING)).await?
            }
        }))
    }

    async fn current_version(&self) -> Result<Versioned, StoreError> {
        Ok(self.current().await?.0)
    }

    /// Gives the version RotateSecret registered its value (PutSecretValue
    /// with the token as `ClientRequestToken`, itself idempotent).
    async fn create_pending(
        &self,
        version: &str,
        document: &SecretDocument,
        replaces: &str,
    ) -> Result<String, StoreError> {
        let stages = self.stages().await?;
        self.no_stuck_pending(&stages, version)?;
        let current = staged(&stages, CURRENT).unwrap_or_default();
        if current != replaces {
            return Err(StoreError::Conflict {
                store: self.name(),
                expected: replaces.into(),
                found: current,
            });
        }
        self.put_pending(version, document).await?;
        Ok(version.to_owned())
    }

    /// Moves `AWSCURRENT` from the version that holds it to `version` with
    /// `RemoveFromVersionId` (refused if it moved meanwhile). AWS moves
    /// `AWSPREVIOUS`; `AWSPENDING` stays on the version, as AWS's own
    /// functions leave it, which Secrets Manager treats as a finished
    /// rotation (and `read` as no pending version).
    async fn finish(&self, version: &str) -> Result<(), StoreError> {
        let stages = self.stages().await?;
        let current = staged(&stages, CURRENT).ok_or_else(|| StoreError::Malformed {
            store: self.name(),
            problem: "the secret has no AWSCURRENT version".into(),
        })?;
        self.move_current(version, &current).await
    }
}
