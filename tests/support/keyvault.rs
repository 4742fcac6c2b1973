//! A stateful fake of Azure Key Vault's secrets data plane (api-version
//! 2025-07-01) and of Entra ID's token endpoint, served over HTTPS with a
//! CA and a leaf (`*.vault.azure.net`, `login.microsoftonline.com`)
//! generated at test time. No emulator of Key Vault can be installed here.
//!
//! The SDK only talks to hosts under `vault.azure.net` (it checks the
//! challenge's resource against the vault's host), so the vaults keep
//! their real-looking names and an HTTP CONNECT proxy (`HTTPS_PROXY`, which
//! seesaw's client honours as any operator's would) carries every
//! connection to the one fake server. One server and proxy serve the whole
//! test process; each [`Vault`] is a distinct host with its own state.
//!
//! Behaviour follows the REST reference: a request without a bearer token
//! gets 401 with a `WWW-Authenticate: Bearer authorization=..., resource=...`
//! challenge (the SDK sends its first request without a body and expects
//! it); `PUT /secrets/{name}` adds a version with a 32-hex id; `GET
//! /secrets/{name}` is the latest version; `GET /secrets/{name}/versions`
//! lists properties without values; unknown secrets are 404
//! `SecretNotFound`; timestamps are Unix seconds.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

pub const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const TOKEN_PREFIX: &str = "fake-entra-token-";

/// What a vault does with requests, for fault injection.
#[derive(Clone, Debug, Default)]
pub enum Mode {
    #[default]
    Normal,
    /// Answer the next `n` authorised requests with 429.
    Throttle(u32),
    /// Answer every authorised request with 403 ForbiddenByRbac.
    Deny,
}

#[derive(Debug, Clone)]
struct Version {
    id: String,
    value: String,
    tags: Value,
    content_type: Option<String>,
    created: i64,
}

#[derive(Default)]
struct VaultState {
    secrets: HashMap<String, Vec<Version>>,
    mode: Mode,
    throttled: u32,
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
                let tls = tls_config(&ca);
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
        // Set once, before any client is built: reqwest reads it at build.
        std::env::set_var("HTTPS_PROXY", format!("http://{proxy}"));
        std::env::remove_var("NO_PROXY");
        std::env::remove_var("no_proxy");
        Shared {
            server,
            ca_file,
            proxy: format!("http://{proxy}"),
            _dir: dir,
        }
    })
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
        let token = s.ca_file.with_file_name("token");
        let env = vec![
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
        ];
        for (k, v) in &env {
            std::env::set_var(k, v);
        }
        Vault {
            url: format!("https://{host}"),
            host,
            ca_file: s.ca_file.clone(),
            proxy: s.proxy.clone(),
            env,
            server: s.server.clone(),
        }
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

    /// Sets a new version, as `az keyvault secret set` would.
    pub fn set(&self, secret: &str, document: &Value) {
        let mut vaults = self.server.vaults.lock().unwrap();
        let vault = vaults.get_mut(&self.host).unwrap();
        add_version(
            &self.server,
            vault,
            secret,
            document.to_string(),
            json!({}),
            None,
        );
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

fn add_version(
    server: &Server,
    vault: &mut VaultState,
    secret: &str,
    value: String,
    tags: Value,
    content_type: Option<String>,
) -> Version {
    let n = server.next.fetch_add(1, Ordering::SeqCst);
    let version = Version {
        id: format!("{:032x}", 0x5ee5a3u128 << 64 | n as u128),
        value,
        tags,
        content_type,
        created: chrono::Utc::now().timestamp(),
    };
    vault
        .secrets
        .entry(secret.to_owned())
        .or_default()
        .push(version.clone());
    version
}

fn tls_config(ca: &super::tls::TestCa) -> Arc<rustls::ServerConfig> {
    use rustls::pki_types::pem::PemObject;
    let certs = rustls::pki_types::CertificateDer::pem_slice_iter(ca.cert_pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let key = rustls::pki_types::PrivateKeyDer::from_pem_slice(ca.key_pem.as_bytes()).unwrap();
    let mut config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Arc::new(config)
}

struct TlsListener {
    tcp: tokio::net::TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
}

impl axum::serve::Listener for TlsListener {
    type Io = tokio_rustls::server::TlsStream<tokio::net::TcpStream>;
    type Addr = std::net::SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let Ok((tcp, addr)) = self.tcp.accept().await else {
                continue;
            };
            if let Ok(tls) = self.acceptor.accept(tcp).await {
                return (tls, addr);
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.tcp.local_addr()
    }
}

/// `CONNECT host:443` for any host: a tunnel to the fake server.
async fn connect_proxy(listener: tokio::net::TcpListener, target: std::net::SocketAddr) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    loop {
        let Ok((mut client, _)) = listener.accept().await else {
            continue;
        };
        tokio::spawn(async move {
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") {
                if client.read(&mut byte).await.ok() != Some(1) {
                    return;
                }
                head.push(byte[0]);
            }
            if !head.starts_with(b"CONNECT ") {
                let _ = client
                    .write_all(b"HTTP/1.1 405 Method Not Allowed\r\ncontent-length: 0\r\n\r\n")
                    .await;
                return;
            }
            let Ok(mut server) = tokio::net::TcpStream::connect(target).await else {
                return;
            };
            if client
                .write_all(b"HTTP/1.1 200 Connection established\r\n\r\n")
                .await
                .is_ok()
            {
                let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
            }
        });
    }
}

