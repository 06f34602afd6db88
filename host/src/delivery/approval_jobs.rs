//! The approval jobs of a payment: creating its instance (once per round) and cancelling it.

use super::outcome;
use super::rate::Ticket;
use super::worker::{Shared, Worker};
use crate::approvals::Status;
use crate::domain::{ApprovalStatus, CreateRequest, DomainEvent, PluginError, Receipt, Recipient};
use crate::events::{approval_key, parse_recipient};
use crate::runtime::{CallError, LoadedPlugin};
use crate::store::{ChangeSource, Claimed, Outcome, StatusChange, now_ms};

/// The idempotency key of a payment's approval in a round: the first round keeps the key it
/// always had (so an instance created before rounds existed is found again by its uuid); later
/// rounds are keyed by the job, so each gets a new instance and a new uuid, stable across retries.
fn round_key(payment_id: &str, first_round: bool, job_id: &str) -> String {
    if first_round {
        approval_key(payment_id)
    } else {
        format!("{}:{job_id}", approval_key(payment_id))
    }
}

/// How long an approval whose initiator has no Feishu id waits before looking again (a press of
/// "Link my Feishu account" wakes it at once).
pub const IDENTITY_WAIT_MS: i64 = 30_000;

/// Feishu's approval API takes an open_id or a user_id, never an email.
pub fn needs_link(initiator: &Recipient) -> bool {
    let known = |id: &Option<String>| id.as_deref().is_some_and(|i| !i.trim().is_empty());
    !known(&initiator.feishu_open_id) && !known(&initiator.feishu_user_id)
}

