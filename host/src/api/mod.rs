//! The host's HTTP API (CONTRACT.md).

mod admin;
mod approvals;
mod auth;
mod dead_letters;
mod decisions;
mod deliveries;
mod error;
mod events;
mod health;
mod identities;
mod notices;
mod plugins;
mod preview;
mod route_checks;
mod webhook;
mod worlds;

pub use error::ApiError;
pub use webhook::MAX_IN_FLIGHT as WEBHOOK_MAX_IN_FLIGHT;

use crate::registry::Registry;
use crate::store::Store;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post, put};
use std::sync::Arc;
use tokio::sync::Notify;

/// Largest request body accepted on any endpoint.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub registry: Arc<Registry>,
    pub admin_token: Arc<str>,
    /// Mica's backend: events, deliveries, approvals; never settings or plugins.
    pub service_token: Arc<str>,
    /// Wakes the delivery worker when new deliveries are stored.
    pub wake_worker: Arc<Notify>,
    /// Whether approval changes are queued for Mica.
    pub notify_mica: bool,
    pub webhook_deadline: std::time::Duration,
    /// Webhook calls into plugins in flight at once (`webhook::MAX_IN_FLIGHT`): a flood of
    /// callbacks must not take every instance slot from the deliveries.
    pub webhook_permits: Arc<tokio::sync::Semaphore>,
    /// Where Feishu reaches this host from outside (`MICA_PUBLIC_URL`), for Test Connection.
    pub public_url: Option<String>,
    /// Test Connection's probes of the public URL under way.
    pub probes: Arc<route_checks::Probes>,
    pub net: Arc<crate::net::NetConfig>,
    /// Seals and opens the values of cards' decision buttons.
    pub card_seal: crate::actions::CardSeal,
}

/// A request body, with an oversize or unreadable one reported in the API's error shape.
pub fn read_body(
    body: Result<axum::body::Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<axum::body::Bytes, ApiError> {
    body.map_err(|e| {
        if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                axum::http::StatusCode::PAYLOAD_TOO_LARGE,
                format!("the request body is larger than {MAX_BODY_BYTES} bytes"),
            )
        } else {
            ApiError::bad_request(format!("the request body could not be read: {e}"))
        }
    })
}

pub fn router(state: AppState) -> Router {
    // Mica's backend, with the service token (or the admin token).
    let service = Router::new()
        .route("/api/v1/events", post(events::post_event))
        .route("/api/v1/deliveries", get(deliveries::list))
        .route("/api/v1/decisions", get(decisions::list))
        .route(
            "/api/v1/approvals/{payment_id}",
            get(approvals::get_approval),
        )
        .route(
            "/api/v1/approvals/{payment_id}/cancel",
            post(approvals::cancel),
        )
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::require_service,
        ));
    let admin = Router::new()
        .route("/api/v1/notices/failed", get(notices::failed))
        .route("/api/v1/admin/identities", get(identities::list))
        .route(
            "/api/v1/admin/identities/{email}",
            axum::routing::delete(identities::forget),
        )
        .route("/api/v1/notices/retry-failed", post(notices::retry_all))
        .route("/api/v1/notices/{id}/retry", post(notices::retry_one))
        .route("/api/v1/deliveries/failed", get(dead_letters::list))
        .route(
            "/api/v1/deliveries/retry-failed",
            post(dead_letters::retry_all),
        )
        .route(
            "/api/v1/deliveries/{id}/retry",
            post(dead_letters::retry_one),
        )
        .route(
            "/api/v1/admin/{plugin_id}/settings",
            get(admin::get_settings).put(admin::put_settings),
        )
        .route(
            "/api/v1/admin/{plugin_id}/test",
            post(admin::test_connection),
        )
        .route(
            "/api/v1/admin/{plugin_id}/preview",
            get(preview::samples).post(preview::custom),
        )
        .route(
            "/api/v1/admin/plugins",
            get(plugins::list)
                .post(plugins::upload)
                .layer(DefaultBodyLimit::max(plugins::MAX_COMPONENT_BYTES)),
        )
        .route("/api/v1/admin/worlds", get(worlds::list))
        .route("/api/v1/admin/worlds/{world}", put(worlds::assign))
        .route(
            "/api/v1/admin/plugins/{plugin_id}/activate",
            post(plugins::activate),
        )
        .route(
            "/api/v1/admin/plugins/{plugin_id}/rollback",
            post(plugins::rollback),
        )
        .route(
            "/api/v1/admin/plugins/{plugin_id}/{action}",
            post(plugins::switch),
        )
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::require_admin,
        ));
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/metrics", get(health::metrics))
        // Routes plugins declare (verified by the plugin, not by the admin token).
        .route("/api/v1/feishu/webhook", post(webhook::receive))
        .merge(service)
        .merge(admin)
        .merge(crate::console::router())
        .fallback(|| async { ApiError::not_found("no such endpoint") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                axum::http::StatusCode::METHOD_NOT_ALLOWED,
                "method not allowed on this endpoint",
            )
        })
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}
