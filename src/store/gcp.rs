//! GCP Secret Manager. Current = the newest enabled version, previous = the
//! enabled version before it; publish adds a version.
//!
//! Concurrent writers: `AddSecretVersion` takes no precondition (etags guard
//! only secret metadata and version state changes), so the compare-and-swap
//! is done in two halves around the add. Before: the newest enabled version
//! must still be the one the rotation read (`replaces`), else nothing is
//! written. After: the enabled version just below ours must be `replaces`;
//! if another writer added one in the gap, that is reported as a conflict
//! (ours is then the newest and holds a verified credential, so the secret
//! stays usable; the rotation stops before touching consumers and the next
//! run starts from what the store holds). seesaw processes never race each
//! other here: the target's advisory lock in the database serialises them.
//!
//! Idempotency: versions carry no request token, so a retried publish is
//! recognised by content: if the newest version already holds the document
//! (whose password is new for each rotation), it is returned unchanged.
//!
//! Pending: a companion secret (`<secret>-pending`, see `companion.rs`),
//! because a version added here would at once be `latest` for applications.
//! It must exist; seesaw needs the same three permissions on it.
//!
//! Credentials: Application Default Credentials (Workload Identity on GKE, a
//! service-account key file, gcloud's user credentials). A plain `http://`
//! endpoint (an emulator) gets none, so a token never travels in cleartext.

mod add_version;
mod errors;

use super::companion::{self, Companion, WithCompanion};
use super::{PublishRequest, SecretStore, StoreError, StoreState, Versioned};
use crate::config::GcpStoreConfig;
use crate::reason;
use crate::secret::SecretDocument;
use async_trait::async_trait;
use google_cloud_gax::error::rpc::Code;
use google_cloud_gax::retry_policy::{Aip194Strict, RetryPolicyExt};
use google_cloud_secretmanager_v1::client::SecretManagerService;
use google_cloud_secretmanager_v1::model::{secret_version::State, SecretPayload, SecretVersion};

const POLICY: &str = "policies/gcp/README.md";
const LIST: &str = "secretmanager.versions.list";
const ACCESS: &str = "secretmanager.versions.access";
const ADD: &str = "secretmanager.versions.add";

#[derive(Clone)]
pub struct GcpStore {
    client: SecretManagerService,
    /// `projects/<project>/secrets/<secret>`
    secret: String,
    /// `projects/<project>/secrets/<pending_secret>`
    companion: String,
}

impl GcpStore {
    /// Every IAM permission this store uses (policies/gcp grants these).
    pub const PERMISSIONS: [&'static str; 3] = [LIST, ACCESS, ADD];

    /// Builds the client; fails when no credentials can be found.
    pub async fn connect(config: &GcpStoreConfig) -> Result<GcpStore, StoreError> {
        crate::install_crypto_provider();
        let secret = format!("projects/{}/secrets/{}", config.project, config.secret);
        let companion = format!(
            "projects/{}/secrets/{}",
            config.project,
            config
                .pending_secret
                .clone()
                .unwrap_or_else(|| format!("{}-pending", config.secret))
        );
        // Throttling (429 / RESOURCE_EXHAUSTED) is retried whatever the
        // call: the request was refused, not half done. Other transient
        // failures only for idempotent calls (AIP-194). Then the caller's
        // backoff takes over.
        let backoff = google_cloud_gax::exponential_backoff::ExponentialBackoffBuilder::new()
            .with_initial_delay(std::time::Duration::from_millis(100))
            .with_maximum_delay(std::time::Duration::from_secs(2))
            .build()
            .map_err(|_| StoreError::Other {
                store: format!("gcp secret {secret}"),
                message: "cannot set up the retry backoff".into(),
            })?;
        let mut builder = SecretManagerService::builder()
            .with_retry_policy(
                Aip194Strict
                    .continue_on_too_many_requests()
                    .with_attempt_limit(4),
            )
            .with_backoff_policy(backoff);
        if let Some(endpoint) = &config.endpoint {
            builder = builder.with_endpoint(endpoint.trim_end_matches('/'));
            if endpoint.starts_with("http://") {
                builder = builder.with_credentials(
                    google_cloud_auth::credentials::anonymous::Builder::new().build(),
                );
            }
        }
        let client = builder.build().await.map_err(|e| StoreError::Other {
            store: format!("gcp secret {secret}"),
            message: format!(
                "cannot set up the client{}; on GKE enable Workload Identity for seesaw's \
                    service account, elsewhere set GOOGLE_APPLICATION_CREDENTIALS or run `gcloud \
                        auth application-default login`",
                reason::cause(&e)
                    .map(|c| format!(" ({c})"))
                    .unwrap_or_default()
            ),
        })?;
        Ok(GcpStore {
            client,
            secret,
            companion,
        })
    }

    fn name(&self) -> String {
        format!("gcp secret {}", self.secret)
    }

    /// Enabled versions, newest first.
    async fn enabled(&self) -> Result<Vec<SecretVersion>, StoreError> {
        let mut versions = Vec::new();
        let mut page = String::new();
        loop {
            let out = self
                .client
                .list_secret_versions()
                .set_parent(&self.secret)
                .set_filter("state:ENABLED")
                .set_page_size(100)
                .set_page_token(page)
                .send()
                .await
                .map_err(|e| self.error(LIST, e))?;
            versions.extend(
                out.versions
                    .into_iter()
                    .filter(|v| v.state == State::Enabled),
            );
            if out.next_page_token.is_empty() {
                break;
            }
            page = out.next_page_token;
        }
        versions.sort_by_key(|v| std::cmp::Reverse(number(&v.name)));
        Ok(versions)
    }

    async fn access(&self, version: &SecretVersion) -> Result<Versioned, StoreError> {
        let id = version_id(&version.name);
        let out = self
            .client
            .access_secret_version()
            .set_name(&version.name)
            .send()
            .await
            .map_err(|e| self.error(ACCESS, e))?;
        let malformed = |problem: String| StoreError::Malformed {
            store: self.name(),
            problem: format!("version {id}: {problem}"),
        };
        let data = out.payload.map(|p| p.data).unwrap_or_default();
        let document = SecretDocument::parse(&data).map_err(malformed)?;
        Ok(Versioned {
            version: id.to_owned(),
            document,
        })
    }

    fn empty(&self) -> StoreError {
        StoreError::NotFound {
            store: self.name(),
            hint: "it has no enabled version; add one holding the active user's credential".into(),
        }
    }
}

/// `projects/p/secrets/s/versions/7` -> `7`
fn version_id(name: &str) -> &str {
    name.rsplit('/').next().unwrap_or(name)
}

fn number(name: &str) -> u64 {
    version_id(name).parse().unwrap_or(0)
}

#[async_trait]
impl SecretStore for GcpStore {
    fn describe(&self) -> String {
        self.name()
    }

