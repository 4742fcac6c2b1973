//! Azure Key Vault. Current = the secret's latest version (what a `GET`
//! without a version returns, and what applications and External Secrets
//! Operator read); previous = the version it replaced.
//!
//! Publish sets a new version tagged `seesaw-version` (the rotation's
//! token), `seesaw-user` (the user it holds) and `seesaw-replaces` (the
//! version it replaced). The tags make the chain exact: previous is the
//! version named by `seesaw-replaces`, and a retried publish is recognised
//! by its token. A secret adopted from elsewhere has no tags; its previous
//! is the enabled version created just before it.
//!
//! Concurrent writers: `SetSecret` takes no precondition, so the check is
//! done around it: before, the latest version must be the one the rotation
//! read; after, ours must be the latest and no other version may have
//! appeared since `replaces`. Key Vault's timestamps have one-second
//! resolution, so a writer within the same second as ours is only caught by
//! the first check. seesaw processes are serialised by the target's
//! advisory lock in the database; this guards against people and scripts.
//!
//! Pending: a companion secret in the same vault (`<secret>-pending`, see
//! `companion.rs`; created on first use), because a version set here would
//! at once be what applications read.
//!
//! Credentials, first that applies: workload identity (AKS, when
//! `AZURE_FEDERATED_TOKEN_FILE` is set), the Azure CLI (`az login`, when
//! `az` is on the PATH and no managed identity endpoint is advertised),
//! else managed identity. `HTTPS_PROXY` is honoured.

use super::companion::{self, Companion, WithCompanion};
use super::{PublishRequest, SecretStore, StoreError, StoreState, Versioned};
use crate::config::AzureStoreConfig;
use crate::secret::SecretDocument;
use async_trait::async_trait;
use azure_core::credentials::TokenCredential;
use azure_core::http::{ClientOptions, ExponentialRetryOptions, RetryOptions, Transport};
use azure_identity::{
    AzureCliCredential, ClientAssertionCredentialOptions, ManagedIdentityCredential,
    ManagedIdentityCredentialOptions, WorkloadIdentityCredential,
    WorkloadIdentityCredentialOptions,
};
use azure_security_keyvault_secrets::models::{
    Secret, SecretClientGetSecretOptions, SecretProperties, SetSecretParameters,
};
use azure_security_keyvault_secrets::{SecretClient, SecretClientOptions};
use futures::StreamExt;
use rustls::pki_types::pem::PemObject;
use std::collections::HashMap;
use std::sync::Arc;

const POLICY: &str = "policies/azure/README.md";
const GET: &str = "Microsoft.KeyVault/vaults/secrets/getSecret/action";
const LIST: &str = "Microsoft.KeyVault/vaults/secrets/readMetadata/action";
const SET: &str = "Microsoft.KeyVault/vaults/secrets/setSecret/action";
const TAG_VERSION: &str = "seesaw-version";
const TAG_USER: &str = "seesaw-user";
const TAG_REPLACES: &str = "seesaw-replaces";

pub struct AzureStore {
    client: SecretClient,
    vault: String,
    secret: String,
    /// The companion secret's name.
    companion: String,
}

/// A version's id, creation time and tags, from a listing.
struct Listed {
    id: String,
    created: i64,
    enabled: bool,
}

