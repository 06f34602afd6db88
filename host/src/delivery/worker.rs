//! The delivery loop.

use super::approval_jobs::IDENTITY_WAIT_MS;
use super::event_cache::{EventCache, EventForDelivery, Loaded};
use super::kind::Kind;
use super::outcome;
use super::outcome_writer::OutcomeWriter;
use super::rate::{Limiter, Quota, Scope, Ticket};
use super::retry::RetryPolicy;
use crate::domain::{Action, DomainEvent, NotifyRequest, Offer, Recipient};
use crate::events::{Payload, parse_recipient};
use crate::registry::Registry;
use crate::runtime::{LoadedPlugin, MessageCall};
use crate::store::{Claimed, Completion, ErrorKind, Outcome, Store, Verdict, now_ms};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{Notify, Semaphore, watch};
use tokio::task::JoinHandle;

pub struct Worker {
    pub store: Store,
    pub registry: Arc<Registry>,
    pub policy: RetryPolicy,
    /// Plugin calls in flight at once.
    pub concurrency: usize,
    /// How long a claimed delivery stays leased (longer than a call's deadline).
    pub lease: Duration,
    /// Whether approval status changes are queued for Mica (MICA_CALLBACK_URL is set).
    pub notify_mica: bool,
    /// Seals the decision buttons of requisition cards; none when decisions cannot reach Mica
    /// (no MICA_CALLBACK_URL), and then cards go without buttons.
    pub card_seal: Option<crate::actions::CardSeal>,
    /// Shapes calls to the remote service's rate limits.
    pub limiter: std::sync::Mutex<Limiter>,
}

/// What the calls of a running worker share besides the worker itself.
pub(super) struct Shared {
    pub(super) events: EventCache,
    outcomes: OutcomeWriter,
}

/// A running worker.
pub struct WorkerHandle {
    wake: Arc<Notify>,
    stop: watch::Sender<bool>,
    join: JoinHandle<()>,
}

impl WorkerHandle {
    /// New deliveries were stored: look now rather than at the next poll.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Stop claiming, let calls in flight finish (up to `grace`), then return.
    pub async fn stop(self, grace: Duration) {
        let _ = self.stop.send(true);
        if tokio::time::timeout(grace, self.join).await.is_err() {
            tracing::warn!(
                ?grace,
                "deliveries still in flight at shutdown; their leases will expire and they will be retried"
            );
        }
    }
}

/// Longest sleep between looks at the store (deliveries may be added by another process).
const IDLE_POLL: Duration = Duration::from_millis(500);

/// Due deliveries one claim looks at, at most: enough to pass a few people's backlogs (each
/// limited to 5 cards a second) to reach everyone queued behind them.
const CLAIM_SCAN: usize = 500;

/// How long a delivery the active plugin cannot take (none serves its world, or the version is
/// too old for it) waits before it is looked at again; it spends no attempt.
pub(super) const PLUGIN_WAIT_MS: i64 = 5_000;

/// What a claim took (each with its rate-limit slot), and how soon what it left could go.
struct Claim {
    taken: Vec<(Claimed, Option<Ticket>)>,
    blocked_for: Option<Duration>,
}

/// Parsed events kept for their next deliveries (an event fans out to up to 1,000 recipients,
/// claimed in order, so a few dozen events cover everything in flight).
const CACHED_EVENTS: usize = 64;

impl Worker {
    /// Run until stopped; `wake` is notified whenever new deliveries are stored.
    pub fn start(self, wake: Arc<Notify>) -> WorkerHandle {
        let (stop, stopped) = watch::channel(false);
        let join = tokio::spawn(self.run(wake.clone(), stopped));
        WorkerHandle { wake, stop, join }
    }