    async fn read(&self) -> Result<StoreState, StoreError> {
        let versions = self.enabled().await?;
        let newest = versions.first().ok_or_else(|| self.empty())?;
        let current = self.access(newest).await?;
        let previous = match versions.get(1) {
            Some(v) => Some(self.access(v).await?),
            None => None,
        };
        let published_at = newest
            .create_time
            .as_ref()
            .and_then(|t| chrono::DateTime::from_timestamp(t.seconds(), 0));
        companion::state(self, current, previous, published_at).await
    }

    async fn stage(&self, request: PublishRequest<'_>) -> Result<String, StoreError> {
        companion::stage(self, request).await
    }

    async fn promote(&self, pending: &str, replaces: &str) -> Result<String, StoreError> {
        companion::promote(self, pending, replaces).await
    }

    fn clear_pending_hint(&self, _version: &str) -> String {
        self.clear_hint()
    }
}

#[async_trait]
impl WithCompanion for GcpStore {
    fn name(&self) -> String {
        GcpStore::name(self)
    }

    async fn current(&self) -> Result<Versioned, StoreError> {
        let versions = self.enabled().await?;
        let newest = versions.first().ok_or_else(|| self.empty())?;
        self.access(newest).await
    }

    async fn current_version(&self) -> Result<String, StoreError> {
        let versions = self.enabled().await?;
        let newest = versions.first().ok_or_else(|| self.empty())?;
        Ok(version_id(&newest.name).to_owned())
    }

    async fn add(&self, request: PublishRequest<'_>) -> Result<String, StoreError> {
        self.add_version(request).await
    }

    async fn companion(&self) -> Result<Option<Companion>, StoreError> {
        let out = self
            .client
            .access_secret_version()
            .set_name(format!("{}/versions/latest", self.companion))
            .send()
            .await;
        let out = match out {
            Ok(o) => o,
            Err(e)
                if e.status().map(|s| s.code) == Some(Code::NotFound)
                    || e.http_status_code() == Some(404) =>
            {
                return Ok(None)
            }
            Err(e) => return Err(self.error(ACCESS, e)),
        };
        let data = out.payload.map(|p| p.data).unwrap_or_default();
        let text = String::from_utf8_lossy(&data);
        Companion::decode(&text)
            .map(Some)
            .map_err(|problem| StoreError::Malformed {
                store: self.name(),
                // Unreadable, it blocks every rotation: say how to clear it.
                problem: format!(
                    "the pending secret {}: {problem}. {}",
                    self.companion,
                    self.clear_hint()
                ),
            })
    }

    async fn set_companion(&self, companion: &Companion) -> Result<(), StoreError> {
        let added = self
            .client
            .add_secret_version()
            .set_parent(&self.companion)
            .set_payload(SecretPayload::new().set_data(companion.encode().into_bytes()))
            .send()
            .await;
        match added {
            Ok(_) => Ok(()),
            Err(e)
                if e.status().map(|s| s.code) == Some(Code::NotFound)
                    || e.http_status_code() == Some(404) =>
            {
                Err(StoreError::NotFound {
                    store: self.name(),
                    hint: format!(
                        "the pending secret {0} does not exist; seesaw keeps a rotation's new \
                        credential there before changing the database. Create it (gcloud secrets \
                            create {1} --project {2} --replication-policy=automatic) and grant \
                                seesaw the same roles on it ({POLICY}); nothing was changed",
                        self.companion,
                        version_id(&self.companion),
                        self.companion.split('/').nth(1).unwrap_or_default()
                    ),
                })
            }
            Err(e) => Err(self.error(ADD, e)),
        }
    }

    fn clear_hint(&self) -> String {
        format!(
            "If no rotation is running, clear it: printf '{{\"pending\": null}}' | gcloud \
                secrets versions add {} --project {} --data-file=-",
            version_id(&self.companion),
            self.companion.split('/').nth(1).unwrap_or_default()
        )
    }
}
