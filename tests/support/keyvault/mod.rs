//! A stateful fake of Azure Key Vault's secrets data plane and of Entra
//! ID's token endpoint, served over HTTPS with a CA and a leaf
//! (`*.vault.azure.net`, `login.microsoftonline.com`) generated at test
//! time. No emulator of Key Vault can be installed here, so the fake is held
//! to Azure's own Python SDK (`tests/azure_sdk.rs`) and to the SDKs'
//! recordings of the real service; docs/azure-testing.md lists what was
//! compared and what differs.
//!
//! The SDKs only talk to hosts under `vault.azure.net` (they check the
//! challenge's resource against the vault's host), so the vaults keep
//! their real-looking names and an HTTP CONNECT proxy (`HTTPS_PROXY`, which
//! seesaw's client honours as any operator's would) carries every
//! connection to the one fake server. One server and proxy serve the whole
//! test process; each [`Vault`] is a distinct host with its own state.
//!
//! As the recordings and the REST reference show: a request without a
//! valid bearer token gets 401 with a `WWW-Authenticate` challenge (the
//! SDKs send their first request without a body and expect it; an expired
//! token or one for another audience gets the same challenge); `PUT
//! /secrets/{name}` adds a version with a random 32-hex id; `GET
//! /secrets/{name}/` is the latest version, 403 `SecretDisabled` when that
//! version is disabled; `PATCH` updates a version's properties; `GET
//! /secrets/{name}/versions` lists properties without values, sorted by
//! version id, 25 a page; unknown secrets are 404 `SecretNotFound`;
//! timestamps are Unix seconds.

mod entra;
mod network;
mod plane;
mod routes;

use network::{connect_proxy, TlsListener};
use routes::router;
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

pub const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";

/// What a vault does with requests, for fault injection.
#[derive(Clone, Debug, Default)]
pub enum Mode {
    #[default]
    Normal,
    /// Answer the next `n` authorised requests with 429 and no
    /// `Retry-After`, as the one recorded 429 of the real service has none.
    Throttle(u32),
    /// Answer the next `n` (first field) authorised requests with 429 and
    /// `Retry-After: <seconds>` (second field).
    ThrottleRetryAfter(u32, u32),
    /// Answer every authorised request with 403 ForbiddenByRbac.
    Deny,
    /// Answer every authorised request with this status, content type and
    /// body, as a broken proxy or a garbled answer would.
    Garbage(u16, &'static str, String),
}

#[derive(Debug, Clone)]
struct Version {
    id: String,
    value: String,
    /// `None` when the version was set without tags: the service then
    /// leaves `tags` out of its answers.
    tags: Option<Map<String, Value>>,
    content_type: Option<String>,
    enabled: bool,
    /// Not-before and expiry: stored and echoed, never enforced (the real
    /// service still serves an expired secret; see docs/azure-testing.md).
    nbf: Option<i64>,
    exp: Option<i64>,
    created: i64,
    updated: i64,
}

#[derive(Default)]
struct VaultState {
    secrets: HashMap<String, Vec<Version>>,
    mode: Mode,
    throttled: u32,
    crash: Crash,
}

/// A crash at the armed authorised request: before it is served, or after
/// it took effect with its answer lost; from then on every request is
/// refused with a non-retryable error, as from a process that died there.
#[derive(Default)]
struct Crash {
    count: usize,
    armed: Option<(usize, super::fault::When)>,
    fired: bool,
    dead: bool,
}

#[derive(Default)]
struct Server {
    vaults: Mutex<HashMap<String, VaultState>>,
    next: AtomicU64,
}

struct Shared {
    server: Arc<Server>,
    ca_file: std::path::PathBuf,
    proxy: String,
    _dir: tempfile::TempDir,
}

/// One vault on the shared fake server.
pub struct Vault {
    pub host: String,
    pub url: String,
    /// The test CA, for `store.azure.ca_file`.
    pub ca_file: std::path::PathBuf,
    /// `http://127.0.0.1:<port>`, for `HTTPS_PROXY`.
    pub proxy: String,
    /// The environment seesaw needs to authenticate with workload identity
    /// against the fake Entra ID.
    pub env: Vec<(String, String)>,
    server: Arc<Server>,
}

fn shared() -> &'static Shared {
    static SHARED: OnceLock<Shared> = OnceLock::new();
    SHARED.get_or_init(|| {
        seesaw::install_crypto_provider();
        let dir = tempfile::tempdir().unwrap();
        let ca = super::tls::TestCa::new(&["*.vault.azure.net", "login.microsoftonline.com"]);
        let ca_file = dir.path().join("ca.pem");
        std::fs::write(&ca_file, &ca.ca_pem).unwrap();
        std::fs::write(dir.path().join("token"), "federated-service-account-token").unwrap();
        let server = Arc::new(Server::default());
        let (tx, rx) = std::sync::mpsc::channel();
        let state = server.clone();
        // Its own runtime: each #[tokio::test] has one that ends with it.
        std::thread::spawn(move || {
            let rt = tokio::runtime::Runtime::new().unwrap();
            rt.block_on(async move {
                let tls = ca.server_config();
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                let https = listener.local_addr().unwrap();
                let proxy = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                tx.send(proxy.local_addr().unwrap()).unwrap();
                tokio::spawn(connect_proxy(proxy, https));
                let listener = TlsListener {
                    tcp: listener,
                    acceptor: tokio_rustls::TlsAcceptor::from(tls),
                };
                axum::serve(listener, router(state)).await.unwrap();
            });
        });
        let proxy = rx.recv().unwrap();
        Shared {
            server,
            ca_file,
            proxy: format!("http://{proxy}"),
            _dir: dir,
        }
    })
}

