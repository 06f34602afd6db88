//! `GET /api/v1/admin/identities`: the Feishu ids learned from presses on cards (an address and
//! who pressed); `DELETE /api/v1/admin/identities/{email}` removes one (the next press on a card
//! sent to that address binds it again).

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
    let identities = state.store.call(move |s| s.identities(limit)).await?;
    Ok(Json(json!({"identities": identities})))
}

pub async fn forget(
    State(state): State<AppState>,
    Path(email): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let address = email.clone();
    if !state
        .store
        .call(move |s| s.forget_identity(&address))
        .await?
    {
        return Err(ApiError::not_found(format!(
            "email: no Feishu account is linked to {email:?}"
        )));
    }
    tracing::info!("a linked Feishu account was removed by an administrator");
    Ok(Json(json!({"removed": email})))
}
