//! Reading versions: by stage and by id, each at most once in a snapshot.

use super::stages::staged;
use super::{AwsStore, Read, CURRENT, GET};
use crate::secret::SecretDocument;
use crate::store::{SecretStore, StoreError, Versioned};
use aws_sdk_secretsmanager::error::ProvideErrorMetadata;

impl AwsStore {
    /// `AWSCURRENT` and when its version was created.
    pub async fn current(
        &self,
    ) -> Result<(Versioned, Option<chrono::DateTime<chrono::Utc>>), StoreError> {
        // Known stages lead to the version by id (read once); without them
        // one read by stage is cheaper than describing first.
        let known = self.remembered(|s| s.stages.as_ref().and_then(|m| staged(m, CURRENT)));
        if let Some(Some(id)) = known {
            if let Some(read) = self.by_id(&id).await? {
                return Ok((read.versioned, read.created));
            }
            // No value under AWSCURRENT: the plain read says why.
        }
        let out = self
            .client
            .get_secret_value()
            .secret_id(&self.secret_id)
            .version_stage(CURRENT)
            .send()
            .await
            .map_err(|e| self.error(GET, e))?;
        let read = self.keep(CURRENT, &out)?;
        Ok((read.versioned, read.created))
    }

    pub(super) async fn version(&self, stage: &str) -> Result<Option<Versioned>, StoreError> {
        if self.snapshot.is_some() {
            return match staged(&self.stages().await?, stage) {
                Some(id) => Ok(self.by_id(&id).await?.map(|r| r.versioned)),
                None => Ok(None),
            };
        }
        let out = self
            .client
            .get_secret_value()
            .secret_id(&self.secret_id)
            .version_stage(stage)
            .send()
            .await;
        let out = match out {
            Ok(o) => o,
            Err(e) if stage != CURRENT && e.code() == Some("ResourceNotFoundException") => {
                return Ok(None)
            }
            Err(e) => return Err(self.error(GET, e)),
        };
        self.parse(stage, &out).map(Some)
    }

    /// The version `id`, read once per snapshot; `None` when it has no
    /// value yet.
    pub(super) async fn by_id(&self, id: &str) -> Result<Option<Read>, StoreError> {
        if let Some(Some(known)) = self.remembered(|s| s.versions.get(id).cloned()) {
            return Ok(known);
        }
        let out = self
            .client
            .get_secret_value()
            .secret_id(&self.secret_id)
            .version_id(id)
            .send()
            .await;
        match out {
            // `keep` remembers it.
            Ok(o) => self.keep(&format!("version {id}"), &o).map(Some),
            Err(e) if e.code() == Some("ResourceNotFoundException") => {
                self.remembered(|s| s.versions.insert(id.to_owned(), None));
                Ok(None)
            }
            Err(e) => Err(self.error(GET, e)),
        }
    }

    /// Parses an answer and remembers it by its version id.
    pub(super) fn keep(
        &self,
        what: &str,
        out: &aws_sdk_secretsmanager::operation::get_secret_value::GetSecretValueOutput,
    ) -> Result<Read, StoreError> {
        let read = Read {
            versioned: self.parse(what, out)?,
            created: out
                .created_date()
                .and_then(|t| chrono::DateTime::from_timestamp(t.secs(), 0)),
        };
        self.remembered(|s| {
            s.versions
                .insert(read.versioned.version.clone(), Some(read.clone()))
        });
        Ok(read)
    }

    /// The document a GetSecretValue answer holds; `what` names it.
    pub(super) fn parse(
        &self,
        what: &str,
        out: &aws_sdk_secretsmanager::operation::get_secret_value::GetSecretValueOutput,
    ) -> Result<Versioned, StoreError> {
        // An unreadable pending version blocks every rotation: the
        // message says how to remove the stage.
        let clear = match (what, out.version_id()) {
            (super::PENDING, Some(id)) => format!(". {}", self.clear_pending_hint(id)),
            _ => String::new(),
        };
        let malformed = |problem: String| StoreError::Malformed {
            store: self.name(),
            problem: format!("{what}: {problem}{clear}"),
        };
        let text = out.secret_string().ok_or_else(|| {
            malformed("has no SecretString (binary secrets are not supported)".into())
        })?;
        let document = SecretDocument::parse(text.as_bytes()).map_err(malformed)?;
        Ok(Versioned {
            version: out.version_id().unwrap_or_default().to_owned(),
            document,
        })
    }
}
