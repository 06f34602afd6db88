//! Failed deliveries (dead letters): list them, and send one or all again with the same
//! idempotency key, so a retry that races an earlier success still reaches Feishu only once.

use super::{ApiError, AppState};
use axum::Json;
use axum::extract::{Path, Query, State};
use serde_json::{Value, json};
use std::collections::HashMap;

pub async fn list(
    State(state): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let limit = super::deliveries::limit_param(&query)?;
    let failed = state
        .store
        .call(move |s| s.failed_deliveries(limit))
        .await?;
    Ok(Json(json!({"deliveries": failed})))
}

pub async fn retry_one(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let key = id.clone();
    let (found, retried) = state
        .store
        .call(move |s| Ok((s.delivery(&key)?, s.retry_failed(Some(&key))?)))
        .await?;
    match found {
        None => Err(ApiError::not_found(format!("id: no delivery {id:?}"))),
        Some(_) if retried == 0 => Err(ApiError::new(
            axum::http::StatusCode::CONFLICT,
            format!("id: delivery {id} has not failed, so there is nothing to retry"),
        )),
        Some(_) => {
            state.wake_worker.notify_one();
            tracing::info!(delivery_id = %id, "failed delivery queued again");
            Ok(Json(json!({"retried": 1})))
        }
    }
}

pub async fn retry_all(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let n = state.store.call(|s| s.retry_failed(None)).await?;
    state.wake_worker.notify_one();
    tracing::info!(count = n, "failed deliveries queued again");
    Ok(Json(json!({"retried": n})))
}
