//! Plugin webhook routes (Feishu's callback URL). The raw request goes to the plugin that declared
//! the route, which verifies and parses it; the host deduplicates by event id and applies the
//! updates in one transaction before answering, so an acknowledged callback is never lost.

use super::{ApiError, AppState, read_body};
use crate::approvals::Status;
use crate::domain::{Callback, Click, WebhookRequest, WebhookResponse};
use crate::runtime::LoadedPlugin;
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
    // A plugin that takes card clicks reads every callback (clicks come to the same URL).
    let read = async {
        if plugin.takes_clicks() {
            plugin.read_callback(&state.store, request).await
        } else {
            let outcome = plugin.handle_webhook(&state.store, request).await;
            outcome.map(|o| o.map(Callback::Other))
        }
    };
    let started = std::time::Instant::now();
    let read = match tokio::time::timeout(state.webhook_deadline, read).await {
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
        Ok(Ok(Ok(read))) => read,
    };
    let outcome = match read {
        Callback::Other(outcome) => outcome,
        Callback::Click(click) => {
            // One deadline for the whole callback: Feishu waits 3 s for the answer, not 3 s per step.
            let left = state.webhook_deadline.saturating_sub(started.elapsed());
            return Ok(clicked(&state, &plugin, click, left).await);
        }
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
    Ok(plugin_answer(outcome.response))
}

/// The plugin's answer as the HTTP response Feishu gets.
fn plugin_answer(answer: WebhookResponse) -> Response {
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = Response::builder()
        .status(status)
        .header(ANSWERED_BY, "plugin");
    for (name, value) in &answer.headers {
        response = response.header(name.as_str(), value.as_str());
    }
    response
        .body(Body::from(answer.body))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

/// A card click, taken (`actions::click`) within the callback deadline. A failure answers 500,
/// so Feishu sends the click again and the stored decision, if any, answers it.
async fn clicked(
    state: &AppState,
    plugin: &LoadedPlugin,
    click: Click,
    left: std::time::Duration,
) -> Response {
    let taken = tokio::time::timeout(
        left,
        crate::actions::click::take(
            &state.store,
            &state.card_seal,
            plugin,
            click,
            state.notify_mica,
        ),
    )
    .await;
    let label = match &taken {
        Ok(Ok((taken, _))) => taken.label(),
        _ => "failed",
    };
    crate::metrics::METRICS
        .webhooks
        .with_label_values(&[label])
        .inc();
    match taken {
        Ok(Ok((taken, answer))) => {
            tracing::info!(outcome = ?taken, "card click");
            plugin_answer(answer)
        }
        Ok(Err(e)) => {
            tracing::error!(error = %format!("{e:#}"), "a card click could not be taken");
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the click could not be taken",
            )
            .into_response()
        }
        Err(_) => ApiError::unavailable("the click was not taken in time").into_response(),
    }
}
