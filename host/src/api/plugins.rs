//! Plugin lifecycle over HTTP (CONTRACT.md): list, upload (validated before anything is stored),
//! activate a version, roll back.

use super::{ApiError, AppState, read_body};
use crate::registry::{SameVersion, VersionTaken};
use crate::store::OwnedElsewhere;
use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header::CONTENT_TYPE};
use serde_json::{Value, json};
use std::collections::HashMap;

/// Largest component accepted.
pub const MAX_COMPONENT_BYTES: usize = 16 * 1024 * 1024;

pub async fn list(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let (versions, active) = state
        .store
        .call(|s| Ok((s.plugin_versions()?, s.active_plugins()?)))
        .await?;
    let plugins: Vec<Value> = versions
        .into_iter()
        .map(|v| {
            let is_active = active
                .iter()
                .any(|(id, ver)| *id == v.plugin_id && *ver == v.version);
            let descriptor: Value = serde_json::from_str(&v.descriptor).unwrap_or(Value::Null);
            json!({
                "id": v.plugin_id, "version": v.version, "digest": v.digest, "active": is_active,
                "worlds": v.worlds.split(',').filter(|w| !w.is_empty()).collect::<Vec<_>>(),
                "installed_at": crate::store::rfc3339(v.installed_at),
                "required_scopes": descriptor["required_scopes"],
                "webhook_routes": descriptor["webhook_routes"],
            })
        })
        .collect();
    Ok(Json(json!({"plugins": plugins})))
}

pub async fn upload(
    State(state): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let is_wasm = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/wasm"));
    if !is_wasm {
        return Err(ApiError::unsupported_media(
            "Content-Type must be application/wasm",
        ));
    }
    let wasm = read_body(body)?;
    if wasm.is_empty() {
        return Err(ApiError::bad_request("body: the component is empty"));
    }
    let activate = query
        .get("activate")
        .is_some_and(|v| v == "true" || v == "1");
    let plugin = state
        .registry
        .install(wasm.to_vec(), SameVersion::Refuse)
        .await
        .map_err(|e| {
            if let Some(taken) = e.downcast_ref::<VersionTaken>() {
                ApiError::new(StatusCode::CONFLICT, format!("version: {taken}"))
            } else if let Some(owned) = e.downcast_ref::<OwnedElsewhere>() {
                ApiError::new(StatusCode::CONFLICT, format!("body: {owned}"))
            } else {
                ApiError::unprocessable(format!("body: {e:#}"))
            }
        })?;
    let warnings = state.registry.schema_changes(&plugin);
    if activate {
        state.registry.activate(plugin.clone()).await?;
    }
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "id": plugin.id(), "version": plugin.version(), "digest": plugin.digest,
            "worlds": plugin.worlds, "active": activate, "warnings": warnings,
        })),
    ))
}

pub async fn activate(
    State(state): State<AppState>,
    Path(plugin_id): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let body = super::events::json_body(&headers, body)?;
    let version = body
        .get("version")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| ApiError::unprocessable("version: required, the version to activate"))?
        .to_string();
    let (id, v) = (plugin_id.clone(), version.clone());
    let installed = state
        .store
        .call(move |s| s.plugin_wasm(&id, &v))
        .await?
        .is_some();
    if !installed {
        return Err(ApiError::not_found(format!(
            "version: {plugin_id} {version} is not installed"
        )));
    }
    let plugin = state
        .registry
        .activate_installed(&plugin_id, &version)
        .await
        .map_err(|e| ApiError::unprocessable(format!("{e:#}")))?;
    Ok(Json(
        json!({"id": plugin.id(), "version": plugin.version(), "active": true}),
    ))
}

/// `POST /api/v1/admin/plugins/{id}/enable` and `/disable`.
pub async fn switch(
    State(state): State<AppState>,
    Path((plugin_id, action)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let enabled = match action.as_str() {
        "enable" => true,
        "disable" => false,
        other => {
            return Err(ApiError::not_found(format!(
                "no action {other:?} (enable or disable)"
            )));
        }
    };
    if !state.registry.set_enabled(&plugin_id, enabled).await? {
        return Err(ApiError::not_found(format!(
            "no active plugin {plugin_id:?}"
        )));
    }
    Ok(Json(json!({"id": plugin_id, "enabled": enabled})))
}

pub async fn rollback(
    State(state): State<AppState>,
    Path(plugin_id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id = plugin_id.clone();
    match state.store.call(move |s| s.plugin_active(&id)).await? {
        None => {
            return Err(ApiError::not_found(format!(
                "no active plugin {plugin_id:?}"
            )));
        }
        Some((_, None)) => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                format!("{plugin_id} has no previous version to roll back to"),
            ));
        }
        Some(_) => {}
    }
    let plugin = state
        .registry
        .rollback(&plugin_id)
        .await
        .map_err(|e| ApiError::unprocessable(format!("{e:#}")))?;
    Ok(Json(
        json!({"id": plugin.id(), "version": plugin.version(), "active": true}),
    ))
}
