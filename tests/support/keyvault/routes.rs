//! The REST endpoints: Entra ID's token, and Key Vault's secrets data plane
//! (set, get, update and list versions).

use super::plane::{error, ok, service_headers, with_vault};
use super::{add_version, entra, Properties, Server, Version};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::Arc;

const GET: &str = "Microsoft.KeyVault/vaults/secrets/getSecret/action";
const SET: &str = "Microsoft.KeyVault/vaults/secrets/setSecret/action";
const READ_METADATA: &str = "Microsoft.KeyVault/vaults/secrets/readMetadata/action";
const UPDATE: &str = "Microsoft.KeyVault/vaults/secrets/update/action";

/// The most versions a listing page holds, and its default size.
const PAGE: usize = 25;

type Args = (Query<HashMap<String, String>>, HeaderMap);

pub(super) fn router(server: Arc<Server>) -> Router {
    let vault = Router::new()
        .route("/secrets/{name}", get(get_latest).put(set_secret))
        // The SDKs ask for (and update) the latest version as `/secrets/{name}/`.
        .route("/secrets/{name}/", get(get_latest).patch(update_latest))
        .route("/secrets/{name}/versions", get(list_versions))
        .route(
            "/secrets/{name}/{version}",
            get(get_version).patch(update_version),
        )
        .layer(axum::middleware::from_fn(service_headers));
    Router::new()
        .route("/{tenant}/oauth2/v2.0/token", post(entra::token))
        .merge(vault)
        .with_state(server)
}

/// A version as Key Vault renders it: no `tags` or `contentType` when it
/// has none, the value only where asked for.
fn bundle(host: &str, name: &str, v: &Version, with_value: bool) -> Value {
    let mut attributes = json!({"enabled": v.enabled});
    for (key, time) in [("nbf", v.nbf), ("exp", v.exp)] {
        if let Some(time) = time {
            attributes[key] = json!(time);
        }
    }
    attributes["created"] = json!(v.created);
    attributes["updated"] = json!(v.updated);
    attributes["recoveryLevel"] = json!("Recoverable+Purgeable");
    attributes["recoverableDays"] = json!(90);
    let mut out = json!({});
    if with_value {
        out["value"] = json!(v.value);
    }
    if let Some(ct) = &v.content_type {
        out["contentType"] = json!(ct);
    }
    out["id"] = json!(format!("https://{host}/secrets/{name}/{}", v.id));
    out["attributes"] = attributes;
    if let Some(tags) = &v.tags {
        out["tags"] = json!(tags);
    }
    out
}

fn not_found(name: &str) -> Response {
    error(
        StatusCode::NOT_FOUND,
        "SecretNotFound",
        &format!("A secret with (name/id) {name} was not found in this key vault. If you recently deleted this secret you may be able to recover it using the correct recovery command. For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125182"),
        None,
    )
}

/// A version's value, or the 403 a disabled version gets.
fn value_of(host: &str, name: &str, v: &Version) -> Response {
    if !v.enabled {
        return error(
            StatusCode::FORBIDDEN,
            "Forbidden",
            "Operation get is not allowed on a disabled secret.",
            Some("SecretDisabled"),
        );
    }
    ok(&bundle(host, name, v, true))
}

async fn get_latest(
    State(server): State<Arc<Server>>,
    Path(name): Path<String>,
    (Query(query), headers): Args,
) -> Response {
    with_vault(&server, &headers, &query, GET, |vault, host| {
        match vault.secrets.get(&name).and_then(|v| v.last()) {
            Some(v) => value_of(host, &name, v),
            None => not_found(&name),
        }
    })
}

async fn get_version(
    State(server): State<Arc<Server>>,
    Path((name, version)): Path<(String, String)>,
    (Query(query), headers): Args,
) -> Response {
    with_vault(&server, &headers, &query, GET, |vault, host| {
        let found = vault
            .secrets
            .get(&name)
            .and_then(|versions| versions.iter().find(|v| v.id == version));
        match found {
            Some(v) => value_of(host, &name, v),
            None => not_found(&format!("{name}/{version}")),
        }
    })
}

