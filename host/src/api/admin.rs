//! A plugin's admin endpoints: its settings as a form and its connection test. For the Feishu
//! plugin these are Mica's `/api/v1/admin/feishu/settings` and `/api/v1/admin/feishu/test`.

use super::events::json_body;
use super::{ApiError, AppState, read_body};
use crate::capabilities::http::allowed_origin;
use crate::domain::Recipient;
use crate::events::parse_recipient;
use crate::runtime::LoadedPlugin;
use crate::settings_form::{Field, fields, parse, render, secrets_left_behind};
use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};
use std::sync::Arc;

fn plugin(state: &AppState, plugin_id: &str) -> Result<Arc<LoadedPlugin>, ApiError> {
    state
        .registry
        .active(plugin_id)
        .ok_or_else(|| ApiError::not_found(format!("no active plugin {plugin_id:?}")))
}

async fn current(state: &AppState, plugin: &LoadedPlugin) -> Result<Map<String, Value>, ApiError> {
    let keys: Vec<String> = plugin
        .descriptor
        .settings
        .iter()
        .map(|s| s.key.clone())
        .collect();
    let values = state.store.call(move |s| s.param_values(&keys)).await?;
    Ok(render(&fields(&plugin.descriptor.settings), &values))
}

pub async fn get_settings(
    State(state): State<AppState>,
    Path(plugin_id): Path<String>,
) -> Result<Json<Map<String, Value>>, ApiError> {
    let plugin = plugin(&state, &plugin_id)?;
    Ok(Json(current(&state, &plugin).await?))
}

pub async fn put_settings(
    State(state): State<AppState>,
    Path(plugin_id): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Map<String, Value>>, ApiError> {
    let plugin = plugin(&state, &plugin_id)?;
    let body = json_body(&headers, body)?;
    let Value::Object(body) = body else {
        return Err(ApiError::unprocessable(
            "body: must be a JSON object of settings",
        ));
    };
    let form: Vec<Field> = fields(&plugin.descriptor.settings);
    let mut parsed = parse(
        &form,
        &body,
        &plugin.descriptor.outbound_url_settings,
        |url| allowed_origin(url).map(|_| ()),
    );
    // The plugin's own rules (e.g. the shape of a Feishu App ID).
    for change in &parsed.changes {
        let name = form
            .iter()
            .find(|f| f.decl.key == change.key)
            .map(|f| f.name.clone())
            .unwrap_or_default();
        match plugin
            .check_setting(&change.key, &change.value.to_string())
            .await
        {
            Ok(Some(problem)) => parsed.problems.push(format!("{name}: {problem}")),
            Ok(None) => {}
            Err(e) => {
                return Err(ApiError::unavailable(format!(
                    "the plugin could not check {name}: {e}"
                )));
            }
        }
    }
    let keys: Vec<String> = form.iter().map(|f| f.decl.key.clone()).collect();
    let before = state.store.call(move |s| s.param_values(&keys)).await?;
    let url_keys = &plugin.descriptor.outbound_url_settings;
    parsed.problems.extend(secrets_left_behind(
        &form,
        &parsed.changes,
        &before,
        url_keys,
    ));
    if !parsed.problems.is_empty() {
        return Err(ApiError::unprocessable(parsed.problems.join("; ")));
    }
    let actor = actor(&headers);
    for c in parsed.changes.iter().filter(|c| url_keys.contains(&c.key)) {
        let was = before.get(&c.key).and_then(Value::as_str).unwrap_or("");
        if c.value.as_str() != Some(was) {
            tracing::warn!(plugin = %plugin_id, setting = %c.key, from = %was, to = %c.value, actor = %actor,
                "the address the plugin calls was changed");
        }
    }
    let changes: Vec<(String, Value)> = parsed
        .changes
        .into_iter()
        .map(|c| (c.key, c.value))
        .collect();
    let names: Vec<String> = changes.iter().map(|(k, _)| k.clone()).collect();
    state.store.call(move |s| s.set_params(&changes)).await?;
    tracing::info!(plugin = %plugin_id, settings = ?names, actor = %actor, "settings updated");
    let mut answer = current(&state, &plugin).await?;
    if !parsed.warnings.is_empty() {
        answer.insert("warnings".into(), json!(parsed.warnings));
    }
    Ok(Json(answer))
}

/// Who changed the settings, as the caller says: Mica's admin proxy names the acting Mica admin in
/// `X-Mica-Actor` (the admin token itself does not say who is behind it). Kept to one short
/// printable line, since it goes into the log.
fn actor(headers: &HeaderMap) -> String {
    let said: String = headers
        .get("x-mica-actor")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .chars()
        .filter(|c| !c.is_control())
        .take(200)
        .collect();
    if said.trim().is_empty() {
        "admin token".into()
    } else {
        said.trim().to_string()
    }
}

/// Run the plugin's checks. Mica's UI treats any 2xx as success, so a failed check is a 422 with
/// the first failure as `detail`.
pub async fn test_connection(
    State(state): State<AppState>,
    Path(plugin_id): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let plugin = plugin(&state, &plugin_id)?;
    // Mica posts no body; a body may name who gets a test card.
    let bytes = read_body(body)?;
    let to = if bytes.is_empty() {
        None
    } else {
        test_recipient(&json_body(&headers, Ok(bytes))?)?
    };
    let mut checks: Vec<Value> = plugin
        .test_connection(&state.store, to)
        .await
        .map_err(|e| ApiError::unavailable(format!("the plugin could not run its checks: {e}")))?
        .into_iter()
        .map(|c| json!({"name": c.name, "ok": c.ok, "detail": c.detail}))
        .collect();
    for (method, path) in &plugin.descriptor.webhook_routes {
        checks.push(super::route_checks::own_route(&state, method, path).await);
        if let Some(public) = &state.public_url {
            checks.push(super::route_checks::public_route(&state, public, method, path).await);
        }
    }
    let failed = checks.iter().find(|c| c["ok"] == false);
    Ok(match failed {
        None => (
            StatusCode::OK,
            Json(json!({"success": true, "checks": checks})),
        )
            .into_response(),
        Some(f) => {
            let detail = format!(
                "{}: {}",
                f["name"].as_str().unwrap_or(""),
                f["detail"].as_str().unwrap_or("")
            );
            (
                StatusCode::UNPROCESSABLE_ENTITY,
                Json(json!({"success": false, "detail": detail, "checks": checks})),
            )
                .into_response()
        }
    })
}

/// Who gets Test Connection's card: `test_recipient` (a person as in events: email, and Feishu
/// ids when known), or `test_recipient_email` (`email` for short), or nobody.
fn test_recipient(body: &Value) -> Result<Option<Recipient>, ApiError> {
    if let Some(person) = body.get("test_recipient").filter(|v| !v.is_null()) {
        return Ok(Some(parse_recipient(person, "test_recipient")?));
    }
    match body
        .get("test_recipient_email")
        .or_else(|| body.get("email"))
    {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(e)) if e.trim().is_empty() => Ok(None),
        Some(Value::String(e)) => parse_recipient(&json!({ "email": e.trim() }), "")
            .map(Some)
            .map_err(|e| ApiError::unprocessable(format!("test_recipient_email: {}", e.problem))),
        Some(other) => Err(ApiError::unprocessable(format!(
            "test_recipient_email: must be an email address, got {other}"
        ))),
    }
}
