//! Bearer-token authentication. Two credentials (see `tokens`): the admin token may call every
//! endpoint; the service token only the ones Mica's backend needs (events, deliveries,
//! approvals), so the credential kept in Mica's configuration cannot change settings or plugins.

use super::{ApiError, AppState};
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::Response;
use sha2::{Digest, Sha256};

/// Who a request is from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Caller {
    Admin,
    Service,
}

/// Compare digests (equal lengths whatever was sent) in constant time (`subtle`), so the time
/// taken tells nothing about how close the token was.
fn same_token(given: &str, expected: &str) -> bool {
    use subtle::ConstantTimeEq;
    let a = Sha256::digest(given.as_bytes());
    let b = Sha256::digest(expected.as_bytes());
    a.ct_eq(&b).into()
}

fn caller(state: &AppState, request: &Request) -> Result<Caller, ApiError> {
    let header = request
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| {
            ApiError::unauthorized(
                "Authorization header missing: send \"Bearer <admin token or service token>\"",
            )
        })?;
    let token = header
        .strip_prefix("Bearer ")
        .ok_or_else(|| ApiError::unauthorized("Authorization header must be \"Bearer <token>\""))?
        .trim();
    // Both comparisons always run, so the time taken does not tell which token was close.
    let admin = same_token(token, &state.admin_token);
    let service = same_token(token, &state.service_token);
    match (admin, service) {
        (true, _) => Ok(Caller::Admin),
        (false, true) => Ok(Caller::Service),
        (false, false) => Err(ApiError::unauthorized("the token is not valid")),
    }
}

/// Admin endpoints: settings, Test Connection, plugins, dead letters.
pub async fn require_admin(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    match caller(&state, &request)? {
        Caller::Admin => Ok(next.run(request).await),
        Caller::Service => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "the service token may post events and read deliveries and approvals only; this endpoint needs the admin token",
        )),
    }
}

/// Mica's backend endpoints: either token.
pub async fn require_service(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    caller(&state, &request)?;
    Ok(next.run(request).await)
}

#[cfg(test)]
mod tests {
    #[test]
    fn token_comparison() {
        assert!(super::same_token("abc", "abc"));
        assert!(!super::same_token("abd", "abc"));
        assert!(!super::same_token("", "abc"));
    }
}
