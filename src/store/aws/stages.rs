//! The stage-level calls, shared by the protocol (`secret_store.rs`) and
//! the rotation function's contract (`rotation_stages.rs`).

use super::{AwsStore, Stages, CURRENT, DESCRIBE, GET, PENDING, PUT, STAGE};
use crate::secret::SecretDocument;
use crate::store::{SecretStore, StoreError, Versioned};
use aws_sdk_secretsmanager::error::ProvideErrorMetadata;

/// The version carrying `stage`.
pub(super) fn staged(stages: &Stages, stage: &str) -> Option<String> {
    stages
        .iter()
        .find(|(_, s)| s.iter().any(|x| x == stage))
        .map(|(v, _)| v.clone())
}

/// The version staged `AWSPENDING` that is not also current.
pub(super) fn staged_pending(stages: &Stages) -> Option<String> {
    stages
        .iter()
        .find(|(_, s)| s.iter().any(|x| x == PENDING) && !s.iter().any(|x| x == CURRENT))
        .map(|(v, _)| v.clone())
}

/// The stage-level calls: stage is put_pending, promote is move_current
/// and drop_pending; the rotation function's steps make them one per step.
impl AwsStore {
    /// Fails when a version other than `token` is staged `AWSPENDING`
    /// without being current: an earlier rotation that did not finish,
    /// whose pending password may already be set in the database.
    pub(super) fn no_stuck_pending(&self, stages: &Stages, token: &str) -> Result<(), StoreError> {
        let stuck = stages.iter().find(|(v, s)| {
            s.iter().any(|x| x == PENDING) && !s.iter().any(|x| x == CURRENT) && *v != token
        });
        match stuck {
            Some((stuck, _)) => Err(StoreError::PendingExists {
                store: self.name(),
                pending: format!("{stuck} (staged AWSPENDING by a rotation that did not finish)"),
                hint: self.clear_pending_hint(stuck),
            }),
            None => Ok(()),
        }
    }

    /// Reads, concurrently with describing the secret, the versions a step
    /// will need (its token's, and `AWSCURRENT` when `current`): they are
    /// then answered from the snapshot. A read that finds nothing is
    /// remembered as such; an error is left for the step's own read.
    pub(super) async fn stages_and_prefetch(
        &self,
        token: &str,
        current: bool,
    ) -> Result<Stages, StoreError> {
        let fetch_current = async {
            if current {
                let _ = self.current().await;
            }
        };
        let (stages, _, _) = tokio::join!(self.stages(), self.by_id(token), fetch_current);
        stages
    }

    /// Version id -> its staging labels (once per snapshot).
    pub(super) async fn stages(&self) -> Result<Stages, StoreError> {
        if let Some(Some(known)) = self.remembered(|s| s.stages.clone()) {
            return Ok(known);
        }
        let described = self
            .client
            .describe_secret()
            .secret_id(&self.secret_id)
            .send()
            .await
            .map_err(|e| self.error(DESCRIBE, e))?;
        let stages = described
            .version_ids_to_stages()
            .cloned()
            .unwrap_or_default();
        self.remembered(|s| s.stages = Some(stages.clone()));
        Ok(stages)
    }

    /// The version `id` (optionally only if it carries `stage`); `None`
    /// when it has no value yet.
    pub(super) async fn version_by_id(
        &self,
        id: &str,
        stage: Option<&str>,
    ) -> Result<Option<Versioned>, StoreError> {
        if self.snapshot.is_some() {
            let stages = self.stages().await?;
            let carries = stages
                .get(id)
                .is_some_and(|s| stage.is_none_or(|want| s.iter().any(|x| x == want)));
            if !carries {
                return Ok(None);
            }
            return Ok(self.by_id(id).await?.map(|r| r.versioned));
        }
        let out = self
            .client
            .get_secret_value()
            .secret_id(&self.secret_id)
            .version_id(id)
            .set_version_stage(stage.map(str::to_owned))
            .send()
            .await;
        match out {
            Ok(o) => self.parse(&format!("version {id}"), &o).map(Some),
            Err(e) if e.code() == Some("ResourceNotFoundException") => Ok(None),
            Err(e) => Err(self.error(GET, e)),
        }
    }

    /// Adds `document` as the version `token`, staged `AWSPENDING`. A retry
    /// with the same token and document adds nothing.
    pub(super) async fn put_pending(
        &self,
        token: &str,
        document: &SecretDocument,
    ) -> Result<(), StoreError> {
        let body =
            serde_json::to_string(&document.to_value()).map_err(|e| StoreError::Malformed {
                store: self.name(),
                problem: format!("cannot encode the document: it {}", crate::reason::json(&e)),
            })?;
        self.client
            .put_secret_value()
            .secret_id(&self.secret_id)
            .client_request_token(token)
            .secret_string(body)
            .version_stages(PENDING)
            .send()
            .await
            .map_err(|e| self.error(PUT, e))?;
        self.remembered(|s| {
            s.stages = None;
            s.versions.remove(token);
        });
        Ok(())
    }

    pub(super) async fn move_current(&self, token: &str, current: &str) -> Result<(), StoreError> {
        self.client
            .update_secret_version_stage()
            .secret_id(&self.secret_id)
            .version_stage(CURRENT)
            .move_to_version_id(token)
            .remove_from_version_id(current)
            .send()
            .await
            .map_err(|e| self.error(STAGE, e))?;
        self.forget_stages();
        Ok(())
    }

    pub(super) async fn drop_pending(&self, token: &str) -> Result<(), StoreError> {
        self.client
            .update_secret_version_stage()
            .secret_id(&self.secret_id)
            .version_stage(PENDING)
            .remove_from_version_id(token)
            .send()
            .await
            .map_err(|e| self.error(STAGE, e))?;
        self.forget_stages();
        Ok(())
    }
}
