//! AWS Secrets Manager. Current = `AWSCURRENT`, previous = `AWSPREVIOUS`.
//!
//! Publish puts the new document as a version staged `AWSPENDING`, with
//! the rotation's token as `ClientRequestToken` (a retried call does not
//! create a second version), then moves `AWSCURRENT` onto it with
//! `RemoveFromVersionId` = the version read before: Secrets Manager refuses
//! the move if `AWSCURRENT` is elsewhere by then, which is our
//! compare-and-swap. AWS moves `AWSPREVIOUS` itself. A version left
//! `AWSPENDING` by an earlier failed rotation (ours or a Lambda's) is
//! reported, never overwritten.
//!
//! Credentials come from the default chain: environment, profile, IRSA web
//! identity, ECS, IMDS.

use super::{PublishRequest, SecretStore, StoreError, StoreState, Versioned};
use crate::config::AwsStoreConfig;
use crate::secret::SecretDocument;
use async_trait::async_trait;
use aws_sdk_secretsmanager::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_secretsmanager::Client;

const CURRENT: &str = "AWSCURRENT";
const PREVIOUS: &str = "AWSPREVIOUS";
const PENDING: &str = "AWSPENDING";
const POLICY: &str = "policies/aws/README.md";
const GET: &str = "GetSecretValue";
const DESCRIBE: &str = "DescribeSecret";
const PUT: &str = "PutSecretValue";
const STAGE: &str = "UpdateSecretVersionStage";

pub struct AwsStore {
    client: Client,
    secret_id: String,
}

impl AwsStore {
    /// Every IAM action this store uses, in the `secretsmanager:`
    /// namespace (policies/aws grants these).
    pub const PERMISSIONS: [&'static str; 4] = [GET, DESCRIBE, PUT, STAGE];

    pub async fn connect(config: &AwsStoreConfig) -> AwsStore {
        let client = Self::client(config.region.as_deref(), config.endpoint_url.as_deref()).await;
        Self::with_client(client, &config.secret_id)
    }

    /// A Secrets Manager client from the default chain. Cheap to clone;
    /// clones share one connection pool (the Lambda keeps one per sandbox).
    pub async fn client(region: Option<&str>, endpoint_url: Option<&str>) -> Client {
        crate::install_crypto_provider();
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
        if let Some(region) = region {
            loader = loader.region(aws_config::Region::new(region.to_owned()));
        }
        if let Some(url) = endpoint_url {
            loader = loader.endpoint_url(url);
        }
        Client::new(&loader.load().await)
    }

    pub fn with_client(client: Client, secret_id: &str) -> AwsStore {
        AwsStore {
            client,
            secret_id: secret_id.to_owned(),
        }
    }

    fn name(&self) -> String {
        format!("aws secret {}", self.secret_id)
    }

    /// Maps an SDK error: what failed, and what to do. Never the request
    /// (it may hold the secret string).
    fn error<E: ProvideErrorMetadata + std::error::Error + 'static>(
        &self,
        action: &str,
        e: SdkError<E>,
    ) -> StoreError {
        let store = self.name();
        let status = e.raw_response().map(|r| r.status().as_u16());
        let code = e.code().unwrap_or("").to_owned();
        let message = e.message().unwrap_or("").to_owned();
        match (&e, code.as_str()) {
            (SdkError::DispatchFailure(_) | SdkError::TimeoutError(_), _) => StoreError::Transient {
                store,
                reason: format!("{action}: cannot reach Secrets Manager ({})", aws_sdk_secretsmanager::error::DisplayErrorContext(&e)),
            },
            (_, "ThrottlingException" | "TooManyRequestsException" | "InternalServiceError" | "ServiceUnavailable" | "RequestTimeout") => {
                StoreError::Transient { store, reason: format!("{action}: {code}") }
            }
            (_, "ResourceNotFoundException") => StoreError::NotFound {
                store,
                hint: format!("{action}: {message}; check store.aws.secret_id and region, or create the secret with the active user's credential as its current value"),
            },
            (_, "AccessDeniedException" | "UnrecognizedClientException" | "InvalidSignatureException") => StoreError::Denied {
                store,
                permission: format!("secretsmanager:{action}"),
                policy: POLICY.into(),
            },
            _ if status.is_some_and(|s| s == 429 || s >= 500) => StoreError::Transient {
                store,
                reason: format!("{action}: HTTP {}", status.unwrap_or(0)),
            },
            _ => StoreError::Other {
                store,
                message: format!("{action}: {code} {message}"),
            },
        }
    }

    async fn version(&self, stage: &str) -> Result<Option<Versioned>, StoreError> {
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

    /// The document a GetSecretValue answer holds; `what` names it.
    fn parse(
        &self,
        what: &str,
        out: &aws_sdk_secretsmanager::operation::get_secret_value::GetSecretValueOutput,
    ) -> Result<Versioned, StoreError> {
        let malformed = |problem: String| StoreError::Malformed {
            store: self.name(),
            problem: format!("{what}: {problem}"),
        };
        let text = out.secret_string().ok_or_else(|| {
            malformed("has no SecretString (binary secrets are not supported)".into())
        })?;
        let value = serde_json::from_str(text)
            .map_err(|e| malformed(format!("is not a JSON secret document ({e})")))?;
        let document = SecretDocument::from_value(value).map_err(|e| malformed(e.to_string()))?;
        Ok(Versioned {
            version: out.version_id().unwrap_or_default().to_owned(),
            document,
        })
    }
}

#[async_trait]
impl SecretStore for AwsStore {
    fn describe(&self) -> String {
        self.name()
    }

