//! `GET /api/v1/decisions`: the decisions taken on cards and where each stands (`recorded`, on
//! its way to Mica or waiting for its answer; `applied`; `refused`, with Mica's reason), newest
//! first, optionally of one requisition (`pr_id`) or in one stage (`stage`).

use super::{ApiError, AppState};
use crate::store::DecisionStage;
use axum::Json;
use axum::extract::{Query, State};
use serde_json::{Value, json};
use std::collections::HashMap;

pub async fn list(
    State(state): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let limit = super::deliveries::limit_param(&query)?;
    let stage = match query.get("stage").map(String::as_str) {
        None | Some("") => None,
        Some(name) => Some(DecisionStage::parse(name).ok_or_else(|| {
            ApiError::bad_request(format!(
                "stage: {name:?} is not one of recorded, applied, refused"
            ))
        })?),
    };
    let pr_id = query.get("pr_id").cloned().filter(|p| !p.is_empty());
    let decisions = state
        .store
        .call(move |s| s.card_decisions(pr_id.as_deref(), stage, limit))
        .await?;
    Ok(Json(json!({"decisions": decisions})))
}
