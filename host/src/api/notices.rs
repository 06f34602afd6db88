//! Notices to Mica that became dead letters (Mica refused them repeatedly): list them, and queue
//! one or all again once Mica's side is fixed. They keep their `X-Mica-Notice-Id`, so Mica
//! applies a notice it had in fact taken only once.

use super::{ApiError, AppState};
use axum::Json;
use axum::extract::{Path, Query, State};
use serde_json::{Value, json};
use std::collections::HashMap;

pub async fn failed(
    State(state): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let limit = super::deliveries::limit_param(&query)?;
    let notices = state.store.call(move |s| s.failed_notices(limit)).await?;
    Ok(Json(json!({"notices": notices})))
}

pub async fn retry_one(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let number: i64 = id
        .parse()
        .map_err(|_| ApiError::bad_request(format!("id: {id:?} is not a notice number")))?;
    let retried = state
        .store
        .call(move |s| s.retry_failed_notices(Some(number)))
        .await?;
    if retried == 0 {
        return Err(ApiError::not_found(format!(
            "id: no dead-lettered notice {number}"
        )));
    }
    tracing::info!(notice = number, "dead-lettered notice queued again");
    Ok(Json(json!({"retried": retried})))
}

pub async fn retry_all(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let retried = state.store.call(|s| s.retry_failed_notices(None)).await?;
    tracing::info!(count = retried, "dead-lettered notices queued again");
    Ok(Json(json!({"retried": retried})))
}
