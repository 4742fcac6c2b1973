//! What every data-plane request goes through before its operation: the
//! token and its challenge, the api-version, the injected faults and
//! crashes; and the errors and headers Key Vault answers with.

use super::{entra, Mode, Server, VaultState, TENANT};
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use std::collections::HashMap;

/// The api-versions the SDKs send (azure-keyvault-secrets 4.12's list;
/// seesaw's Rust client sends 2025-07-01). The service knows them all.
const API_VERSIONS: [&str; 10] = [
    "2016-10-01",
    "7.0",
    "7.1",
    "7.2",
    "7.3",
    "7.4",
    "7.5",
    "7.6",
    "2025-07-01",
    "2026-04-01",
];

/// A Key Vault error body: `{"error": {"code", "message"[, "innererror"]}}`.
pub(super) fn error(
    status: StatusCode,
    code: &str,
    message: &str,
    inner: Option<&str>,
) -> Response {
    let mut body = json!({"error": {"code": code, "message": message}});
    if let Some(inner) = inner {
        body["error"]["innererror"] = json!({"code": inner});
    }
    reply(status, &body)
}

/// JSON as Key Vault sends it: `application/json; charset=utf-8`.
pub(super) fn reply(status: StatusCode, body: &Value) -> Response {
    (
        status,
        [("content-type", "application/json; charset=utf-8")],
        body.to_string(),
    )
        .into_response()
}

pub(super) fn ok(body: &Value) -> Response {
    reply(StatusCode::OK, body)
}

/// The headers every answer of the real service carries (values are the
/// fake's own), and the caller's `x-ms-client-request-id` echoed back.
pub(super) async fn service_headers(request: Request, next: Next) -> Response {
    let client_request_id = request.headers().get("x-ms-client-request-id").cloned();
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    let id = format!("{:032x}", rand::random::<u128>());
    let request_id = format!(
        "{}-{}-{}-{}-{}",
        &id[..8],
        &id[8..12],
        &id[12..16],
        &id[16..20],
        &id[20..]
    );
    for (name, value) in [
        ("cache-control", "no-cache"),
        ("pragma", "no-cache"),
        ("expires", "-1"),
        (
            "strict-transport-security",
            "max-age=31536000;includeSubDomains",
        ),
        ("x-content-type-options", "nosniff"),
        ("x-ms-keyvault-region", "seesaw-fake"),
        ("x-ms-keyvault-service-version", "0.0.0.0-fake"),
        (
            "x-ms-keyvault-network-info",
            "conn_type=Ipv4;addr=127.0.0.1;act_addr_fam=InterNetwork;",
        ),
        ("x-ms-request-id", request_id.as_str()),
    ] {
        headers.insert(name, HeaderValue::from_str(value).unwrap());
    }
    if let Some(id) = client_request_id {
        headers.insert("x-ms-client-request-id", id);
    }
    response
}

fn throttled(retry_after: Option<u32>) -> Response {
    // The body of a real 429 (the header list of that answer has no
    // Retry-After; the SDKs then back off on their own).
    let mut response = error(
        StatusCode::TOO_MANY_REQUESTS,
        "Throttled",
        "Request was not processed because too many requests were received. Reason: VaultRequestTypeLimitReached",
        None,
    );
    if let Some(seconds) = retry_after {
        response
            .headers_mut()
            .insert("retry-after", HeaderValue::from(seconds));
    }
    response
}

/// The checks every data-plane call goes through, then `f` on the vault.
/// `action` is the RBAC data action the call needs (named in a denial).
pub(super) fn with_vault(
    server: &Server,
    headers: &HeaderMap,
    query: &HashMap<String, String>,
    action: &str,
    f: impl FnOnce(&mut VaultState, &str) -> Response,
) -> Response {
    let host = headers
        .get("host")
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default()
        .split(':')
        .next()
        .unwrap_or_default()
        .to_owned();
    let authorization = headers.get("authorization").and_then(|h| h.to_str().ok());
    if let Some(message) = entra::refusal(authorization) {
        let challenge = format!(
            "Bearer authorization=\"https://login.microsoftonline.com/{TENANT}\", resource=\"{}\"",
            entra::AUDIENCE
        );
        let mut response = error(StatusCode::UNAUTHORIZED, "Unauthorized", &message, None);
        response
            .headers_mut()
            .insert("www-authenticate", challenge.parse().unwrap());
        return response;
    }
    let api_version = query.get("api-version").map(String::as_str);
    if !api_version.is_some_and(|v| API_VERSIONS.contains(&v)) {
        return error(
            StatusCode::BAD_REQUEST,
            "BadParameter",
            &format!(
                "The specified version ({}) is not recognized. Consider using the latest supported version (2025-07-01).",
                api_version.unwrap_or_default()
            ),
            None,
        );
    }
    let mut vaults = server.vaults.lock().unwrap();
    let Some(vault) = vaults.get_mut(&host) else {
        return error(
            StatusCode::NOT_FOUND,
            "VaultNotFound",
            "No such vault.",
            None,
        );
    };
    match vault.mode.clone() {
        Mode::Deny => {
            // The real denial's first lines (it goes on with the caller,
            // resource and assignment).
            let message = format!("Caller is not authorized to perform action on resource.\r\nIf role assignments, deny assignments or role definitions were changed recently, please observe propagation time.\r\nAction: '{action}'\r\n");
            return error(
                StatusCode::FORBIDDEN,
                "Forbidden",
                &message,
                Some("ForbiddenByRbac"),
            );
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
            return throttled(None);
        }
        Mode::ThrottleRetryAfter(n, seconds) if vault.throttled < n => {
            vault.throttled += 1;
            return throttled(Some(seconds));
        }
        _ => {}
    }
    use super::super::fault::When;
    let crashed = || {
        error(
            StatusCode::BAD_REQUEST,
            "CrashInjected",
            "crash injected",
            None,
        )
    };
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
    let response = f(vault, &host);
    if at == Some(When::After) {
        return crashed();
    }
    response
}