fn router(server: Arc<Server>) -> Router {
    Router::new()
        .route("/{tenant}/oauth2/v2.0/token", post(token))
        .route("/secrets/{name}", get(get_latest).put(set_secret))
        // The SDK asks for the latest version as `/secrets/{name}/`.
        .route("/secrets/{name}/", get(get_latest))
        .route("/secrets/{name}/versions", get(list_versions))
        .route("/secrets/{name}/{version}", get(get_version))
        .with_state(server)
}

async fn token(Path(tenant): Path<String>, body: String) -> Response {
    let form: HashMap<String, String> = url::form_urlencoded::parse(body.as_bytes())
        .into_owned()
        .collect();
    let ok = tenant == TENANT
        && form.get("grant_type").map(String::as_str) == Some("client_credentials")
        && form.get("client_assertion").map(String::as_str)
            == Some("federated-service-account-token")
        && form.get("scope").map(String::as_str) == Some("https://vault.azure.net/.default");
    if !ok {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": "invalid_request", "error_description": "AADSTS900144: the request is not a valid client-assertion grant for Key Vault"})),
        )
            .into_response();
    }
    Json(json!({
        "token_type": "Bearer",
        "expires_in": 3599,
        "ext_expires_in": 3599,
        "access_token": format!("{TOKEN_PREFIX}{}", form["client_id"]),
    }))
    .into_response()
}

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        Json(json!({"error": {"code": code, "message": message}})),
    )
        .into_response()
}

/// The checks every data-plane call goes through, then `f` on the vault.
fn with_vault(
    server: &Server,
    headers: &HeaderMap,
    query: &HashMap<String, String>,
    f: impl FnOnce(&Server, &mut VaultState, &str) -> Response,
) -> Response {
    let host = headers
        .get("host")
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default()
        .split(':')
        .next()
        .unwrap_or_default()
        .to_owned();
    let authorized = headers
        .get("authorization")
        .and_then(|h| h.to_str().ok())
        .is_some_and(|h| h.starts_with(&format!("Bearer {TOKEN_PREFIX}")));
    if !authorized {
        let challenge = format!(
            "Bearer authorization=\"https://login.microsoftonline.com/{TENANT}\", resource=\"https://vault.azure.net\""
        );
        let mut response = error(
            StatusCode::UNAUTHORIZED,
            "Unauthorized",
            "AKV10000: Request is missing a Bearer or PoP token.",
        );
        response
            .headers_mut()
            .insert("www-authenticate", challenge.parse().unwrap());
        return response;
    }
    if query.get("api-version").map(String::as_str) != Some("2025-07-01") {
        return error(
            StatusCode::BAD_REQUEST,
            "BadParameter",
            "The api-version is missing or not supported.",
        );
    }
    let mut vaults = server.vaults.lock().unwrap();
    let Some(vault) = vaults.get_mut(&host) else {
        return error(StatusCode::NOT_FOUND, "VaultNotFound", "No such vault.");
    };
    match vault.mode.clone() {
        Mode::Deny => {
            return (
                StatusCode::FORBIDDEN,
                Json(json!({"error": {"code": "Forbidden", "message": "Caller is not authorized to perform action on resource. Action: 'Microsoft.KeyVault/vaults/secrets/getSecret/action'", "innererror": {"code": "ForbiddenByRbac"}}})),
            )
                .into_response()
        }
        Mode::Throttle(n) if vault.throttled < n => {
            vault.throttled += 1;
            let mut response = error(
                StatusCode::TOO_MANY_REQUESTS,
                "Throttled",
                "Request was not processed because too many requests were received.",
            );
            response
                .headers_mut()
                .insert("retry-after-ms", "10".parse().unwrap());
            return response;
        }
        _ => {}
    }
    f(server, vault, &host)
}

