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
    if let Ok(waiting) = state.store.call(|s| s.waiting_by_class()).await {
        let m = &crate::metrics::METRICS;
        m.queue_depth.set(waiting.iter().map(|(_, n)| n).sum());
        // Every class appears, at zero when empty, so a query never sees a class vanish.
        for class in crate::delivery::Class::ALL {
            let n = waiting
                .iter()
                .find(|(c, _)| *c == class)
                .map_or(0, |(_, n)| *n);
            m.queue_depth_by_class
                .with_label_values(&[class.as_str()])
                .set(n);
        }
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
