//! `POST /api/v1/events`: validate, store the event with one delivery per recipient in one
//! transaction, answer 202. Posting a known id again creates nothing.

use super::{ApiError, AppState, read_body};
use crate::delivery::{Class, Kind};
use crate::domain::DomainEvent;
use crate::events::{Payload, approval_job_id, delivery_id, parse_event, recipient_json};
use crate::runtime::World;
use crate::store::{NewDelivery, NewEvent, Settles};
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode, header::CONTENT_TYPE};
use serde_json::{Value, json};

/// The body as bytes, with size and content-type problems reported in the API's error shape.
pub fn json_body(
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Value, ApiError> {
    let body = read_body(body)?;
    let is_json = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim()
                .to_ascii_lowercase()
                .starts_with("application/json")
        });
    if !is_json {
        return Err(ApiError::unsupported_media(
            "Content-Type must be application/json",
        ));
    }
    serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request(format!("the body is not valid JSON: {e}")))
}

pub async fn post_event(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let body = json_body(&headers, body)?;
    let mut event = parse_event(&body)?;
    let class = match &event.payload {
        Payload::Message(message) => message.class(),
        Payload::Domain(_) => Class::of(Kind::Notify, event.kind.as_str()),
    };
    let mut deliveries: Vec<NewDelivery> = event
        .recipients
        .iter()
        .map(|r| NewDelivery {
            id: delivery_id(&event.id, &r.email),
            kind: Kind::Notify,
            class,
            recipient_email: r.email.clone(),
            recipient: recipient_json(r).to_string(),
        })
        .collect();
    // A pending payment also starts its approval when an approval provider is active; the
    // provider itself reports `skipped` while its workflow is switched off.
    if let Payload::Domain(DomainEvent::PaymentPending(p)) = &event.payload
        && state.registry.serving(World::ApprovalProvider).is_ok()
    {
        deliveries.push(NewDelivery {
            id: approval_job_id(&event.id),
            kind: Kind::Approval,
            class: Class::of(Kind::Approval, event.kind.as_str()),
            recipient_email: p.submitter.email.clone(),
            recipient: recipient_json(&p.submitter).to_string(),
        });
    }
    let warnings = std::mem::take(&mut event.warnings);
    let (id, kind, occurred_at) = (
        event.id.clone(),
        event.kind.as_str(),
        event.occurred_at.clone(),
    );
    let subject = event.subject();
    // A decision settles the requisition's cards: they are redrawn to show it.
    let settles = event.settlement();
    let payload = body.to_string();
    let stored = state
        .store
        .call(move |s| {
            s.insert_event(&NewEvent {
                id: &id,
                kind,
                occurred_at: &occurred_at,
                payload: &payload,
                subject: subject.as_deref(),
                deliveries: &deliveries,
                settles: settles.as_ref().map(|(settlement, at_ms)| Settles {
                    subject: subject.as_deref().unwrap_or_default(),
                    settlement,
                    settled_at_ms: *at_ms,
                    cause: &id,
                }),
            })
        })
        .await?;
    if stored.created {
        crate::metrics::METRICS
            .events
            .with_label_values(&[kind])
            .inc();
        state.wake_worker.notify_one();
        tracing::info!(event_id = %event.id, kind, deliveries = stored.deliveries.len(), "event accepted");
    }
    let deliveries: Vec<Value> = stored
        .deliveries
        .iter()
        .map(|d| json!({"id": d.id, "kind": d.kind, "recipient": d.recipient, "status": d.status}))
        .collect();
    Ok((
        StatusCode::ACCEPTED,
        Json(
            json!({"event_id": event.id, "created": stored.created, "deliveries": deliveries, "warnings": warnings}),
        ),
    ))
}