impl Worker {
    /// The payment event with an initiator Feishu can start an approval for: as Mica sent it, or
    /// with the Feishu ids learned from a press of theirs. Without either, and with a plugin that
    /// can take the press, the job waits (`Err`, the reason) and the initiator gets the payment
    /// card with "Link my Feishu account" once. With an older plugin it goes on, and fails with the
    /// plugin's reason.
    pub(super) async fn with_initiator(
        &self,
        plugin: &LoadedPlugin,
        d: &Claimed,
        event: DomainEvent,
    ) -> Result<DomainEvent, String> {
        let DomainEvent::PaymentPending(mut payment) = event else {
            return Ok(event);
        };
        if !needs_link(&payment.submitter) {
            return Ok(DomainEvent::PaymentPending(payment));
        }
        let email = payment.submitter.email.clone();
        match self.store.call(move |s| s.identity(&email)).await {
            Ok(Some(bound)) => {
                payment.submitter.feishu_open_id = Some(bound.open_id);
                if payment.submitter.feishu_union_id.is_none() {
                    payment.submitter.feishu_union_id = bound.union_id;
                }
                return Ok(DomainEvent::PaymentPending(payment));
            }
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(error = %format!("{e:#}"), "could not read learned identities")
            }
        }
        // Wait for a press only when one can come: decisions reach Mica, and the plugin can
        // verify presses now (with an older plugin, or none of that, the plugin's own reason
        // fails the job).
        let can_link = self.card_seal.is_some()
            && plugin.takes_clicks()
            && plugin.accepts_presses(&self.store).await.unwrap_or(false);
        if !can_link {
            return Ok(DomainEvent::PaymentPending(payment));
        }
        let job = d.id.clone();
        match self.store.call(move |s| s.queue_link_card(&job)).await {
            Ok(true) => {
                tracing::info!("the initiator was sent a card to link their Feishu account")
            }
            Ok(false) => {}
            Err(e) => tracing::error!(error = %format!("{e:#}"), "could not queue the link card"),
        }
        Err(format!(
            "waiting: the initiator has no Feishu id yet; {} was sent the payment card with \"Link my Feishu account\", and the approval starts once they press it",
            payment.submitter.email
        ))
    }

    /// Create the payment's approval and record payment ↔ instance before the job completes; a
    /// crash in between re-runs the job, which finds the same instance through its uuid. A payment
    /// whose current instance was rejected or cancelled gets a new instance; one still open or
    /// approved is refused, naming it.
    pub(super) async fn create_approval(
        &self,
        plugin: &LoadedPlugin,
        d: &Claimed,
        event: DomainEvent,
    ) -> Result<Result<Receipt, PluginError>, CallError> {
        let DomainEvent::PaymentPending(payment) = event else {
            return Ok(Err(PluginError::InvalidInput(
                "an approval job needs a payment_pending event".into(),
            )));
        };
        let payment_id = payment.payment_id.clone();
        let id = payment_id.clone();
        let current = match self.store.call(move |s| s.current_approval(&id)).await {
            Ok(c) => c,
            Err(e) => {
                return Ok(Err(PluginError::transient(format!(
                    "the store could not be read: {e:#}"
                ))));
            }
        };
        let first_round = match &current {
            None => true,
            // This job already created and recorded it (the outcome was not written).
            Some(c) if c.job_id.as_deref() == Some(d.id.as_str()) => {
                return Ok(Ok(Receipt::of(c.instance_code.clone())));
            }
            Some(c) if c.status.allows_new_round() => false,
            Some(c) => {
                return Ok(Err(PluginError::permanent(format!(
                    "payment {payment_id} already has approval {} ({}): cancel it (POST /api/v1/approvals/{payment_id}/cancel) before sending the payment for approval again",
                    c.instance_code,
                    c.status.as_str()
                ))));
            }
        };
        let initiator = crate::events::recipient_json(&payment.submitter).to_string();
        let request = CreateRequest {
            idempotency_key: round_key(&payment_id, first_round, &d.id),
            payment,
        };
        let created = match plugin.create_approval(&self.store, request).await? {
            Ok(created) => created,
            Err(e) => return Ok(Err(e)),
        };
        let change = StatusChange {
            instance_code: created.instance_code.clone(),
            status: Status(created.status),
            status_time_ms: now_ms() as u64,
            source: ChangeSource::Create,
        };
        let (plugin_id, notify, job) = (plugin.id().to_string(), self.notify_mica, d.id.clone());
        let recorded = self
            .store
            .call(move |s| {
                s.record_approval(&payment_id, &plugin_id, &initiator, &change, notify, &job)
            })
            .await;
        if let Err(e) = recorded {
            tracing::error!(delivery_id = %d.id, error = %format!("{e:#}"), "could not record an approval");
            return Ok(Err(PluginError::transient(
                "the approval was created but could not be recorded; retrying",
            )));
        }
        Ok(Ok(Receipt::of(created.instance_code)))
    }

    /// Cancel the instance named by the job's event, unless it is no longer open.
    pub(super) async fn cancel(
        &self,
        d: &Claimed,
        plugin: &LoadedPlugin,
        ticket: Option<Ticket>,
        shared: &Shared,
    ) {
        let version = plugin.version().to_string();
        let target = self.cancel_target(d).await;
        let (payment_id, instance_code, initiator) = match target {
            Ok(t) => t,
            Err(outcome) => {
                self.release(ticket);
                return self
                    .finish(d, "cancel", &version, None, outcome, shared)
                    .await;
            }
        };
        let result = match plugin
            .cancel_approval(&self.store, &instance_code, &initiator)
            .await
        {
            Ok(Ok(())) => {
                let change = StatusChange {
                    instance_code: instance_code.clone(),
                    status: Status(ApprovalStatus::Canceled),
                    status_time_ms: now_ms() as u64,
                    source: ChangeSource::Cancel,
                };
                let notify = self.notify_mica;
                match self
                    .store
                    .call(move |s| s.apply_status(&change, notify))
                    .await
                {
                    Ok(_) => Ok(Ok(Receipt::of(instance_code))),
                    Err(e) => Ok(Err(PluginError::transient(format!(
                        "cancelled in Feishu but not recorded ({e:#}); retrying"
                    )))),
                }
            }
            Ok(Err(e)) => Ok(Err(e)),
            Err(e) => Err(e),
        };
        tracing::info!(%payment_id, "approval cancel attempted");
        let outcome = outcome::decide(&result, d.attempt, d.rate_limited, &self.policy);
        self.finish(d, "cancel", &version, ticket, outcome, shared)
            .await
    }

    /// The payment, instance and initiator a cancel job is for; an outcome instead when there is
    /// nothing (left) to cancel.
    async fn cancel_target(&self, d: &Claimed) -> Result<(String, String, Recipient), Outcome> {
        let failed = Outcome::unusable;
        let event_id = d.event_id.clone();
        let payload = self
            .store
            .call(move |s| s.event_payload(&event_id))
            .await
            .map_err(|e| Outcome::store_unreadable(&e))?
            .ok_or_else(|| failed("the cancel job's event is missing".into()))?;
        let payload: serde_json::Value =
            serde_json::from_str(&payload).map_err(|e| failed(e.to_string()))?;
        let payment_id = payload["payment_id"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let instance_code = payload["instance_code"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let id = payment_id.clone();
        let current = self
            .store
            .call(move |s| s.current_approval(&id))
            .await
            .ok()
            .flatten();
        match current {
            Some(c) if c.instance_code == instance_code && c.status.is_open() => {}
            Some(c) if c.instance_code == instance_code => {
                return Err(Outcome::Skipped {
                    reason: format!("nothing to cancel: the approval is {}", c.status.as_str()),
                });
            }
            _ => {
                return Err(Outcome::Skipped {
                    reason: format!(
                        "nothing to cancel: {instance_code} is no longer the payment's approval"
                    ),
                });
            }
        }
        let initiator = serde_json::from_str::<serde_json::Value>(&d.recipient)
            .map_err(|e| e.to_string())
            .and_then(|r| parse_recipient(&r, "initiator").map_err(|e| e.to_string()))
            .map_err(failed)?;
        Ok((payment_id, instance_code, initiator))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_first_round_keeps_its_key_and_later_rounds_get_their_own() {
        assert_eq!(super::round_key("p1", true, "job-a"), "approval:p1");
        assert_eq!(super::round_key("p1", false, "job-b"), "approval:p1:job-b");
        assert_ne!(
            super::round_key("p1", false, "job-b"),
            super::round_key("p1", false, "job-c")
        );
    }
}
