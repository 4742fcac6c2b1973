//! The REST endpoints: Entra ID's token, and Key Vault's secrets data plane
//! (get, list and set versions) with its challenges and errors.

use super::{add_version, Mode, Server, VaultState, Version, TENANT, TOKEN_PREFIX};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;

pub(super) fn router(server: Arc<Server>) -> Router {
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
        Mode::Garbage(status, content_type, body) => {
            return (
                StatusCode::from_u16(status).unwrap(),
                [("content-type", content_type)],
                body,
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
    use super::super::fault::When;
    let crashed = || error(StatusCode::BAD_REQUEST, "CrashInjected", "crash injected");
    if vault.crash.dead {
        return crashed();
    }
    let n = vault.crash.count;
    vault.crash.count += 1;
    let at = match vault.crash.armed {
        Some((at, when)) if at == n => {
            vault.crash.fired = true;
            vault.crash.dead = true;
            Some(when)
        }
        _ => None,
    };
    if at == Some(When::Before) {
        return crashed();
    }
    let response = f(server, vault, &host);
    if at == Some(When::After) {
        return crashed();
    }
    response
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