/// What seesaw needs to reach every vault here with workload identity
/// against the fake Entra ID: the proxy and the federated token.
fn workload_identity() -> Vec<(String, String)> {
    let s = shared();
    let token = s.ca_file.with_file_name("token");
    vec![
        ("HTTPS_PROXY".into(), s.proxy.clone()),
        ("AZURE_TENANT_ID".into(), TENANT.into()),
        (
            "AZURE_CLIENT_ID".into(),
            "00000000-0000-0000-0000-0000000000aa".into(),
        ),
        (
            "AZURE_FEDERATED_TOKEN_FILE".into(),
            token.display().to_string(),
        ),
    ]
}

/// [`workload_identity`] for an in-process seesaw, with the test admin
/// passwords; the process's environment is not touched.
pub fn environment() -> seesaw::environment::Environment {
    workload_identity()
        .into_iter()
        .fold(super::seesaw::environment(), |env, (k, v)| env.with(k, v))
}

impl Vault {
    /// A new, empty vault.
    pub fn start() -> Vault {
        let s = shared();
        let n = s.server.next.fetch_add(1, Ordering::SeqCst);
        let host = format!("seesaw-test-{n}.vault.azure.net");
        s.server
            .vaults
            .lock()
            .unwrap()
            .insert(host.clone(), VaultState::default());
        Vault {
            url: format!("https://{host}"),
            host,
            ca_file: s.ca_file.clone(),
            proxy: s.proxy.clone(),
            env: workload_identity(),
            server: s.server.clone(),
        }
    }

    /// seesaw's store for `secret` here, in process.
    pub fn store(&self, secret: &str) -> seesaw::store::AzureStore {
        seesaw::store::AzureStore::connect(&self.config(secret), &environment()).unwrap()
    }

    pub fn config(&self, secret: &str) -> seesaw::config::AzureStoreConfig {
        seesaw::config::AzureStoreConfig {
            vault_url: self.url.clone(),
            secret: secret.into(),
            ca_file: Some(self.ca_file.clone()),
            pending_secret: None,
            timeout: seesaw::config::default_store_timeout(),
        }
    }

    /// Sets a new version, as `az keyvault secret set` would; its id.
    pub fn set(&self, secret: &str, document: &Value) -> String {
        let mut vaults = self.server.vaults.lock().unwrap();
        let vault = vaults.get_mut(&self.host).unwrap();
        add_version(vault, secret, document.to_string(), Properties::default()).id
    }