impl AzureStore {
    /// Every data action this store uses (policies/azure grants these).
    pub const PERMISSIONS: [&'static str; 3] = [GET, LIST, SET];

    pub fn connect(config: &AzureStoreConfig) -> Result<AzureStore, StoreError> {
        crate::install_crypto_provider();
        let name = format!(
            "azure secret {}/secrets/{}",
            config.vault_url.trim_end_matches('/'),
            config.secret
        );
        let fail = |message: String| StoreError::Other {
            store: name.clone(),
            message,
        };
        let http = http_client(config.ca_file.as_deref()).map_err(&fail)?;
        let client_options = ClientOptions {
            transport: Some(Transport::new(Arc::new(http))),
            // Throttling (429) and 5xx are retried here a few times; then the
            // caller's backoff takes over.
            retry: RetryOptions::exponential(ExponentialRetryOptions {
                initial_delay: time::Duration::milliseconds(100),
                max_retries: 3,
                max_total_elapsed: time::Duration::seconds(20),
                max_delay: time::Duration::seconds(2),
            }),
            ..Default::default()
        };
        let credential = credential(&client_options).map_err(|e| {
            fail(format!("no usable credentials ({e}); on AKS enable workload identity for seesaw's service account (AZURE_CLIENT_ID, AZURE_TENANT_ID, AZURE_FEDERATED_TOKEN_FILE), elsewhere use a managed identity or `az login`"))
        })?;
        let client = SecretClient::new(
            &config.vault_url,
            credential,
            Some(SecretClientOptions {
                client_options,
                ..Default::default()
            }),
        )
        .map_err(|e| fail(format!("store.azure.vault_url: {e}")))?;
        Ok(AzureStore {
            client,
            vault: config.vault_url.trim_end_matches('/').to_owned(),
            secret: config.secret.clone(),
            companion: config
                .pending_secret
                .clone()
                .unwrap_or_else(|| format!("{}-pending", config.secret)),
        })
    }

    fn name(&self) -> String {
        format!("azure secret {}/secrets/{}", self.vault, self.secret)
    }

    /// Maps a client error: what failed and what to do, never a value.
    fn error(&self, permission: &str, e: azure_core::Error) -> StoreError {
        use azure_core::error::ErrorKind;
        let store = self.name();
        match e.kind() {
            ErrorKind::HttpResponse { status, error_code, .. } => {
                let status = u16::from(*status);
                let code = error_code.clone().unwrap_or_default();
                match status {
                    404 => StoreError::NotFound {
                        store,
                        hint: format!("check store.azure.vault_url and store.azure.secret, or create it with the active user's credential as its value (az keyvault secret set --vault-name <vault> --name {} --file secret.json)", self.secret),
                    },
                    401 | 403 => StoreError::Denied {
                        store,
                        permission: format!("{permission} (role Key Vault Secrets Officer on the secret{})", if code.is_empty() { String::new() } else { format!("; Key Vault said {code}") }),
                        policy: POLICY.into(),
                    },
                    429 | 500.. => StoreError::Transient {
                        store,
                        reason: format!("{permission}: HTTP {status} {code}"),
                    },
                    _ => StoreError::Other {
                        store,
                        message: format!("{permission}: HTTP {status} {code}"),
                    },
                }
            }
            ErrorKind::Io => StoreError::Transient {
                store,
                reason: format!("{permission}: cannot reach Key Vault ({e})"),
            },
            ErrorKind::Credential => StoreError::Other {
                store,
                message: format!("cannot get a token ({e}); check seesaw's workload identity, managed identity or `az login`"),
            },
            _ => StoreError::Other {
                store,
                message: format!("{permission}: {e}"),
            },
        }
    }

    async fn get(&self, version: Option<&str>) -> Result<(Versioned, Secret), StoreError> {
        let options = SecretClientGetSecretOptions {
            secret_version: version.map(str::to_owned),
            ..Default::default()
        };
        let secret = self
            .client
            .get_secret(&self.secret, Some(options))
            .await
            .map_err(|e| self.error(GET, e))?
            .into_model()
            .map_err(|e| self.error(GET, e))?;
        let id = secret
            .id
            .as_deref()
            .map(version_id)
            .unwrap_or_default()
            .to_owned();
        let malformed = |problem: String| StoreError::Malformed {
            store: self.name(),
            problem: format!("version {id}: {problem}"),
        };
        let text = secret.value.as_deref().unwrap_or_default();
        let value = serde_json::from_str(text)
            .map_err(|e| malformed(format!("is not a JSON secret document ({e})")))?;
        let document = SecretDocument::from_value(value).map_err(|e| malformed(e.to_string()))?;
        Ok((
            Versioned {
                version: id,
                document,
            },
            secret,
        ))
    }

    async fn versions(&self) -> Result<Vec<Listed>, StoreError> {
        let mut pager = self
            .client
            .list_secret_properties_versions(&self.secret, None)
            .map_err(|e| self.error(LIST, e))?;
        let mut out = Vec::new();
        while let Some(item) = pager.next().await {
            let item: SecretProperties = item.map_err(|e| self.error(LIST, e))?;
            let attributes = item.attributes.unwrap_or_default();
            out.push(Listed {
                id: item
                    .id
                    .as_deref()
                    .map(version_id)
                    .unwrap_or_default()
                    .to_owned(),
                created: attributes.created.map(|t| t.unix_timestamp()).unwrap_or(0),
                enabled: attributes.enabled.unwrap_or(true),
            });
        }
        Ok(out)
    }
}

/// The HTTP status of a failed call, if it got that far.
fn status_of(e: &azure_core::Error) -> Option<u16> {
    match e.kind() {
        azure_core::error::ErrorKind::HttpResponse { status, .. } => Some(u16::from(*status)),
        _ => None,
    }
}

/// `https://v.vault.azure.net/secrets/name/abc123` -> `abc123`
fn version_id(id: &str) -> &str {
    id.trim_end_matches('/').rsplit('/').next().unwrap_or(id)
}

fn tag<'a>(secret: &'a Secret, key: &str) -> Option<&'a str> {
    secret.tags.as_ref()?.get(key).map(String::as_str)
}

