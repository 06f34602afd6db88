//! Which plugin serves each world (`GET /api/v1/admin/worlds`), and handing a world to another
//! installed plugin (`PUT /api/v1/admin/worlds/{world}`). A world belongs to the first plugin
//! installed that implements it; installing another never moves its work.

use super::events::json_body;
use super::{ApiError, AppState};
use crate::runtime::World;
use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use serde_json::{Value, json};

pub async fn list(State(state): State<AppState>) -> Json<Value> {
    let worlds: Vec<Value> = World::ALL
        .into_iter()
        .map(|w| {
            let serving = state.registry.serving(w);
            json!({
                "world": w,
                "plugin_id": state.registry.owner_of(w),
                "serving": serving.is_ok(),
                "reason": serving.err().map(|why| why.to_string()),
            })
        })
        .collect();
    Json(json!({"worlds": worlds}))
}

pub async fn assign(
    State(state): State<AppState>,
    Path(world): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let world = World::parse(&world).ok_or_else(|| {
        ApiError::not_found(format!(
            "no world {world:?} (notifier or approval-provider)"
        ))
    })?;
    let body = json_body(&headers, body)?;
    let plugin_id = body
        .get("plugin_id")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| ApiError::unprocessable("plugin_id: required, the plugin to serve it"))?;
    let previous = state
        .registry
        .assign(world, plugin_id)
        .await
        .map_err(|e| ApiError::unprocessable(format!("{e:#}")))?;
    state.wake_worker.notify_one();
    Ok(Json(
        json!({"world": world, "plugin_id": plugin_id, "previous": previous}),
    ))
}