/// Versions sorted by id, as the service lists them (not by creation: its
/// ids are random), `maxresults` (at most 25) a page, each page's
/// `nextLink` carrying an opaque `$skiptoken`.
async fn list_versions(
    State(server): State<Arc<Server>>,
    Path(name): Path<String>,
    (Query(query), headers): Args,
) -> Response {
    let size = match query.get("maxresults").map(|m| m.parse::<usize>()) {
        None => PAGE,
        Some(Ok(n @ 1..=PAGE)) => n,
        Some(_) => {
            return error(
                StatusCode::BAD_REQUEST,
                "BadParameter",
                "maxresults must be between 1 and 25.",
                None,
            )
        }
    };
    let after = query
        .get("$skiptoken")
        .and_then(|t| URL_SAFE_NO_PAD.decode(t).ok())
        .and_then(|t| String::from_utf8(t).ok())
        .unwrap_or_default();
    let api_version = query.get("api-version").cloned().unwrap_or_default();
    with_vault(&server, &headers, &query, READ_METADATA, |vault, host| {
        let Some(versions) = vault.secrets.get(&name) else {
            return not_found(&name);
        };
        let mut sorted: Vec<&Version> = versions.iter().filter(|v| v.id > after).collect();
        sorted.sort_by(|a, b| a.id.cmp(&b.id));
        let page = &sorted[..sorted.len().min(size)];
        let next = (sorted.len() > size).then(|| {
            let token = URL_SAFE_NO_PAD.encode(&page[size - 1].id);
            format!("https://{host}:443/secrets/{name}/versions?api-version={api_version}&$skiptoken={token}&maxresults={size}")
        });
        ok(&json!({
            "value": page.iter().map(|v| bundle(host, &name, v, false)).collect::<Vec<_>>(),
            "nextLink": next,
        }))
    })
}

fn bad_request(message: &str) -> Response {
    error(StatusCode::BAD_REQUEST, "BadParameter", message, None)
}

/// A PUT or PATCH body: its value (if any) and the settable properties,
/// `None` where absent; else why it is refused.
fn request(body: &str) -> Result<(Option<String>, Properties), &'static str> {
    let Ok(Value::Object(body)) = serde_json::from_str::<Value>(body) else {
        return Err("The request body is not a JSON object.");
    };
    let tags = match body.get("tags") {
        None | Some(Value::Null) => None,
        Some(Value::Object(tags)) if tags.len() <= 15 => Some(tags.clone()),
        Some(_) => return Err("Tags must be an object of at most 15 strings."),
    };
    let attributes = body.get("attributes").cloned().unwrap_or(json!({}));
    let text = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_owned);
    let properties = Properties {
        tags,
        content_type: text(body.get("contentType")),
        enabled: attributes["enabled"].as_bool(),
        nbf: attributes["nbf"].as_i64(),
        exp: attributes["exp"].as_i64(),
    };
    Ok((text(body.get("value")), properties))
}

async fn set_secret(
    State(server): State<Arc<Server>>,
    Path(name): Path<String>,
    (Query(query), headers): Args,
    body: String,
) -> Response {
    with_vault(&server, &headers, &query, SET, |vault, host| {
        let valid_name = !name.is_empty()
            && name.len() <= 127
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
        if !valid_name {
            return bad_request("The request URI contains an invalid name.");
        }
        let (value, set) = match request(&body) {
            Ok((Some(value), set)) => (value, set),
            Ok((None, _)) => return bad_request("Property value is required."),
            Err(message) => return bad_request(message),
        };
        let v = add_version(vault, &name, value, set);
        ok(&bundle(host, &name, &v, true))
    })
}

/// `PATCH`: what the body names replaces the version's (tags as a whole);
/// the answer has no value.
fn update(
    server: &Server,
    name: &str,
    version: Option<&str>,
    (query, headers): (&HashMap<String, String>, &HeaderMap),
    body: &str,
) -> Response {
    with_vault(server, headers, query, UPDATE, |vault, host| {
        let versions = vault.secrets.get_mut(name);
        let found = match version {
            None => versions.and_then(|v| v.last_mut()),
            Some(id) => versions.and_then(|v| v.iter_mut().find(|v| v.id == id)),
        };
        let Some(v) = found else {
            return not_found(&version.map_or(name.to_owned(), |id| format!("{name}/{id}")));
        };
        let set = match request(body) {
            Ok((_, set)) => set,
            Err(message) => return bad_request(message),
        };
        if let Some(tags) = set.tags {
            v.tags = Some(tags).filter(|t| !t.is_empty());
        }
        v.content_type = set.content_type.or(v.content_type.take());
        v.enabled = set.enabled.unwrap_or(v.enabled);
        v.nbf = set.nbf.or(v.nbf);
        v.exp = set.exp.or(v.exp);
        v.updated = chrono::Utc::now().timestamp();
        ok(&bundle(host, name, v, false))
    })
}

async fn update_latest(
    State(server): State<Arc<Server>>,
    Path(name): Path<String>,
    (Query(query), headers): Args,
    body: String,
) -> Response {
    update(&server, &name, None, (&query, &headers), &body)
}

async fn update_version(
    State(server): State<Arc<Server>>,
    Path((name, version)): Path<(String, String)>,
    (Query(query), headers): Args,
    body: String,
) -> Response {
    update(&server, &name, Some(&version), (&query, &headers), &body)
}