    async fn run(self, wake: Arc<Notify>, mut stopped: watch::Receiver<bool>) {
        let this = Arc::new(self);
        let shared = Arc::new(Shared {
            events: EventCache::new(CACHED_EVENTS),
            outcomes: OutcomeWriter::start(this.store.clone()),
        });
        let slots = Arc::new(Semaphore::new(this.concurrency));
        // Claim in batches: once busy, wait for half the slots to free up rather than running a
        // claim transaction for every call that finishes.
        let refill = (this.concurrency / 2).max(1) as u32;
        while !*stopped.borrow() {
            let app_wait = this
                .limiter
                .lock()
                .expect("limiter lock")
                .app_wait(Instant::now());
            let idle = match this.registry.has_active() {
                false => IDLE_POLL,
                // The app-wide window is full: claim nothing until it has room.
                true if !app_wait.is_zero() => app_wait.min(IDLE_POLL),
                true => match this.claim(slots.available_permits()).await {
                    Ok(claim) if !claim.taken.is_empty() => {
                        for (claimed, ticket) in claim.taken {
                            let permit = slots.clone().acquire_owned().await.expect("never closed");
                            let (this, shared) = (this.clone(), shared.clone());
                            tokio::spawn(async move {
                                this.deliver(claimed, ticket, &shared).await;
                                drop(permit);
                            });
                        }
                        if slots.available_permits() < refill as usize {
                            drop(slots.acquire_many(refill).await);
                        }
                        continue;
                    }
                    // Due deliveries are waiting for their rate-limit slots.
                    Ok(Claim {
                        blocked_for: Some(wait),
                        ..
                    }) => wait.min(IDLE_POLL),
                    Ok(_) => this.until_next_due().await,
                    Err(e) => {
                        tracing::error!(error = %format!("{e:#}"), "could not claim deliveries");
                        Duration::from_secs(1)
                    }
                },
            };
            tokio::select! {
                _ = wake.notified() => {}
                _ = tokio::time::sleep(idle) => {}
                _ = stopped.changed() => {}
            }
        }
        // Graceful stop: wait for every call in flight.
        let _ = slots.acquire_many(this.concurrency as u32).await;
    }

    /// Take due deliveries in queue order, each with its slot under the rate limits: a delivery
    /// whose slot is not free stays due, in its place, without spending an attempt.
    async fn claim(self: &Arc<Self>, free: usize) -> anyhow::Result<Claim> {
        if free == 0 {
            return Ok(Claim {
                taken: vec![],
                blocked_for: None,
            });
        }
        let lease = self.lease.as_millis() as i64;
        let this = self.clone();
        self.store
            .call(move |s| {
                let now = Instant::now();
                let limiter = std::cell::RefCell::new(this.limiter.lock().expect("limiter lock"));
                let mut tickets = Vec::new();
                let mut blocked_for: Option<Duration> = None;
                // Once a quota's app-wide window is full, so is it for every later candidate
                // (they come in class order, and later classes may use less of the window).
                let (mut messages_full, mut approvals_full) = (false, false);
                // Other hosts on the database share Feishu's limits: what they were granted counts.
                let follow = |others: &crate::store::Others| {
                    limiter.borrow_mut().follow(others, Instant::now());
                };
                let claimed = s.claim_due(free, lease, CLAIM_SCAN, follow, |c| {
                    let Some(kind) = Kind::parse(c.kind) else {
                        tickets.push(None); // taken, to be failed with its reason
                        return Verdict::Take;
                    };
                    let full = match kind.quota() {
                        Quota::Messages => &mut messages_full,
                        Quota::Approvals => &mut approvals_full,
                    };
                    if *full {
                        return Verdict::Skip;
                    }
                    let acquired =
                        limiter
                            .borrow_mut()
                            .acquire(kind.quota(), c.class, c.recipient_email, now);
                    match acquired {
                        Ok(ticket) => {
                            tickets.push(Some(ticket));
                            Verdict::Take
                        }
                        Err(wait) => {
                            crate::metrics::METRICS
                                .rate_waits
                                .with_label_values(&[kind.as_str()])
                                .inc();
                            *full = wait.scope == Scope::App;
                            blocked_for =
                                Some(blocked_for.map_or(wait.after, |b| b.min(wait.after)));
                            Verdict::Skip
                        }
                    }
                });
                match claimed {
                    Ok(claimed) => Ok(Claim {
                        taken: claimed.into_iter().zip(tickets).collect(),
                        blocked_for,
                    }),
                    Err(e) => {
                        let mut limiter = limiter.borrow_mut();
                        tickets
                            .into_iter()
                            .flatten()
                            .for_each(|t| limiter.release(t));
                        Err(e)
                    }
                }
            })
            .await
    }

    async fn until_next_due(&self) -> Duration {
        match self.store.call(|s| s.next_due_at()).await {
            Ok(Some(at)) => {
                Duration::from_millis((at - now_ms()).clamp(0, IDLE_POLL.as_millis() as i64) as u64)
            }
            _ => IDLE_POLL,
        }
    }

    /// Every log line about a delivery, the plugin's own included, carries its ids.
    async fn deliver(&self, d: Claimed, ticket: Option<Ticket>, shared: &Shared) {
        use tracing::Instrument;
        let span = tracing::info_span!("delivery", delivery_id = %d.id, event_id = %d.event_id, kind = %d.kind, class = d.class.as_str(), attempt = d.attempt);
        self.attempt(d, ticket, shared).instrument(span).await
    }

