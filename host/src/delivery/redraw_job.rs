//! Running one redraw (`redraw`): find the card it is for, wait for it, leave it, or have the
//! plugin redraw it.

use super::outcome;
use super::rate::Ticket;
use super::redraw::{Plan, Settlement, plan};
use super::worker::{PLUGIN_WAIT_MS, Shared, Worker};
use crate::events::{Payload, parse_recipient};
use crate::runtime::{CardUpdateCall, LoadedPlugin, ProgressCall};
use crate::store::{Claimed, ErrorKind, Outcome, now_ms};

/// How long a redraw whose card is not sent yet waits before looking again.
const AWAIT_CARD_MS: i64 = 2_000;

impl Worker {
    pub(super) async fn redraw(
        &self,
        d: &Claimed,
        plugin: &LoadedPlugin,
        ticket: Option<Ticket>,
        shared: &Shared,
    ) {
        let version = plugin.version().to_string();
        let id = d.id.clone();
        let target = match self.store.call(move |s| s.redraw_target(&id)).await {
            Ok(Some(target)) => target,
            Ok(None) => {
                self.release(ticket);
                let outcome =
                    Outcome::unusable("the card this update redraws is not in the store".into());
                return self
                    .finish(d, "card_update", &version, None, outcome, shared)
                    .await;
            }
            Err(e) => {
                self.release(ticket);
                let outcome = Outcome::store_unreadable(&e);
                return self
                    .finish(d, "card_update", &version, None, outcome, shared)
                    .await;
            }
        };
        let message_id = match plan(&target, now_ms()) {
            Plan::Update { message_id } => message_id,
            Plan::Wait(why) => {
                self.release(ticket);
                return self
                    .put_back(
                        d,
                        AWAIT_CARD_MS,
                        format!("waiting: {why}"),
                        ErrorKind::AwaitingCard,
                    )
                    .await;
            }
            Plan::Skip(reason) => {
                self.release(ticket);
                let outcome = Outcome::Skipped { reason };
                return self
                    .finish(d, "card_update", &version, None, outcome, shared)
                    .await;
            }
        };
        // An older plugin cannot redraw: the update waits for one that can (and is left once the
        // card is 14 days old), spending no attempt.
        if !plugin.updates_cards() {
            self.release(ticket);
            let reason = format!(
                "waiting: {} {} does not redraw sent cards (that needs mica:plugin 0.1.3)",
                plugin.id(),
                plugin.version()
            );
            return self
                .put_back(d, PLUGIN_WAIT_MS, reason, ErrorKind::NoPlugin)
                .await;
        }
        let loaded = shared.events.get(&self.store, &target.original_event_id);
        let built = loaded
            .as_ref()
            .as_ref()
            .map_err(|e| format!("the card's event cannot be read: {e}"))
            .and_then(|event| match &event.payload {
                Payload::Domain(domain) => Ok(domain),
                Payload::Message(_) => Err("notices and digests are not redrawn".to_string()),
            })
            .and_then(|event| {
                let settlement: Settlement = serde_json::from_str(&target.settlement)
                    .map_err(|e| format!("the stored settlement cannot be read: {e}"))?;
                let recipient = serde_json::from_str::<serde_json::Value>(&d.recipient)
                    .map_err(|e| e.to_string())
                    .and_then(|r| parse_recipient(&r, "recipient").map_err(|e| e.to_string()))
                    .map_err(|e| format!("the stored recipient cannot be read: {e}"))?;
                Ok((event, settlement, recipient))
            });
        let (event, settlement, recipient) = match built {
            Ok(built) => built,
            Err(error) => {
                self.release(ticket);
                return self
                    .finish(
                        d,
                        "card_update",
                        &version,
                        None,
                        Outcome::unusable(error),
                        shared,
                    )
                    .await;
            }
        };
        let result = match &settlement {
            // A decision taken on the card: drawn by the interface that drew its buttons.
            Settlement::Deciding { progress } => {
                let call = ProgressCall {
                    idempotency_key: d.id.clone(),
                    message_id,
                    event,
                    progress,
                    recipient,
                    attempt: d.attempt,
                };
                plugin.update_progress(&self.store, &call).await
            }
            _ => {
                let call = CardUpdateCall {
                    idempotency_key: d.id.clone(),
                    message_id,
                    event,
                    settlement: &settlement,
                    recipient,
                    attempt: d.attempt,
                };
                plugin.update_card(&self.store, &call).await
            }
        };
        let outcome = outcome::decide(&result, d.attempt, d.rate_limited, &self.policy);
        self.finish(d, "card_update", &version, ticket, outcome, shared)
            .await
    }
}
