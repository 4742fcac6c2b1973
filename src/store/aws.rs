//! AWS Secrets Manager. Current = `AWSCURRENT`, previous = `AWSPREVIOUS`.
//!
//! Pending = `AWSPENDING`. Stage puts the new document as a version staged
//! `AWSPENDING`, with the rotation's token as `ClientRequestToken` (a
//! retried call does not create a second version). Promote moves
//! `AWSCURRENT` onto it with `RemoveFromVersionId` = the version read
//! before: Secrets Manager refuses the move if `AWSCURRENT` is elsewhere by
//! then, which is our compare-and-swap. AWS moves `AWSPREVIOUS` itself;
//! then `AWSPENDING` is dropped. A pending version with a value is returned
//! by `read` so the engine can resume it; one without a value (registered
//! by `RotateSecret` for a rotation function) cannot be resumed and is
//! reported with the command that clears it, never overwritten.
//!
//! `published_at` is the creation date of the `AWSCURRENT` version (it was
//! staged moments before it was promoted); `DescribeSecret`'s
//! `LastChangedDate` would also move when a pending version is written.
//!
//! Credentials come from the default chain: environment, profile, IRSA web
//! identity, ECS, IMDS.
//!
//! A *snapshot* store ([`AwsStore::snapshot`], the Lambda's, one per
//! invocation) describes the secret once and reads each version once, by
//! its id: every later read in the same invocation is answered from what
//! was read (a write forgets the stage map). The daemon and the CLI read
//! afresh every time, because they read again under the lock on purpose.

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
    snapshot: Option<std::sync::Mutex<Snapshot>>,
}

type Stages = std::collections::HashMap<String, Vec<String>>;

/// What one invocation has read: the stage map, and each version by id
/// (`None`: registered by RotateSecret without a value yet).
#[derive(Default)]
struct Snapshot {
    stages: Option<Stages>,
    versions: std::collections::HashMap<String, Option<Read>>,
}

#[derive(Clone)]
struct Read {
    versioned: Versioned,
    created: Option<chrono::DateTime<chrono::Utc>>,
}

impl AwsStore {
    /// Every IAM action this store uses, in the `secretsmanager:`
    /// namespace (policies/aws grants these).
    pub const PERMISSIONS: [&'static str; 4] = [GET, DESCRIBE, PUT, STAGE];

    pub async fn connect(config: &AwsStoreConfig) -> AwsStore {
        let client = Self::client(
            config.region.as_deref(),
            config.endpoint_url.as_deref(),
            config.timeout,
        )
        .await;
        Self::with_client(client, &config.secret_id)
    }

    /// A Secrets Manager client from the default chain, one per process
    /// for each region, endpoint and timeout (`crate::shared`): clones
    /// share one connection pool and one credential cache. `timeout`
    /// bounds a call with its retries; each attempt gets a third of it, so
    /// the SDK's retries happen inside the bound.
    pub async fn client(
        region: Option<&str>,
        endpoint_url: Option<&str>,
        timeout: std::time::Duration,
    ) -> Client {
        static CLIENTS: crate::shared::PerProcess<
            (Option<String>, Option<String>, std::time::Duration),
            Client,
        > = crate::shared::PerProcess::new();
        let key = (
            region.map(str::to_owned),
            endpoint_url.map(str::to_owned),
            timeout,
        );
        let made = CLIENTS
            .get_or_make(key, || async {
                Ok::<_, std::convert::Infallible>(
                    Self::new_client(region, endpoint_url, timeout).await,
                )
            })
            .await;
        match made {
            Ok(client) => client,
            Err(never) => match never {},
        }
    }

    async fn new_client(
        region: Option<&str>,
        endpoint_url: Option<&str>,
        timeout: std::time::Duration,
    ) -> Client {
        crate::install_crypto_provider();
        let timeouts = aws_config::timeout::TimeoutConfig::builder()
            .connect_timeout(timeout.min(std::time::Duration::from_secs(5)))
            .operation_attempt_timeout(timeout / 3)
            .operation_timeout(timeout)
            .build();
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .timeout_config(timeouts)
            .http_client(https_client());
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
            snapshot: None,
        }
    }

    /// A store for one short unit of work (a Lambda invocation) that reads
    /// each version at most once; see the module's doc.
    pub fn snapshot(client: Client, secret_id: &str) -> AwsStore {
        AwsStore {
            snapshot: Some(Default::default()),
            ..Self::with_client(client, secret_id)
        }
    }

    fn remembered<T>(&self, f: impl FnOnce(&mut Snapshot) -> T) -> Option<T> {
        // A poisoned lock only means a panic elsewhere; the map is still whole.
        self.snapshot
            .as_ref()
            .map(|m| f(&mut m.lock().unwrap_or_else(|e| e.into_inner())))
    }

