//! `GET /api/v1/deliveries?event_id=ID`.

use super::{ApiError, AppState};
use axum::Json;
use axum::extract::{Query, State};
use serde_json::{Value, json};
use std::collections::HashMap;

pub async fn list(
    State(state): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let event_id = query
        .get("event_id")
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ApiError::bad_request("event_id: the query parameter is required"))?;
    let id = event_id.clone();
    let found = state
        .store
        .call(move |s| {
            if !s.event_exists(&id)? {
                return Ok(None);
            }
            Ok(Some(s.deliveries_of(&id)?))
        })
        .await?;
    let deliveries =
        found.ok_or_else(|| ApiError::not_found(format!("event_id: no event {event_id:?}")))?;
    Ok(Json(
        json!({"event_id": event_id, "deliveries": deliveries}),
    ))
}