fn bundle(host: &str, name: &str, v: &Version, with_value: bool) -> Value {
    let mut out = json!({
        "id": format!("https://{host}/secrets/{name}/{}", v.id),
        "attributes": {
            "enabled": true,
            "created": v.created,
            "updated": v.created,
            "recoveryLevel": "Recoverable+Purgeable",
            "recoverableDays": 90,
        },
        "tags": v.tags,
    });
    if let Some(ct) = &v.content_type {
        out["contentType"] = json!(ct);
    }
    if with_value {
        out["value"] = json!(v.value);
    }
    out
}

fn not_found(name: &str) -> Response {
    error(
        StatusCode::NOT_FOUND,
        "SecretNotFound",
        &format!("A secret with (name/id) {name} was not found in this key vault. If you recently deleted this secret you may be able to recover it using the correct recovery command."),
    )
}

async fn get_latest(
    State(server): State<Arc<Server>>,
    Path(name): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    with_vault(&server, &headers, &query, |_, vault, host| {
        match vault.secrets.get(&name).and_then(|v| v.last()) {
            Some(v) => Json(bundle(host, &name, v, true)).into_response(),
            None => not_found(&name),
        }
    })
}

async fn get_version(
    State(server): State<Arc<Server>>,
    Path((name, version)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    with_vault(&server, &headers, &query, |_, vault, host| {
        let found = vault
            .secrets
            .get(&name)
            .and_then(|versions| versions.iter().find(|v| v.id == version));
        match found {
            Some(v) => Json(bundle(host, &name, v, true)).into_response(),
            None => not_found(&format!("{name}/{version}")),
        }
    })
}

async fn list_versions(
    State(server): State<Arc<Server>>,
    Path(name): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    with_vault(&server, &headers, &query, |_, vault, host| {
        match vault.secrets.get(&name) {
            Some(versions) => Json(json!({
                "value": versions.iter().map(|v| bundle(host, &name, v, false)).collect::<Vec<_>>(),
                "nextLink": null,
            }))
            .into_response(),
            None => not_found(&name),
        }
    })
}

async fn set_secret(
    State(server): State<Arc<Server>>,
    Path(name): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: String,
) -> Response {
    with_vault(&server, &headers, &query, |server, vault, host| {
        let valid_name = !name.is_empty()
            && name.len() <= 127
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
        if !valid_name {
            return error(
                StatusCode::BAD_REQUEST,
                "BadParameter",
                "The request URI contains an invalid name.",
            );
        }
        let Ok(body) = serde_json::from_str::<Value>(&body) else {
            return error(
                StatusCode::BAD_REQUEST,
                "BadParameter",
                "The request body is not valid JSON.",
            );
        };
        let Some(value) = body.get("value").and_then(Value::as_str) else {
            return error(
                StatusCode::BAD_REQUEST,
                "BadParameter",
                "Property value is required.",
            );
        };
        let tags = body.get("tags").cloned().unwrap_or(json!({}));
        if tags.as_object().is_some_and(|t| t.len() > 15) {
            return error(StatusCode::BAD_REQUEST, "BadParameter", "At most 15 tags.");
        }
        let content_type = body
            .get("contentType")
            .and_then(Value::as_str)
            .map(str::to_owned);
        let v = add_version(server, vault, &name, value.to_owned(), tags, content_type);
        Json(bundle(host, &name, &v, true)).into_response()
    })
}
