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

mod calls;
mod client;
mod secret_store;

use crate::config::AzureStoreConfig;
use crate::environment::Environment;
use crate::store::StoreError;
use azure_core::http::{ClientOptions, ExponentialRetryOptions, RetryOptions, Transport};
use azure_security_keyvault_secrets::{SecretClient, SecretClientOptions};
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

    pub fn connect(config: &AzureStoreConfig, env: &Environment) -> Result<AzureStore, StoreError> {
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
        let http = client::http_client(config.ca_file.as_deref(), env).map_err(&fail)?;
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
        let credential = client::credential(&client_options, env).map_err(|e| {
            fail(format!(
                "no usable credentials{}; on AKS enable workload identity for seesaw's \
                service account (AZURE_CLIENT_ID, AZURE_TENANT_ID, AZURE_FEDERATED_TOKEN_FILE), \
                    elsewhere use a managed identity or `az \
                        login`",
                crate::reason::cause(&e)
                    .map(|c| format!(
                        " \
                            ({c})"
                    ))
                    .unwrap_or_default()
            ))
        })?;
        let client = SecretClient::new(
            &config.vault_url,
            credential,
            Some(SecretClientOptions {
                client_options,
                ..Default::default()
            }),
        )
        .map_err(|_| fail("store.azure.vault_url: not a vault URL the client accepts".into()))?;
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
}
