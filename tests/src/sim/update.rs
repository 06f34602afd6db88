//! `PATCH /open-apis/im/v1/messages/{message_id}`: updating a sent card in place, with Feishu's
//! rules (FEISHU_API.md §3.3): the whole card replaced, `update_multi` in the old card and the new,
//! a recalled message refused, at most 5 updates a second per message.

use super::routes::{MAX_CARD_REQUEST_BYTES, card_content, error, feishu, injected, refusal};
use super::state::SimState;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

type Shared = Arc<Mutex<SimState>>;

/// Feishu's limit on updates of one message.
const PER_MESSAGE_PER_SECOND: usize = 5;

fn shared_card(card: &Value) -> bool {
    card["config"]["update_multi"] == true
}

pub async fn update_message(
    State(state): State<Shared>,
    Path(message_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let fault = {
        let mut s = state.lock().unwrap();
        s.update_arrivals.push((Instant::now(), message_id.clone()));
        s.update_faults.pop_front()
    };
    if let Some(answer) = injected(fault).await {
        return answer;
    }
    let mut s = state.lock().unwrap();
    if let Some(refused) = refusal(&s, &headers) {
        return refused;
    }
    if !s.send_scope_granted {
        return error(
            400,
            99991672,
            "Access denied. One of the following scopes is required: [im:message, im:message:send_as_bot, im:message:update].",
        );
    }
    if s.enforce_rate_limits {
        let now = Instant::now();
        let recent = s
            .update_arrivals
            .iter()
            .rev()
            .take_while(|(t, _)| now.duration_since(*t) < Duration::from_secs(1))
            .filter(|(_, id)| *id == message_id)
            .count();
        if recent > PER_MESSAGE_PER_SECOND {
            s.rate_limited += 1;
            return error(400, 230020, "This operation triggers the frequency limit.");
        }
    }
    let Some(index) = s.messages.iter().position(|m| m.message_id == message_id) else {
        return error(
            400,
            230001,
            "Your request contains an invalid request parameter. ext=message_id not found",
        );
    };
    if s.recalled.contains(&message_id) {
        return error(400, 230011, "The message is recalled.");
    }
    if body.len() > MAX_CARD_REQUEST_BYTES {
        return error(
            400,
            230025,
            "The length of the message content reaches its limit.",
        );
    }
    let Ok(req) = serde_json::from_slice::<Value>(&body) else {
        return error(
            400,
            230001,
            "Your request contains an invalid request parameter.",
        );
    };
    let new_card = match card_content(&req) {
        Ok(card) => card,
        Err(refused) => return *refused,
    };
    if !shared_card(&s.messages[index].card) || !shared_card(&new_card) {
        return error(
            400,
            230001,
            "Your request contains an invalid request parameter. ext=update_multi must be true in the sent card and the new one",
        );
    }
    let message = &mut s.messages[index];
    message.card = new_card;
    message.updates += 1;
    feishu(200, json!({"code": 0, "msg": "success", "data": {}}))
}
