//! Entra ID's token endpoint, and the tokens Key Vault accepts from it.
//!
//! Tokens are JWTs, as Entra ID's are, with an `aud` and an `exp` that the
//! vault checks the way the real one does: a token for another resource
//! and an expired token are each refused with 401 and a fresh challenge
//! (the SDKs then ask their credential again). The signature is a fixed
//! marker: nothing here verifies keys.

use super::TENANT;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{json, Value};
use std::collections::HashMap;

/// The resource Key Vault's tokens are for (its challenge names it).
pub(super) const AUDIENCE: &str = "https://vault.azure.net";

const SIGNATURE: &str = "fake-entra-signature";

/// A token for `client_id` and `audience`, expiring at `expires_at`.
pub(super) fn mint(client_id: &str, audience: &str, expires_at: i64) -> String {
    let part = |v: Value| URL_SAFE_NO_PAD.encode(v.to_string());
    format!(
        "{}.{}.{}",
        part(json!({"typ": "JWT", "alg": "none"})),
        part(json!({
            "aud": audience,
            "iss": format!("https://sts.windows.net/{TENANT}/"),
            "appid": client_id,
            "tid": TENANT,
            "exp": expires_at,
        })),
        SIGNATURE
    )
}

/// Why a request's `Authorization` was refused, in the real service's words
/// for a missing, an expired and a wrong-audience token (from its answers);
/// a token that is not one of this fake's gets words of the fake's own.
pub(super) fn refusal(authorization: Option<&str>) -> Option<String> {
    let missing = "AKV10000: Request is missing a Bearer, PoP, or MTLS_POP token.".to_owned();
    let Some(token) = authorization.and_then(|h| h.strip_prefix("Bearer ")) else {
        return Some(missing);
    };
    let claims = token
        .split('.')
        .collect::<Vec<_>>()
        .get(1..3)
        .filter(|rest| rest[1] == SIGNATURE)
        .and_then(|rest| URL_SAFE_NO_PAD.decode(rest[0]).ok())
        .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok());
    let Some(claims) = claims else {
        return Some("Token validation failed: not a token this fake issued.".to_owned());
    };
    let audience = claims["aud"].as_str().unwrap_or_default();
    if audience.trim_end_matches('/') != AUDIENCE {
        return Some(format!(
            "AKV10022: Invalid audience. Expected {AUDIENCE}, found: {audience}."
        ));
    }
    let expired = claims["exp"]
        .as_i64()
        .is_none_or(|exp| exp <= chrono::Utc::now().timestamp());
    expired.then(|| "[TokenExpired] Error validating token: 'S2S12086'.".to_owned())
}

/// `POST /{tenant}/oauth2/v2.0/token`: the client-assertion grant that
/// workload identity uses, for Key Vault's scope only.
pub(super) async fn token(Path(tenant): Path<String>, body: String) -> Response {
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
    let client_id = form.get("client_id").map(String::as_str).unwrap_or("");
    let expires_in = 3599;
    Json(json!({
        "token_type": "Bearer",
        "expires_in": expires_in,
        "ext_expires_in": expires_in,
        "access_token": mint(client_id, AUDIENCE, chrono::Utc::now().timestamp() + expires_in),
    }))
    .into_response()
}