    /// An access token for this fake's vaults, as Entra ID would issue
    /// one, that expires `valid_for` seconds from now (in the past when
    /// negative), for a client that authenticates by itself.
    pub fn token(&self, valid_for: i64) -> String {
        entra::mint(
            "00000000-0000-0000-0000-0000000000bb",
            entra::AUDIENCE,
            chrono::Utc::now().timestamp() + valid_for,
        )
    }

    /// A token Entra ID would issue for another resource (Azure Resource
    /// Manager), which Key Vault refuses.
    pub fn token_for_another_audience(&self) -> String {
        entra::mint(
            "00000000-0000-0000-0000-0000000000bb",
            "https://management.azure.com/",
            chrono::Utc::now().timestamp() + 3600,
        )
    }

    /// Disables `version` of `secret`, as an operator would with `az
    /// keyvault secret set-attributes --enabled false`.
    pub fn disable(&self, secret: &str, version: &str) {
        let mut vaults = self.server.vaults.lock().unwrap();
        let versions = vaults.get_mut(&self.host).unwrap().secrets.get_mut(secret);
        let found = versions.and_then(|v| v.iter_mut().find(|v| v.id == version));
        let found = found.expect("no such version");
        found.enabled = false;
        found.updated = chrono::Utc::now().timestamp();
    }

    /// Crash at authorised request `n` (from 0) of what comes next.
    pub fn arm_crash(&self, n: usize, when: super::fault::When) {
        let mut vaults = self.server.vaults.lock().unwrap();
        vaults.get_mut(&self.host).unwrap().crash = Crash {
            armed: Some((n, when)),
            ..Crash::default()
        };
    }

    pub fn disarm_crash(&self) {
        let mut vaults = self.server.vaults.lock().unwrap();
        vaults.get_mut(&self.host).unwrap().crash = Crash::default();
    }

    /// (requests since armed, whether the crash happened)
    pub fn crash_state(&self) -> (usize, bool) {
        let vaults = self.server.vaults.lock().unwrap();
        let c = &vaults[&self.host].crash;
        (c.count, c.fired)
    }

    pub fn set_mode(&self, mode: Mode) {
        let mut vaults = self.server.vaults.lock().unwrap();
        let vault = vaults.get_mut(&self.host).unwrap();
        vault.mode = mode;
        vault.throttled = 0;
    }

    /// How many requests were answered 429.
    pub fn throttled(&self) -> u32 {
        self.server.vaults.lock().unwrap()[&self.host].throttled
    }

    pub fn versions(&self, secret: &str) -> usize {
        self.server.vaults.lock().unwrap()[&self.host]
            .secrets
            .get(secret)
            .map_or(0, Vec::len)
    }
}

/// What a `PUT` may set beside the value.
#[derive(Debug, Default)]
struct Properties {
    tags: Option<Map<String, Value>>,
    content_type: Option<String>,
    enabled: Option<bool>,
    nbf: Option<i64>,
    exp: Option<i64>,
}

fn add_version(vault: &mut VaultState, secret: &str, value: String, set: Properties) -> Version {
    let now = chrono::Utc::now().timestamp();
    let version = Version {
        id: version_id(),
        value,
        tags: set.tags.filter(|t| !t.is_empty()),
        content_type: set.content_type,
        enabled: set.enabled.unwrap_or(true),
        nbf: set.nbf,
        exp: set.exp,
        created: now,
        updated: now,
    };
    vault
        .secrets
        .entry(secret.to_owned())
        .or_default()
        .push(version.clone());
    version
}

/// A random version id: Key Vault's are UUIDs (version 4) without dashes,
/// so their order says nothing of when they were created.
fn version_id() -> String {
    let bits: u128 = rand::random();
    let uuid = (bits & !(0xf << 76) & !(0x3 << 62)) | (0x4 << 76) | (0x2 << 62);
    format!("{uuid:032x}")
}
