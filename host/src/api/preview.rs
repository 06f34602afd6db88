//! Card previews for the admin console: the message the active plugin would send for an event,
//! rendered by the plugin itself (`mica:plugin/previews`), without sending anything.
//!
//! `GET /api/v1/admin/{plugin}/preview[?locale=]` renders the built-in sample of each event type
//! (and, for a plugin that redraws sent cards, the requisition and payment samples redrawn, marked
//! with what redrew them in `redrawn_by`);
//! `POST` with `{"event": <a Mica event>, "locale": "en-US"}` renders one event of the caller's.

use super::events::json_body;
use super::{ApiError, AppState};
use crate::approvals::Status;
use crate::delivery::redraw::Settlement;
use crate::domain::PluginError;
use crate::events::{Payload, parse_stored_event, sample_events};
use crate::runtime::{CallError, LoadedPlugin};
use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;

/// The locales Mica's users read (CONTRACT.md).
pub const LOCALES: [&str; 2] = ["zh-CN", "en-US"];

fn locale(value: Option<&str>) -> Result<Vec<&'static str>, ApiError> {
    match value.map(str::trim) {
        None | Some("") => Ok(LOCALES.to_vec()),
        Some(tag) => LOCALES
            .into_iter()
            .find(|l| l.eq_ignore_ascii_case(tag))
            .map(|l| vec![l])
            .ok_or_else(|| {
                ApiError::unprocessable(format!(
                    "locale: {tag:?} is not one of {}",
                    LOCALES.join(", ")
                ))
            }),
    }
}

fn previewer(state: &AppState, plugin_id: &str) -> Result<Arc<LoadedPlugin>, ApiError> {
    let plugin = state
        .registry
        .active(plugin_id)
        .ok_or_else(|| ApiError::not_found(format!("no active plugin {plugin_id:?}")))?;
    if !plugin.has_previews() {
        return Err(ApiError::new(
            StatusCode::NOT_IMPLEMENTED,
            format!(
                "plugin {plugin_id} {} cannot show previews (it does not export mica:plugin/previews)",
                plugin.version()
            ),
        ));
    }
    Ok(plugin)
}

/// The card a render call answered, as JSON, or what went wrong in the API's terms.
fn rendered(answer: Result<Result<String, PluginError>, CallError>) -> Result<Value, ApiError> {
    let card = answer
        .map_err(|e| ApiError::unavailable(format!("the plugin could not render: {e}")))?
        .map_err(|e| ApiError::unprocessable(format!("the plugin refused to render: {e:?}")))?;
    serde_json::from_str(&card).map_err(|e| {
        ApiError::unavailable(format!(
            "the plugin rendered something that is not JSON: {e}"
        ))
    })
}

/// Render `event` (already validated) in each locale.
async fn render(
    plugin: &LoadedPlugin,
    event: &Value,
    locales: &[&str],
    out: &mut Vec<Value>,
) -> Result<(), ApiError> {
    let valid =
        parse_stored_event(event).map_err(|e| ApiError::unprocessable(format!("event.{e}")))?;
    for locale in locales {
        let card = rendered(plugin.render_preview(&valid.payload, locale).await)?;
        out.push(json!({"type": valid.kind, "locale": locale, "event": event, "card": card}));
    }
    Ok(())
}

fn answer(plugin: &LoadedPlugin, previews: Vec<Value>) -> Json<Value> {
    Json(json!({"plugin": plugin.id(), "version": plugin.version(), "previews": previews}))
}

pub async fn samples(
    State(state): State<AppState>,
    Path(plugin_id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let locales = locale(query.get("locale").map(String::as_str))?;
    let plugin = previewer(&state, &plugin_id)?;
    let mut previews = Vec::new();
    let samples = sample_events();
    for event in &samples {
        render(&plugin, event, &locales, &mut previews).await?;
    }
    if plugin.updates_cards() {
        redrawn(&plugin, &samples, &locales, &mut previews).await?;
    }
    if plugin.takes_clicks() {
        with_buttons(&plugin, &samples, &locales, &mut previews).await?;
    }
    Ok(answer(&plugin, previews))
}

/// The sample requisition card as an approver gets it, with its comment box and Approve and
/// Reject buttons (for a plugin that takes clicks, since mica:plugin 0.1.4).
async fn with_buttons(
    plugin: &LoadedPlugin,
    samples: &[Value],
    locales: &[&str],
    out: &mut Vec<Value>,
) -> Result<(), ApiError> {
    let event = samples
        .iter()
        .find(|e| e["type"] == "pr_submitted")
        .expect("a sample of every type");
    let Payload::Domain(domain) = parse_stored_event(event)
        .map_err(|e| ApiError::unavailable(format!("a sample event is invalid: {e}")))?
        .payload
    else {
        return Ok(());
    };
    for locale in locales {
        let card = rendered(plugin.render_action_card(&domain, None, locale).await)?;
        out.push(
            json!({"type": "pr_submitted", "locale": locale, "event": event, "card": card,
                        "with_buttons": true}),
        );
    }
    Ok(())
}

/// The sample requisition card as it is redrawn once decided, and the sample payment card once
/// its approval is approved in Feishu (for a plugin that redraws cards, since mica:plugin 0.1.3).
async fn redrawn(
    plugin: &LoadedPlugin,
    samples: &[Value],
    locales: &[&str],
    out: &mut Vec<Value>,
) -> Result<(), ApiError> {
    let sample = |kind: &str| {
        samples
            .iter()
            .find(|e| e["type"] == kind)
            .expect("a sample of every type")
    };
    let parsed = |event: &Value| {
        parse_stored_event(event)
            .map_err(|e| ApiError::unavailable(format!("a sample event is invalid: {e}")))
    };
    let decided = parsed(sample("approval_decided"))?
        .settlement()
        .expect("a decision settles")
        .0;
    let approved = Settlement::Approval {
        status: Status::parse("APPROVED").expect("a status"),
        changed_at: "2026-11-26T09:30:00Z".into(),
    };
    for (kind, settlement, by) in [
        ("pr_submitted", decided, "approval_decided"),
        ("payment_pending", approved, "approval"),
    ] {
        let event = sample(kind);
        let Payload::Domain(domain) = parsed(event)?.payload else {
            continue;
        };
        for locale in locales {
            let card = rendered(plugin.render_settled(&domain, &settlement, locale).await)?;
            out.push(
                json!({"type": kind, "locale": locale, "event": event, "card": card,
                            "redrawn_by": by}),
            );
        }
    }
    Ok(())
}

pub async fn custom(
    State(state): State<AppState>,
    Path(plugin_id): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let body = json_body(&headers, body)?;
    let Some(event) = body.get("event") else {
        return Err(ApiError::unprocessable(
            "event: required, a domain event as POST /api/v1/events takes it",
        ));
    };
    let locales = match body.get("locale") {
        None | Some(Value::Null) => locale(None)?,
        Some(Value::String(tag)) => locale(Some(tag))?,
        Some(other) => {
            return Err(ApiError::unprocessable(format!(
                "locale: must be a string such as \"en-US\", got {other}"
            )));
        }
    };
    let plugin = previewer(&state, &plugin_id)?;
    let mut previews = Vec::new();
    render(&plugin, event, &locales, &mut previews).await?;
    Ok(answer(&plugin, previews))
}
