//! `GET /api/v1/deliveries?event_id=ID`: an event's deliveries. Without `event_id`, the most
//! recent deliveries (`limit`, default 100; `status` to show one status), for the admin console.

use super::{ApiError, AppState};
use crate::store::DeliveryStatus;
use axum::Json;
use axum::extract::{Query, State};
use serde_json::{Value, json};
use std::collections::HashMap;

/// The `limit` query parameter: 1 to 1000, 100 when absent.
pub fn limit_param(query: &HashMap<String, String>) -> Result<usize, ApiError> {
    match query.get("limit") {
        None => Ok(100),
        Some(v) => v
            .trim()
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=1000).contains(n))
            .ok_or_else(|| ApiError::bad_request("limit: must be a whole number from 1 to 1000")),
    }
}

fn status_param(query: &HashMap<String, String>) -> Result<Option<DeliveryStatus>, ApiError> {
    let Some(wanted) = query
        .get("status")
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
    else {
        return Ok(None);
    };
    DeliveryStatus::ALL
        .into_iter()
        .find(|s| s.as_str() == wanted)
        .map(Some)
        .ok_or_else(|| {
            let names: Vec<&str> = DeliveryStatus::ALL.iter().map(|s| s.as_str()).collect();
            ApiError::bad_request(format!(
                "status: {wanted:?} is not one of {}",
                names.join(", ")
            ))
        })
}

pub async fn list(
    State(state): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let Some(event_id) = query
        .get("event_id")
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
    else {
        let limit = limit_param(&query)?;
        let status = status_param(&query)?;
        let recent = state
            .store
            .call(move |s| s.recent_deliveries(limit, status))
            .await?;
        return Ok(Json(json!({"deliveries": recent})));
    };
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
