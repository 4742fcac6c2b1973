//! /healthz (the process runs), /readyz (a config is loaded and leadership
//! is known; a rejected reload is reported here), /metrics (Prometheus).

use super::shared::Shared;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use std::sync::Arc;

pub fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(ready))
        .route("/metrics", get(metrics))
        .with_state(shared)
}

async fn ready(State(shared): State<Arc<Shared>>) -> impl IntoResponse {
    let r = shared
        .readiness
        .read()
        .map(|r| r.clone())
        .unwrap_or_default();
    let role = match r.leader {
        Some(true) => "leader",
        Some(false) => "standby",
        None => "leadership unknown",
    };
    let stuck = shared.stuck();
    if !stuck.is_empty() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "not ready: rotation stuck past rotation_timeout: {}\n",
                stuck.join(", ")
            ),
        );
    }
    match (&r.reload_error, r.targets, r.leader) {
        (Some(e), _, _) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "not ready: the new config was rejected, the previous one keeps running: {e}\n"
            ),
        ),
        (None, 0, _) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "not ready: no config loaded\n".into(),
        ),
        (None, _, None) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready: {role}\n"),
        ),
        (None, n, Some(_)) => (StatusCode::OK, format!("ready: {n} target(s), {role}\n")),
    }
}

async fn metrics(State(shared): State<Arc<Shared>>) -> impl IntoResponse {
    (
        [(
            "content-type",
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        shared.metrics.encode(),
    )
}
