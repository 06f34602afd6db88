//! `/_sim/*`: the simulator's own endpoints for tests in another process (the Python bridge's
//! suite runs the `feishu-sim` binary): read what Feishu received, define an approval template,
//! point callbacks at a host, and decide an instance as an approver would.

use super::callbacks::CallbackConfig;
use super::state::SimState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::Duration;

type Shared = Arc<Mutex<SimState>>;

pub fn router(state: Shared) -> Router {
    Router::new()
        .route("/_sim/messages", get(messages))
        .route("/_sim/stats", get(stats))
        .route("/_sim/approvals/{code}", post(define_payment_template))
        .route("/_sim/callbacks", post(callbacks))
        .route("/_sim/instances", get(instances))
        .route("/_sim/instances/{code}/decide", post(decide))
        .route("/_sim/messages/{id}/press", post(press))
        .with_state(state)
}

async fn messages(State(state): State<Shared>) -> Json<Value> {
    let s = state.lock().unwrap();
    let list: Vec<Value> = s
        .messages
        .iter()
        .map(|m| {
            json!({"message_id": m.message_id, "receive_id_type": m.receive_id_type,
                   "receive_id": m.receive_id, "uuid": m.uuid, "card": m.card, "updates": m.updates})
        })
        .collect();
    Json(json!({"messages": list}))
}

async fn stats(State(state): State<Shared>) -> Json<Value> {
    let s = state.lock().unwrap();
    Json(json!({
        "token_fetches": s.token_fetches,
        "message_requests": s.message_requests,
        "duplicates_suppressed": s.duplicates_suppressed,
        "create_calls": s.create_calls,
    }))
}

/// The payment template the README describes, under `code`.
async fn define_payment_template(
    State(state): State<Shared>,
    Path(code): Path<String>,
) -> StatusCode {
    let form = super::approval::payment_template();
    state.lock().unwrap().definitions.insert(code, form);
    StatusCode::NO_CONTENT
}

#[derive(Deserialize)]
struct CallbackTarget {
    url: String,
    verification_token: String,
    encrypt_key: Option<String>,
}

/// Where Feishu's approval callbacks go; signed whenever an Encrypt Key is given; retried fast.
async fn callbacks(State(state): State<Shared>, Json(target): Json<CallbackTarget>) -> StatusCode {
    state.lock().unwrap().callback = Some(CallbackConfig {
        url: target.url,
        sign: target.encrypt_key.is_some(),
        encrypt_key: target.encrypt_key,
        verification_token: target.verification_token,
        retry_delays: [100, 200, 400, 800].map(Duration::from_millis).to_vec(),
    });
    StatusCode::NO_CONTENT
}

async fn instances(State(state): State<Shared>) -> Json<Value> {
    let s = state.lock().unwrap();
    let list: Vec<Value> = s
        .instances
        .iter()
        .map(|i| {
            json!({"instance_code": i.instance_code, "approval_code": i.approval_code,
                   "uuid": i.uuid, "status": i.status,
                   "initiator": {"type": i.initiator.0, "id": i.initiator.1}, "form": i.form})
        })
        .collect();
    Json(json!({"instances": list}))
}

#[derive(Deserialize)]
struct Decision {
    status: String,
}

async fn decide(
    State(state): State<Shared>,
    Path(code): Path<String>,
    Json(decision): Json<Decision>,
) -> (StatusCode, Json<Value>) {
    if state.lock().unwrap().callback.is_none() {
        return (
            StatusCode::CONFLICT,
            Json(json!({"detail": "POST /_sim/callbacks first"})),
        );
    }
    match super::decide(&state, &code, &decision.status) {
        Some(event_id) => (StatusCode::OK, Json(json!({"event_id": event_id}))),
        None => (
            StatusCode::NOT_FOUND,
            Json(json!({"detail": format!("no instance {code}")})),
        ),
    }
}

#[derive(Deserialize)]
struct PressRequest {
    event_id: String,
    /// `approve` or `reject`: the button's name.
    action: String,
    comment: Option<String>,
    open_id: String,
    union_id: Option<String>,
    /// The button's value as an earlier drawing of the card had it (a press that raced the
    /// card's redraw); by default, the value of the `action` button the card shows now.
    value: Option<Value>,
}

/// A person presses a button on a sent card: the answer is the host's (status and body), as
/// Feishu received it.
async fn press(
    State(state): State<Shared>,
    Path(id): Path<String>,
    Json(p): Json<PressRequest>,
) -> (StatusCode, Json<Value>) {
    if state.lock().unwrap().callback.is_none() {
        return (
            StatusCode::CONFLICT,
            Json(json!({"detail": "POST /_sim/callbacks first"})),
        );
    }
    let presser = super::clicks::Presser::new(&p.open_id, p.union_id.as_deref());
    let press = match p.value {
        Some(value) => super::clicks::Press {
            event_id: p.event_id,
            message_id: id,
            value,
            comment: p.comment,
            presser,
        },
        None => match super::clicks::press_on(
            &state,
            &p.event_id,
            &id,
            &p.action,
            p.comment.as_deref(),
            presser,
        ) {
            Ok(press) => press,
            Err(e) => return (StatusCode::NOT_FOUND, Json(json!({"detail": e}))),
        },
    };
    let answer = super::clicks::deliver(&state, &press).await;
    (
        StatusCode::OK,
        Json(json!({"status": answer.status, "body": answer.body})),
    )
}