    /// After a write the stage map is stale: read it again when asked.
    fn forget_stages(&self) {
        self.remembered(|s| s.stages = None);
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
        let context = aws_sdk_secretsmanager::error::DisplayErrorContext(&e).to_string();
        if is_missing_credentials(&context) {
            // Retrying cannot help: nothing will appear by itself.
            return StoreError::Denied {
                store,
                permission: format!("AWS credentials for secretsmanager:{action} (none were found: set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, use IRSA's AWS_ROLE_ARN + AWS_WEB_IDENTITY_TOKEN_FILE, or run where an instance or task role is available)"),
                policy: POLICY.into(),
            };
        }
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
            _ if code.is_empty() && message.is_empty() => StoreError::Other {
                store,
                // Not an AWS error document (a proxy's page, a wrong
                // endpoint_url): say what came back.
                message: format!(
                    "{action}: unexpected answer{} ({context}); check store.aws.endpoint_url and any proxy in between",
                    status.map(|s| format!(" HTTP {s}")).unwrap_or_default()
                ),
            },
            _ => StoreError::Other {
                store,
                message: format!("{action}: {code} {message}"),
            },
        }
    }

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

    async fn version(&self, stage: &str) -> Result<Option<Versioned>, StoreError> {
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
    async fn by_id(&self, id: &str) -> Result<Option<Read>, StoreError> {
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
    fn keep(
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
            "If no rotation is running, remove the stage: aws secretsmanager update-secret-version-stage --secret-id {} --version-stage AWSPENDING --remove-from-version-id {version}",
            self.secret_id
        )
    }
}

/// The SDK's HTTPS client on rustls (ring, as everywhere in seesaw),
/// trusting the system roots as [`crate::roots`] loads them (once, from the
/// bundle) instead of the SDK's own scan of the whole certificate
/// directory: a Lambda cold start is 2 ms shorter.
fn https_client() -> aws_sdk_secretsmanager::config::SharedHttpClient {
    use aws_smithy_http_client::tls;
    let trust = tls::TrustStore::empty()
        .with_native_roots(false)
        .with_pem_certificate(crate::roots::system_pem());
    let builder = aws_smithy_http_client::Builder::new().tls_provider(tls::Provider::Rustls(
        tls::rustls_provider::CryptoMode::Ring,
    ));
    match tls::TlsContext::builder().with_trust_store(trust).build() {
        Ok(context) => builder.tls_context(context).build_https(),
        // Only a bundle rustls cannot use gets here: the SDK's own roots.
        Err(_) => builder.build_https(),
    }
}

/// The SDK's words when the credential chain found nothing.
fn is_missing_credentials(context: &str) -> bool {
    let c = context.to_ascii_lowercase();
    c.contains("no credentials")
        || c.contains("credentialsnotloaded")
        || c.contains("failed to load credentials")
        || c.contains("could not load credentials")
}

/// The version carrying `stage`.
fn staged(stages: &Stages, stage: &str) -> Option<String> {
    stages
        .iter()
        .find(|(_, s)| s.iter().any(|x| x == stage))
        .map(|(v, _)| v.clone())
}

/// The version staged `AWSPENDING` that is not also current.
fn staged_pending(stages: &Stages) -> Option<String> {
    stages
        .iter()
        .find(|(_, s)| s.iter().any(|x| x == PENDING) && !s.iter().any(|x| x == CURRENT))
        .map(|(v, _)| v.clone())
}

/// The stage-level calls: stage is put_pending, promote is move_current
/// and drop_pending, and
/// the Lambda's four steps make them one per step.
impl AwsStore {
    /// Fails when a version other than `token` is staged `AWSPENDING`
    /// without being current: an earlier rotation that did not finish,
    /// whose pending password may already be set in the database.
    pub fn no_stuck_pending(&self, stages: &Stages, token: &str) -> Result<(), StoreError> {
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
    pub async fn stages_and_prefetch(
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
    pub async fn stages(&self) -> Result<Stages, StoreError> {
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
    pub async fn version_by_id(
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
        self.remembered(|s| {
            s.stages = None;
            s.versions.remove(token);
        });
        Ok(())
    }

    /// Moves `AWSCURRENT` from `current` to `token` (refused by Secrets
    /// Manager if `AWSCURRENT` is elsewhere). The Lambda's finishSecret:
    /// like AWS's own functions it leaves `AWSPENDING` on the version now
    /// current, which Secrets Manager treats as a finished rotation (and
    /// `read` as no pending version).
    pub async fn make_current(&self, token: &str, current: &str) -> Result<(), StoreError> {
        self.move_current(token, current).await
    }

    async fn move_current(&self, token: &str, current: &str) -> Result<(), StoreError> {
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

    async fn drop_pending(&self, token: &str) -> Result<(), StoreError> {
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