    async fn attempt(&self, d: Claimed, ticket: Option<Ticket>, shared: &Shared) {
        let Some(kind) = Kind::parse(&d.kind) else {
            self.release(ticket);
            let outcome = Outcome::Failed {
                kind: ErrorKind::InvalidInput,
                error: format!("unknown delivery kind {:?}", d.kind),
                remote_code: None,
                log_id: None,
            };
            return self.finish(&d, "unknown", "-", None, outcome, shared).await;
        };
        let world = kind.world();
        let plugin = match self.registry.serving(world) {
            Ok(plugin) => plugin,
            Err(unserved) => {
                self.release(ticket);
                let reason = format!("waiting: {unserved}");
                return self
                    .put_back(&d, PLUGIN_WAIT_MS, reason, ErrorKind::NoPlugin)
                    .await;
            }
        };
        if kind == Kind::Cancel {
            return self.cancel(&d, &plugin, ticket, shared).await;
        }
        if kind == Kind::CardUpdate {
            return self.redraw(&d, &plugin, ticket, shared).await;
        }
        let loaded = shared.events.get(&self.store, &d.event_id);
        let built = build_request(&d, &loaded);
        let event_type = built
            .as_ref()
            .map(|(e, _)| e.kind.as_str())
            .unwrap_or("unknown");
        let ticket = match built {
            Ok(_) => ticket,
            Err(_) => {
                self.release(ticket);
                None
            }
        };
        // A notice or digest waits for a plugin that sends them (mica:plugin 0.1.2), spending
        // no attempt, rather than failing on an older one.
        if let Ok((event, _)) = &built
            && matches!(event.payload, Payload::Message(_))
            && !plugin.sends_messages()
        {
            self.release(ticket);
            let reason = format!(
                "waiting: {} {} does not send notices or digests (they need mica:plugin 0.1.2)",
                plugin.id(),
                plugin.version()
            );
            return self
                .put_back(&d, PLUGIN_WAIT_MS, reason, ErrorKind::NoPlugin)
                .await;
        }
        let outcome = match built {
            Ok((event, _)) if kind == Kind::Approval => match &event.payload {
                Payload::Domain(domain) => {
                    let domain = match self.with_initiator(&plugin, &d, domain.clone()).await {
                        Ok(domain) => domain,
                        Err(waiting) => {
                            self.release(ticket);
                            return self
                                .put_back(
                                    &d,
                                    IDENTITY_WAIT_MS,
                                    waiting,
                                    ErrorKind::AwaitingIdentity,
                                )
                                .await;
                        }
                    };
                    let result = self.create_approval(&plugin, &d, domain).await;
                    outcome::decide(&result, d.attempt, d.rate_limited, &self.policy)
                }
                Payload::Message(_) => Outcome::Failed {
                    kind: ErrorKind::InvalidInput,
                    error: "an approval job belongs to a payment_pending event".into(),
                    remote_code: None,
                    log_id: None,
                },
            },
            Ok((event, recipient)) => {
                let result = match &event.payload {
                    Payload::Domain(domain) => {
                        let request = NotifyRequest {
                            idempotency_key: d.id.clone(),
                            event_id: d.event_id.clone(),
                            occurred_at: event.occurred_at.clone(),
                            event: domain.clone(),
                            recipient,
                            attempt: d.attempt,
                        };
                        match self.offer(&plugin, &d.id, domain, &request.recipient) {
                            Some(offer) => {
                                plugin.notify_with_offer(&self.store, request, &offer).await
                            }
                            None => plugin.notify(&self.store, request).await,
                        }
                    }
                    Payload::Message(message) => {
                        let request = MessageCall {
                            idempotency_key: d.id.clone(),
                            event_id: d.event_id.clone(),
                            occurred_at: event.occurred_at.clone(),
                            message,
                            recipient,
                            attempt: d.attempt,
                        };
                        plugin.send_message(&self.store, &request).await
                    }
                };
                outcome::decide(&result, d.attempt, d.rate_limited, &self.policy)
            }
            Err(error) => Outcome::Failed {
                kind: ErrorKind::InvalidInput,
                error,
                remote_code: None,
                log_id: None,
            },
        };
        let version = plugin.version().to_string();
        self.finish(&d, event_type, &version, ticket, outcome, shared)
            .await
    }