/// reqwest on rustls, trusting the system roots and `ca_file`.
fn http_client(ca_file: Option<&std::path::Path>) -> Result<reqwest::Client, String> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in crate::roots::system() {
        let _ = roots.add(cert.clone());
    }
    if let Some(path) = ca_file {
        let pem = std::fs::read(path)
            .map_err(|e| format!("store.azure.ca_file {}: {e}", path.display()))?;
        for cert in rustls::pki_types::CertificateDer::pem_slice_iter(&pem) {
            let cert = cert.map_err(|e| format!("store.azure.ca_file {}: {e}", path.display()))?;
            roots
                .add(cert)
                .map_err(|e| format!("store.azure.ca_file {}: {e}", path.display()))?;
        }
    }
    let tls = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .https_only(true)
        // A vault that never answers fails the attempt; the store's
        // `timeout` bounds the call with its retries.
        .connect_timeout(std::time::Duration::from_secs(5))
        .timeout(std::time::Duration::from_secs(10))
        .build()
        .map_err(|e| format!("cannot build the HTTPS client: {e}"))
}

fn credential(options: &ClientOptions) -> azure_core::Result<Arc<dyn TokenCredential>> {
    if std::env::var_os("AZURE_FEDERATED_TOKEN_FILE").is_some() {
        return Ok(WorkloadIdentityCredential::new(Some(
            WorkloadIdentityCredentialOptions {
                credential_options: ClientAssertionCredentialOptions {
                    client_options: options.clone(),
                },
                ..Default::default()
            },
        ))?);
    }
    let managed = std::env::var_os("IDENTITY_ENDPOINT").is_some()
        || std::env::var_os("MSI_ENDPOINT").is_some();
    let az = std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join("az").is_file()));
    if az && !managed {
        return Ok(AzureCliCredential::new(None)?);
    }
    Ok(ManagedIdentityCredential::new(Some(
        ManagedIdentityCredentialOptions {
            client_options: options.clone(),
            ..Default::default()
        },
    ))?)
}

#[async_trait]
impl SecretStore for AzureStore {
    fn describe(&self) -> String {
        self.name()
    }

