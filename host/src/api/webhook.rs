//! Plugin webhook routes (Feishu's callback URL). The raw request goes to the plugin that declared
//! the route, which verifies and parses it; the host deduplicates by event id and applies the
//! updates in one transaction before answering, so an acknowledged callback is never lost.

use super::{ApiError, AppState, read_body};
use crate::approvals::Status;
use crate::domain::WebhookRequest;
use crate::store::{ChangeSource, StatusChange};
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

/// Marks an answer that came from the plugin rather than from the host (no route, no plugin, a
/// trap), so Test Connection can tell that the route really reaches the plugin.
pub const ANSWERED_BY: &str = "x-mica-answered-by";

/// Callbacks handled at once. More are answered 503 with `Retry-After` (Feishu sends a callback
/// again), so a flood of them, genuine or not, leaves the pool's instance slots to the deliveries.
pub const MAX_IN_FLIGHT: usize = 32;

pub async fn receive(
    State(state): State<AppState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let body = read_body(body)?;
    if let Some(nonce) = headers
        .get(super::route_checks::PROBE_HEADER)
        .and_then(|v| v.to_str().ok())
    {
        state.probes.arrived(nonce);
    }
    let plugin = state
        .registry
        .webhook_owner(method.as_str(), uri.path())
        .ok_or_else(|| ApiError::not_found("no active plugin handles this route"))?;
    let Ok(_permit) = state.webhook_permits.clone().try_acquire_owned() else {
        crate::metrics::METRICS
            .webhooks
            .with_label_values(&["busy"])
            .inc();
        let mut busy = ApiError::unavailable(format!(
            "{MAX_IN_FLIGHT} callbacks are being handled already: send it again shortly"
        ))
        .into_response();
        busy.headers_mut().insert(
            axum::http::header::RETRY_AFTER,
            axum::http::HeaderValue::from_static("1"),
        );
        return Ok(busy);
    };
    let request = WebhookRequest {
        method: method.to_string(),
        path: uri.path().to_string(),
        headers: headers
            .iter()
            .map(|(k, v)| {
                (
                    k.to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect(),
        body: body.to_vec(),
    };
    let failed = || {
        crate::metrics::METRICS
            .webhooks
            .with_label_values(&["failed"])
            .inc()
    };
    let outcome = match tokio::time::timeout(
        state.webhook_deadline,
        plugin.handle_webhook(&state.store, request),
    )
    .await
    {
        Err(_) => {
            failed();
            return Err(ApiError::unavailable("the plugin did not answer in time"));
        }
        Ok(Err(e)) => {
            failed();
            tracing::error!(plugin = %plugin.id(), error = %e, "webhook call failed");
            return Err(ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the plugin failed to handle the callback",
            ));
        }
        Ok(Ok(Err(e))) => {
            failed();
            tracing::error!(plugin = %plugin.id(), error = ?e, "the plugin reported an error for a callback");
            return Err(ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the plugin failed to handle the callback",
            ));
        }
        Ok(Ok(Ok(outcome))) => outcome,
    };
    let status =
        StatusCode::from_u16(outcome.response.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if status.is_success() && (outcome.event_id.is_some() || !outcome.updates.is_empty()) {
        let changes: Vec<StatusChange> = outcome
            .updates
            .iter()
            .map(|u| StatusChange {
                instance_code: u.instance_code.clone(),
                status: Status(u.status),
                status_time_ms: u.operate_time_ms,
                source: ChangeSource::Webhook,
            })
            .collect();
        let (plugin_id, event_id, notify) = (
            plugin.id().to_string(),
            outcome.event_id.clone(),
            state.notify_mica,
        );
        let fresh = state
            .store
            .call(move |s| s.apply_callback(&plugin_id, event_id.as_deref(), &changes, notify))
            .await?;
        let label = if fresh { "applied" } else { "duplicate" };
        crate::metrics::METRICS
            .webhooks
            .with_label_values(&[label])
            .inc();
        if !fresh {
            tracing::info!(event_id = ?outcome.event_id, "duplicate callback acknowledged without applying");
        }
    } else if !status.is_success() {
        crate::metrics::METRICS
            .webhooks
            .with_label_values(&["refused"])
            .inc();
        tracing::warn!(plugin = %plugin.id(), status = status.as_u16(), body = %String::from_utf8_lossy(&outcome.response.body), "callback refused");
    }
    let mut response = Response::builder()
        .status(status)
        .header(ANSWERED_BY, "plugin");
    for (name, value) in &outcome.response.headers {
        response = response.header(name.as_str(), value.as_str());
    }
    Ok(response
        .body(Body::from(outcome.response.body))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response()))
}
