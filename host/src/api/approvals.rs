//! `GET /api/v1/approvals/{payment_id}`: a payment's approval, every instance it had; and
//! `POST /api/v1/approvals/{payment_id}/cancel`: cancel its open instance in Feishu (when Mica
//! deletes or settles the payment), durably, as a delivery of kind `cancel`.

use super::{ApiError, AppState};
use crate::delivery::Kind;
use crate::store::{Approval, NewDelivery, NewEvent};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::{Value, json};

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

pub async fn cancel(
    State(state): State<AppState>,
    Path(payment_id): Path<String>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let id = payment_id.clone();
    let current = state
        .store
        .call(move |s| s.current_approval(&id))
        .await?
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "payment_id: no approval for payment {payment_id:?}, so nothing to cancel"
            ))
        })?;
    if !current.status.is_open() {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            format!(
                "payment_id: approval {} of payment {payment_id} is already {}; nothing to cancel",
                current.instance_code,
                current.status.as_str()
            ),
        ));
    }
    // One cancel job per instance: asking again answers with the job that exists.
    let event_id = format!("cancel:{}", current.instance_code);
    let initiator: Value = serde_json::from_str(&current.initiator).unwrap_or(Value::Null);
    let deliveries = vec![NewDelivery {
        id: event_id.clone(),
        kind: Kind::Cancel,
        class: crate::delivery::Class::of(Kind::Cancel, "approval_cancel"),
        recipient_email: initiator["email"].as_str().unwrap_or_default().to_string(),
        recipient: current.initiator.clone(),
    }];
    let payload = json!({"type": "approval_cancel", "payment_id": payment_id,
                         "instance_code": current.instance_code})
    .to_string();
    let occurred_at = crate::store::rfc3339(crate::store::now_ms());
    let (eid, instance) = (event_id.clone(), current.instance_code.clone());
    let stored = state
        .store
        .call(move |s| {
            s.insert_event(&NewEvent {
                id: &eid,
                kind: "approval_cancel",
                occurred_at: &occurred_at,
                payload: &payload,
                subject: None,
                deliveries: &deliveries,
                settles: None,
            })
        })
        .await?;
    if stored.created {
        state.wake_worker.notify_one();
        tracing::info!(%payment_id, instance = %instance, "approval cancel queued");
    }
    let deliveries: Vec<Value> = stored
        .deliveries
        .iter()
        .map(|d| json!({"id": d.id, "kind": d.kind, "status": d.status}))
        .collect();
    Ok((
        StatusCode::ACCEPTED,
        Json(
            json!({"payment_id": payment_id, "instance_code": instance, "event_id": event_id,
                    "created": stored.created, "deliveries": deliveries}),
        ),
    ))
}
