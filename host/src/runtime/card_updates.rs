//! Redrawing sent cards (the `card-updates` interface, mica:plugin 0.1.3): the host's
//! `delivery::redraw::Settlement` as the interface has it, and the calls. The bindings stay here,
//! at the runtime's edge.

use super::bindings::card_updates as wit;
use super::bindings::types;
use super::convert::answer;
use super::loaded::{CallError, LoadedPlugin};
use crate::delivery::redraw::Settlement;
use crate::domain::{DomainEvent, PluginError, Receipt, Recipient};
use crate::store::Store;

/// The settlement as `card-updates` has it; none for a decision taken on the card, which
/// `card-actions` draws.
fn settlement(s: &Settlement) -> Option<wit::Settlement> {
    Some(match s {
        Settlement::Decided {
            result,
            decider_name,
            decider_email,
            comment,
            decided_at,
        } => wit::Settlement::Decided(wit::Decided {
            result: (*result).into(),
            decider: types::Person {
                name: decider_name.clone(),
                email: decider_email.clone(),
            },
            comment: comment.clone(),
            decided_at: decided_at.clone(),
        }),
        Settlement::Approval { status, changed_at } => {
            wit::Settlement::Approval(wit::ApprovalState {
                status: status.0.into(),
                changed_at: changed_at.clone(),
            })
        }
        Settlement::Deciding { .. } => return None,
    })
}

fn not_drawn_here() -> CallError {
    CallError::Host("a decision taken on a card is redrawn through mica:plugin/card-actions".into())
}

/// One sent card to redraw (the `card-updates.update` request, in the host's types).
pub struct CardUpdateCall<'a> {
    pub idempotency_key: String,
    pub message_id: String,
    /// The event the card was sent for.
    pub event: &'a DomainEvent,
    pub settlement: &'a Settlement,
    pub recipient: Recipient,
    pub attempt: u32,
}

impl LoadedPlugin {
    /// Whether the plugin redraws sent cards (exports `card-updates`, since 0.1.3).
    pub fn updates_cards(&self) -> bool {
        self.card_updates.is_some()
    }

    /// Redraw one card. The receipt has the shape `notify`'s has, so the worker judges both alike.
    pub async fn update_card(
        &self,
        db: &Store,
        call: &CardUpdateCall<'_>,
    ) -> Result<Result<Receipt, PluginError>, CallError> {
        let idx = self
            .card_updates
            .as_ref()
            .ok_or(CallError::NotImplemented("mica:plugin/card-updates"))?;
        let request = wit::UpdateRequest {
            idempotency_key: call.idempotency_key.clone(),
            message_id: call.message_id.clone(),
            event: call.event.clone().into(),
            settlement: settlement(call.settlement).ok_or_else(not_drawn_here)?,
            recipient: call.recipient.clone().into(),
            attempt: call.attempt,
        };
        let updated = self
            .call("update_card", Some(db), async |store, instance| {
                idx.load(&mut *store, instance)?
                    .call_update(store, &request)
                    .await
            })
            .await?;
        Ok(answer(updated))
    }

    /// The redrawn card `update_card` would send to a reader in `locale` (the console's preview).
    pub async fn render_settled(
        &self,
        event: &DomainEvent,
        settled: &Settlement,
        locale: &str,
    ) -> Result<Result<String, PluginError>, CallError> {
        let idx = self
            .card_updates
            .as_ref()
            .ok_or(CallError::NotImplemented("mica:plugin/card-updates"))?;
        let settled = settlement(settled).ok_or_else(not_drawn_here)?;
        let event = types::DomainEvent::from(event.clone());
        self.call("preview", None, async |store, instance| {
            idx.load(&mut *store, instance)?
                .call_render(store, &event, &settled, locale)
                .await
        })
        .await
        .map(answer)
    }
}