    async fn read(&self) -> Result<StoreState, StoreError> {
        let current = self
            .version(CURRENT)
            .await?
            .ok_or_else(|| StoreError::NotFound {
                store: self.name(),
                hint: "it has no AWSCURRENT version".into(),
            })?;
        let previous = self.version(PREVIOUS).await?;
        let described = self
            .client
            .describe_secret()
            .secret_id(&self.secret_id)
            .send()
            .await;
        let published_at = described
            .ok()
            .and_then(|d| d.last_changed_date().map(|t| t.secs()))
            .and_then(|secs| chrono::DateTime::from_timestamp(secs, 0));
        Ok(StoreState {
            current,
            previous,
            published_at,
        })
    }

    async fn publish(&self, request: PublishRequest<'_>) -> Result<String, StoreError> {
        let stages = self.stages().await?;
        let current = stages
            .iter()
            .find(|(_, s)| s.iter().any(|x| x == CURRENT))
            .map(|(v, _)| v.clone())
            .unwrap_or_default();
        if current == request.token {
            return Ok(current); // a retry of a publish that landed
        }
        if current != request.replaces {
            return Err(StoreError::Conflict {
                store: self.name(),
                expected: request.replaces.into(),
                found: current,
            });
        }
        self.no_stuck_pending(&stages, request.token)?;
        self.put_pending(request.token, request.document).await?;
        self.make_current(request.token, request.replaces)
            .await
            .map_err(|e| match e {
                // AWSCURRENT moved since DescribeSecret: another writer.
                StoreError::Other { .. } => StoreError::Conflict {
                    store: self.name(),
                    expected: request.replaces.into(),
                    found: "another version".into(),
                },
                other => other,
            })?;
        Ok(request.token.to_owned())
    }
}

/// The stage-level calls: publish is put_pending + make_current, and the
/// Lambda's four steps make them one per step.
impl AwsStore {
    /// Fails when a version other than `token` is staged `AWSPENDING`
    /// without being current: an earlier rotation that did not finish,
    /// whose pending password may already be set in the database.
    pub fn no_stuck_pending(
        &self,
        stages: &std::collections::HashMap<String, Vec<String>>,
        token: &str,
    ) -> Result<(), StoreError> {
        let stuck = stages.iter().find(|(v, s)| {
            s.iter().any(|x| x == PENDING) && !s.iter().any(|x| x == CURRENT) && *v != token
        });
        match stuck {
            Some((stuck, _)) => Err(StoreError::Other {
                store: self.name(),
                message: format!(
                    "version {stuck} is still staged AWSPENDING by an earlier rotation that did not finish; seesaw will not overwrite it. Check that rotation, then remove the stage: aws secretsmanager update-secret-version-stage --secret-id {} --version-stage AWSPENDING --remove-from-version-id {stuck}",
                    self.secret_id
                ),
            }),
            None => Ok(()),
        }
    }

    /// Version id -> its staging labels.
    pub async fn stages(
        &self,
    ) -> Result<std::collections::HashMap<String, Vec<String>>, StoreError> {
        let described = self
            .client
            .describe_secret()
            .secret_id(&self.secret_id)
            .send()
            .await
            .map_err(|e| self.error(DESCRIBE, e))?;
        Ok(described
            .version_ids_to_stages()
            .cloned()
            .unwrap_or_default())
    }

    /// The version `id` (optionally only if it carries `stage`); `None`
    /// when it has no value yet.
    pub async fn version_by_id(
        &self,
        id: &str,
        stage: Option<&str>,
    ) -> Result<Option<Versioned>, StoreError> {
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
    pub async fn put_pending(
        &self,
        token: &str,
        document: &SecretDocument,
    ) -> Result<(), StoreError> {
        let body =
            serde_json::to_string(&document.to_value()).map_err(|e| StoreError::Malformed {
                store: self.name(),
                problem: format!("cannot encode the document: {e}"),
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
        Ok(())
    }

    /// Moves `AWSCURRENT` from `current` to `token` (refused by Secrets
    /// Manager if `AWSCURRENT` is elsewhere), then drops `AWSPENDING`.
    pub async fn make_current(&self, token: &str, current: &str) -> Result<(), StoreError> {
        self.client
            .update_secret_version_stage()
            .secret_id(&self.secret_id)
            .version_stage(CURRENT)
            .move_to_version_id(token)
            .remove_from_version_id(current)
            .send()
            .await
            .map_err(|e| self.error(STAGE, e))?;
        self.client
            .update_secret_version_stage()
            .secret_id(&self.secret_id)
            .version_stage(PENDING)
            .remove_from_version_id(token)
            .send()
            .await
            .map_err(|e| self.error(STAGE, e))?;
        Ok(())
    }
}