    async fn read(&self) -> Result<StoreState, StoreError> {
        let (current, secret) = self.get(None).await?;
        let published_at = secret
            .attributes
            .as_ref()
            .and_then(|a| a.created)
            .and_then(|t| chrono::DateTime::from_timestamp(t.unix_timestamp(), 0));
        let previous_id = match tag(&secret, TAG_REPLACES) {
            Some(id) => Some(id.to_owned()),
            None => {
                // Adopted: the enabled version created just before current.
                let created = published_at.map(|t| t.timestamp()).unwrap_or(i64::MAX);
                let mut older: Vec<Listed> = self
                    .versions()
                    .await?
                    .into_iter()
                    .filter(|v| v.enabled && v.id != current.version && v.created <= created)
                    .collect();
                older.sort_by_key(|v| v.created);
                older.pop().map(|v| v.id)
            }
        };
        let previous = match previous_id {
            Some(id) => Some(self.get(Some(&id)).await?.0),
            None => None,
        };
        let pending = companion::pending(self, &current).await?;
        Ok(StoreState {
            current,
            previous,
            pending,
            published_at,
        })
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
impl WithCompanion for AzureStore {
    fn name(&self) -> String {
        AzureStore::name(self)
    }

    async fn current(&self) -> Result<Versioned, StoreError> {
        Ok(self.get(None).await?.0)
    }

    async fn current_version(&self) -> Result<String, StoreError> {
        // The value comes with the id in one call.
        Ok(self.get(None).await?.0.version)
    }

    async fn add(&self, request: PublishRequest<'_>) -> Result<String, StoreError> {
        self.add_version(request).await
    }

    async fn companion(&self) -> Result<Option<Companion>, StoreError> {
        let got = self.client.get_secret(&self.companion, None).await;
        let secret = match got {
            Ok(r) => r.into_model().map_err(|e| self.error(GET, e))?,
            Err(e) if status_of(&e) == Some(404) => return Ok(None),
            Err(e) => return Err(self.error(GET, e)),
        };
        let text = secret.value.as_deref().unwrap_or_default();
        if text.is_empty() {
            return Ok(None);
        }
        Companion::decode(text)
            .map(Some)
            .map_err(|problem| StoreError::Malformed {
                store: self.name(),
                problem: format!("the pending secret {}: {problem}", self.companion),
            })
    }

    async fn set_companion(&self, companion: &Companion) -> Result<(), StoreError> {
        let parameters = SetSecretParameters {
            value: Some(companion.encode()),
            content_type: Some("application/json".into()),
            ..Default::default()
        };
        let body = parameters.try_into().map_err(|e| self.error(SET, e))?;
        self.client
            .set_secret(&self.companion, body, None)
            .await
            .map_err(|e| self.error(SET, e))?;
        Ok(())
    }

    fn clear_hint(&self) -> String {
        let vault = self
            .vault
            .trim_start_matches("https://")
            .split('.')
            .next()
            .unwrap_or_default();
        format!(
            "If no rotation is running, clear it: az keyvault secret set --vault-name {vault} --name {} --value '{{\"pending\": null}}'",
            self.companion
        )
    }
}

impl AzureStore {
    /// Sets `request.document` as the newest version, with the
    /// compare-and-swap described at the top.
    async fn add_version(&self, request: PublishRequest<'_>) -> Result<String, StoreError> {
        let (current, secret) = self.get(None).await?;
        if tag(&secret, TAG_VERSION) == Some(request.token) {
            return Ok(current.version); // a retry of a publish that landed
        }
        if current.version != request.replaces {
            return Err(StoreError::Conflict {
                store: self.name(),
                expected: request.replaces.into(),
                found: current.version,
            });
        }
        let replaced_at = secret
            .attributes
            .as_ref()
            .and_then(|a| a.created)
            .map(|t| t.unix_timestamp())
            .unwrap_or(0);
        let value = serde_json::to_string(&request.document.to_value()).map_err(|e| {
            StoreError::Malformed {
                store: self.name(),
                problem: format!("cannot encode the document: {e}"),
            }
        })?;
        let mut tags = HashMap::from([
            (TAG_VERSION.to_owned(), request.token.to_owned()),
            (TAG_REPLACES.to_owned(), request.replaces.to_owned()),
        ]);
        if let Ok(user) = request.document.username() {
            tags.insert(TAG_USER.to_owned(), user.to_owned());
        }
        let parameters = SetSecretParameters {
            value: Some(value),
            content_type: Some("application/json".into()),
            tags: Some(tags),
            ..Default::default()
        };
        let body = parameters.try_into().map_err(|e| self.error(SET, e))?;
        let set = self
            .client
            .set_secret(&self.secret, body, None)
            .await
            .map_err(|e| self.error(SET, e))?
            .into_model()
            .map_err(|e| self.error(SET, e))?;
        let ours = set
            .id
            .as_deref()
            .map(version_id)
            .unwrap_or_default()
            .to_owned();
        // The second half of the compare-and-swap: nobody slipped in.
        let (latest, _) = self.get(None).await?;
        if latest.version != ours {
            return Err(StoreError::Conflict {
                store: self.name(),
                expected: ours,
                found: format!(
                    "{} (set by another writer right after ours)",
                    latest.version
                ),
            });
        }
        let others: Vec<String> = self
            .versions()
            .await?
            .into_iter()
            .filter(|v| v.id != ours && v.id != request.replaces && v.created > replaced_at)
            .map(|v| v.id)
            .collect();
        if let Some(other) = others.first() {
            return Err(StoreError::Conflict {
                store: self.name(),
                expected: request.replaces.into(),
                found: format!("{other} (set beside ours, version {ours})"),
            });
        }
        Ok(ours)
    }
}
