//! The Key Vault client's HTTPS transport and credential.

use crate::environment::Environment;
use azure_core::credentials::TokenCredential;
use azure_core::http::ClientOptions;
use azure_identity::{
    AzureCliCredential, ClientAssertionCredentialOptions, ManagedIdentityCredential,
    ManagedIdentityCredentialOptions, WorkloadIdentityCredential,
    WorkloadIdentityCredentialOptions,
};
use rustls::pki_types::pem::PemObject;
use std::sync::Arc;

/// reqwest on rustls, trusting the system roots and `ca_file`; through the
/// proxy `env` names explicitly, else the one the process's environment
/// names (reqwest's own lookup).
pub(super) fn http_client(
    ca_file: Option<&std::path::Path>,
    env: &Environment,
) -> Result<reqwest::Client, String> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in crate::roots::system() {
        let _ = roots.add(cert.clone());
    }
    if let Some(path) = ca_file {
        let pem = std::fs::read(path)
            .map_err(|e| format!("store.azure.ca_file {}: {}", path.display(), io_reason(&e)))?;
        for cert in rustls::pki_types::CertificateDer::pem_slice_iter(&pem) {
            let cert = cert.map_err(|_| {
                format!(
                    "store.azure.ca_file {}: not a PEM certificate",
                    path.display()
                )
            })?;
            roots.add(cert).map_err(|_| {
                format!(
                    "store.azure.ca_file {}: a certificate rustls cannot use",
                    path.display()
                )
            })?;
        }
    }
    let tls = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let mut builder = reqwest::Client::builder();
    if let Some(proxy) = env.explicit("HTTPS_PROXY") {
        // An explicit proxy also turns off reqwest's reading of the process's.
        builder = builder.proxy(
            reqwest::Proxy::https(proxy).map_err(|_| "HTTPS_PROXY is not a URL".to_owned())?,
        );
    }
    builder
        .use_preconfigured_tls(tls)
        .https_only(true)
        // A vault that never answers fails the attempt; the store's
        // `timeout` bounds the call with its retries.
        .connect_timeout(std::time::Duration::from_secs(5))
        .timeout(std::time::Duration::from_secs(10))
        .build()
        .map_err(|e| {
            format!(
                "cannot build the HTTPS client{}",
                crate::reason::cause(&e)
                    .map(|c| format!(" ({c})"))
                    .unwrap_or_default()
            )
        })
}

pub(super) fn credential(
    options: &ClientOptions,
    env: &Environment,
) -> azure_core::Result<Arc<dyn TokenCredential>> {
    if let Some(token_file) = env.get("AZURE_FEDERATED_TOKEN_FILE") {
        return Ok(WorkloadIdentityCredential::new(Some(
            WorkloadIdentityCredentialOptions {
                credential_options: ClientAssertionCredentialOptions {
                    client_options: options.clone(),
                },
                client_id: env.get("AZURE_CLIENT_ID"),
                tenant_id: env.get("AZURE_TENANT_ID"),
                token_file_path: Some(token_file.into()),
            },
        ))?);
    }
    let managed = env.get("IDENTITY_ENDPOINT").is_some() || env.get("MSI_ENDPOINT").is_some();
    let az = env
        .get("PATH")
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

fn io_reason(e: &std::io::Error) -> String {
    crate::reason::cause(e).unwrap_or_else(|| format!("{:?}", e.kind()))
}
