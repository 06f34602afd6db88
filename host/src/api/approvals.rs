//! `GET /api/v1/approvals/{payment_id}`.

use super::{ApiError, AppState};
use crate::store::Approval;
use axum::Json;
use axum::extract::{Path, State};

pub async fn get_approval(
    State(state): State<AppState>,
    Path(payment_id): Path<String>,
) -> Result<Json<Approval>, ApiError> {
    let id = payment_id.clone();
    state
        .store
        .call(move |s| s.approval(&id))
        .await?
        .map(Json)
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "payment_id: no approval for payment {payment_id:?}"
            ))
        })
}
