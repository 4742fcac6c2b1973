//! The secret store of a target: exactly one backend.

use super::*;

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(try_from = "RawStore")]
pub enum StoreConfig {
    /// A local JSON file `{"current": {...}, "previous": {...} | null}`.
    File(FileStoreConfig),
    /// AWS Secrets Manager.
    Aws(AwsStoreConfig),
    /// GCP Secret Manager.
    Gcp(GcpStoreConfig),
    /// Azure Key Vault.
    Azure(AzureStoreConfig),
}

impl StoreConfig {
    /// The key under `store:` that chose this backend.
    pub fn backend(&self) -> &'static str {
        match self {
            StoreConfig::File(_) => "file",
            StoreConfig::Aws(_) => "aws",
            StoreConfig::Gcp(_) => "gcp",
            StoreConfig::Azure(_) => "azure",
        }
    }

    /// The bound on each store call (the file store's is fixed).
    pub fn timeout(&self) -> Duration {
        match self {
            StoreConfig::File(_) => default_store_timeout(),
            StoreConfig::Aws(a) => a.timeout,
            StoreConfig::Gcp(g) => g.timeout,
            StoreConfig::Azure(a) => a.timeout,
        }
    }
}

pub fn default_store_timeout() -> Duration {
    Duration::from_secs(30)
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct GcpStoreConfig {
    /// Project id (or number) holding the secret.
    pub project: String,
    /// The secret's id within the project.
    pub secret: String,
    /// Another endpoint (a regional or private endpoint, or an emulator in
    /// tests). A plain `http://` endpoint gets no credentials: a token never
    /// travels unencrypted.
    #[serde(default)]
    pub endpoint: Option<String>,
    /// The companion secret that holds a rotation's pending credential
    /// until it is promoted (`<secret>-pending` by default; it must exist,
    /// with the same access as the secret: policies/gcp/README.md).
    #[serde(default)]
    pub pending_secret: Option<String>,
    /// Upper bound on each call to the store (a request and its retries);
    /// an endpoint that accepts the connection and never answers fails
    /// after this instead of hanging the rotation. 30s by default.
    #[serde(
        default = "default_store_timeout",
        deserialize_with = "crate::duration::deserialize_positive"
    )]
    pub timeout: Duration,
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct AzureStoreConfig {
    /// `https://<vault>.vault.azure.net`
    pub vault_url: String,
    /// The secret's name in the vault.
    pub secret: String,
    /// A PEM file of extra CA certificates to trust for the vault
    /// (a private endpoint behind a TLS-inspecting proxy, or tests).
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// The companion secret that holds a rotation's pending credential
    /// until it is promoted (`<secret>-pending` by default; seesaw creates
    /// it on first use: policies/azure/README.md).
    #[serde(default)]
    pub pending_secret: Option<String>,
    /// Upper bound on each call to the store (a request and its retries);
    /// an endpoint that accepts the connection and never answers fails
    /// after this instead of hanging the rotation. 30s by default.
    #[serde(
        default = "default_store_timeout",
        deserialize_with = "crate::duration::deserialize_positive"
    )]
    pub timeout: Duration,
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct AwsStoreConfig {
    /// Name or ARN of the secret.
    pub secret_id: String,
    /// Region; else from the environment / profile.
    #[serde(default)]
    pub region: Option<String>,
    /// Another endpoint (a VPC endpoint, or a local emulator in tests).
    #[serde(default)]
    pub endpoint_url: Option<String>,
    /// Upper bound on each call to the store (a request and its retries);
    /// an endpoint that accepts the connection and never answers fails
    /// after this instead of hanging the rotation. 30s by default.
    #[serde(
        default = "default_store_timeout",
        deserialize_with = "crate::duration::deserialize_positive"
    )]
    pub timeout: Duration,
}

/// `store:` as written: a map with exactly one backend key. (A struct of
/// options rather than a serde enum, so YAML's map form always parses and
/// the error lists the backends.)
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStore {
    #[serde(default)]
    file: Option<FileStoreConfig>,
    #[serde(default)]
    aws: Option<AwsStoreConfig>,
    #[serde(default)]
    gcp: Option<GcpStoreConfig>,
    #[serde(default)]
    azure: Option<AzureStoreConfig>,
}

impl TryFrom<RawStore> for StoreConfig {
    type Error = String;
    fn try_from(raw: RawStore) -> Result<Self, String> {
        let RawStore {
            file,
            aws,
            gcp,
            azure,
        } = raw;
        let mut chosen: Vec<StoreConfig> = Vec::new();
        chosen.extend(file.map(StoreConfig::File));
        chosen.extend(aws.map(StoreConfig::Aws));
        chosen.extend(gcp.map(StoreConfig::Gcp));
        chosen.extend(azure.map(StoreConfig::Azure));
        if chosen.len() > 1 {
            return Err("expected exactly one store (file, aws, gcp or azure), got several".into());
        }
        let Some(store) = chosen.pop() else {
            return Err(
                "expected one store: `file: { path: ./secret.json }`, `aws: \
                { secret_id: ..., region: ... }`, `gcp: { project: ..., secret: ... }` or \
                    `azure: { vault_url: https://<vault>.vault.azure.net, secret: ... }`"
                    .into(),
            );
        };
        match &store {
            StoreConfig::Aws(a) if a.secret_id.is_empty() => {
                Err("aws.secret_id: expected the secret's name or ARN".into())
            }
            StoreConfig::Gcp(g) if g.project.is_empty() || g.secret.is_empty() => Err(
                "gcp: expected `project` and `secret` (the secret's id, not its full \
                    resource name)"
                    .into(),
            ),
            StoreConfig::Gcp(g) if g.secret.contains('/') => Err(format!(
                "gcp.secret: expected the secret's id, got a path ({:?}); put the project under \
                    gcp.project",
                g.secret
            )),
            StoreConfig::Azure(a) if !a.vault_url.starts_with("https://") => Err(format!(
                "azure.vault_url: expected https://<vault>.vault.azure.net, got {:?} (Key Vault \
                    only speaks HTTPS)",
                a.vault_url
            )),
            StoreConfig::Azure(a) if a.secret.is_empty() => {
                Err("azure.secret: expected the secret's name in the vault".into())
            }
            _ => Ok(store),
        }
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct FileStoreConfig {
    pub path: PathBuf,
}
