//! SelfSubjectAccessReviews, answered as the real API server's RBAC would
//! for the fake's rules: allowed unless the test denied the verb on the
//! resource.

use super::Inner;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};

pub fn is_review(segments: &[String]) -> bool {
    segments
        == [
            "apis",
            "authorization.k8s.io",
            "v1",
            "selfsubjectaccessreviews",
        ]
}

pub fn review(state: &Arc<Mutex<Inner>>, body: &[u8]) -> Response {
    let Ok(mut asked) = serde_json::from_slice::<Value>(body) else {
        return (StatusCode::BAD_REQUEST, "body is not JSON").into_response();
    };
    let attributes = &asked["spec"]["resourceAttributes"];
    let verb = attributes["verb"].as_str().unwrap_or_default().to_owned();
    let resource = attributes["resource"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let mut inner = state.lock().unwrap();
    inner.requests.push(format!(
        "create selfsubjectaccessreviews {verb} {resource} {}",
        attributes["name"].as_str().unwrap_or_default()
    ));
    let allowed = !inner
        .denied
        .iter()
        .any(|(v, r)| v == &verb && r == &resource);
    asked["status"] = if allowed {
        json!({"allowed": true, "reason": "allowed by the fake's rules"})
    } else {
        json!({"allowed": false})
    };
    (StatusCode::CREATED, Json(asked)).into_response()
}
