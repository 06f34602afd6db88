//! Bearer-token authentication for the admin and Mica-facing endpoints.

use super::{ApiError, AppState};
use axum::extract::{Request, State};
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::Response;
use sha2::{Digest, Sha256};

/// Compare digests so the comparison takes the same time whatever the input.
fn same_token(given: &str, expected: &str) -> bool {
    let a = Sha256::digest(given.as_bytes());
    let b = Sha256::digest(expected.as_bytes());
    a.iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

pub async fn require_token(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let header = request
        .headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| {
            ApiError::unauthorized("Authorization header missing: send \"Bearer <admin token>\"")
        })?;
    let token = header.strip_prefix("Bearer ").ok_or_else(|| {
        ApiError::unauthorized("Authorization header must be \"Bearer <admin token>\"")
    })?;
    if !same_token(token.trim(), &state.admin_token) {
        return Err(ApiError::unauthorized("the admin token is not valid"));
    }
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
