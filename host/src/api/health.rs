//! `GET /healthz`: 200 when the store answers and a plugin is active.

use super::{ApiError, AppState};
use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

pub async fn healthz(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    if !state.store.ping().await {
        return Err(ApiError::unavailable("the store does not answer"));
    }
    if !state.registry.has_active() {
        return Err(ApiError::unavailable("no plugin is active"));
    }
    Ok(Json(json!({"status": "ok"})))
}

/// `GET /metrics`: Prometheus text format.
pub async fn metrics(State(state): State<AppState>) -> impl axum::response::IntoResponse {
    if let Ok(depth) = state.store.call(|s| s.waiting_count()).await {
        crate::metrics::METRICS.queue_depth.set(depth);
    }
    if let Ok(failed) = state.store.call(|s| s.failed_notice_count()).await {
        crate::metrics::METRICS.notices_failed.set(failed);
    }
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4",
        )],
        crate::metrics::render(),
    )
}