    /// The buttons a card carries, from a plugin that takes clicks: Approve and Reject on a
    /// requisition card when decisions can reach Mica; "Link my Feishu account" on the payment
    /// card sent to a payment's initiator whom Feishu does not know by id.
    fn offer(
        &self,
        plugin: &LoadedPlugin,
        delivery_id: &str,
        event: &DomainEvent,
        to: &Recipient,
    ) -> Option<Offer> {
        let seal = self.card_seal.as_ref().filter(|_| plugin.takes_clicks())?;
        let actions = match event {
            DomainEvent::PrSubmitted(_) => vec![Action::Approve, Action::Reject],
            DomainEvent::PaymentPending(p)
                if super::approval_jobs::needs_link(&p.submitter)
                    && p.submitter.email.eq_ignore_ascii_case(&to.email) =>
            {
                vec![Action::LinkAccount]
            }
            _ => return None,
        };
        Some(Offer {
            seal: seal.seal(delivery_id),
            actions,
        })
    }

    /// Put a delivery back for `after_ms`, spending no attempt, because it cannot go now: the
    /// plugin that owns its world cannot take it (it may be enabled, activated or assigned; the
    /// delivery is never dropped, never handed to another plugin), or the card it redraws is not
    /// sent yet.
    pub(super) async fn put_back(
        &self,
        d: &Claimed,
        after_ms: i64,
        reason: String,
        kind: ErrorKind,
    ) {
        let (id, at) = (d.id.clone(), now_ms() + after_ms);
        if let Err(e) = self
            .store
            .call(move |s| s.put_back(&id, at, &reason, kind))
            .await
        {
            tracing::error!(error = %format!("{e:#}"), "could not put a delivery back");
        }
    }

    /// Give back a slot no call was made with.
    pub(super) fn release(&self, ticket: Option<Ticket>) {
        if let Some(ticket) = ticket {
            self.limiter.lock().expect("limiter lock").release(ticket);
        }
    }

    /// Log the outcome, give the slot back, and record the outcome.
    pub(super) async fn finish(
        &self,
        d: &Claimed,
        event_type: &str,
        plugin_version: &str,
        ticket: Option<Ticket>,
        outcome: Outcome,
        shared: &Shared,
    ) {
        match &outcome {
            Outcome::Sent { message_id, log_id } => {
                tracing::info!(%message_id, feishu_log_id = ?log_id, "delivered")
            }
            Outcome::Skipped { reason } => tracing::info!(%reason, "skipped"),
            Outcome::Retry {
                kind,
                error,
                log_id,
                retry_at_ms,
                ..
            } => tracing::warn!(
                %kind, %error, feishu_log_id = ?log_id, retry_in_ms = retry_at_ms - now_ms(), "will retry"
            ),
            Outcome::Failed {
                kind,
                error,
                log_id,
                ..
            } => {
                tracing::error!(%kind, %error, feishu_log_id = ?log_id, "delivery failed")
            }
        }
        if let Some(ticket) = ticket {
            self.limiter
                .lock()
                .expect("limiter lock")
                .answered(ticket, Instant::now());
        }
        record(&d.kind, event_type, &outcome);
        if let Outcome::Retry {
            kind, retry_at_ms, ..
        } = &outcome
            && *kind == ErrorKind::RateLimited
        {
            let delay = Duration::from_millis((retry_at_ms - now_ms()).max(0) as u64);
            self.limiter
                .lock()
                .expect("limiter lock")
                .pause(delay, Instant::now());
        }
        let done = Completion {
            id: d.id.clone(),
            plugin_version: plugin_version.to_string(),
            outcome,
        };
        if let Err(error) = shared.outcomes.record(done).await {
            // The lease will expire and the delivery will be attempted again with the same key.
            tracing::error!(%error, "could not record a delivery outcome");
        }
    }
}

/// The stored event and recipient of a delivery, validated again as when they were accepted.
fn build_request<'a>(
    d: &Claimed,
    loaded: &'a Loaded,
) -> Result<(&'a EventForDelivery, Recipient), String> {
    let event = loaded.as_ref().as_ref().map_err(Clone::clone)?;
    let recipient = serde_json::from_str::<serde_json::Value>(&d.recipient)
        .map_err(|e| e.to_string())
        .and_then(|r| parse_recipient(&r, "recipient").map_err(|e| e.to_string()))
        .map_err(|e| format!("the stored recipient cannot be read: {e}"))?;
    Ok((event, recipient))
}

fn record(kind: &str, event_type: &str, outcome: &Outcome) {
    let m = &crate::metrics::METRICS;
    let (label, code) = match outcome {
        Outcome::Sent { .. } => ("sent", None),
        Outcome::Skipped { .. } => ("skipped", None),
        Outcome::Retry { remote_code, .. } => ("retry", *remote_code),
        Outcome::Failed { remote_code, .. } => ("failed", *remote_code),
    };
    m.deliveries
        .with_label_values(&[kind, event_type, label])
        .inc();
    if let Some(code) = code {
        m.remote_errors
            .with_label_values(&[&code.to_string()])
            .inc();
    }
}
