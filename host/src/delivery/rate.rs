//! Rate shaping before the plugin is called, so a backlog drains at the rate the remote service
//! allows instead of provoking rate-limit storms. Sliding windows (not token buckets): a token
//! bucket of 50/s lets 100 through in some one-second windows; a window log never does.
//!
//! The windows are the app's: every class of delivery shares them, except that bulk deliveries
//! may not take the last `bulk_reserve_per_minute` of the minute, so a card someone must act on
//! finds room even after a backlog has used most of the minute.

use super::class::Class;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Limits per delivery kind (defaults: Feishu's for sending messages and creating approvals).
#[derive(Clone, Debug)]
pub struct RateLimits {
    pub per_second: u32,
    pub per_minute: u32,
    pub per_recipient_per_second: u32,
    pub approvals_per_minute: u32,
    /// Of `per_minute`, what bulk deliveries never use (kept for action and update cards).
    pub bulk_reserve_per_minute: u32,
    /// Added to every window, so sends spaced by the host still fit the remote's windows after
    /// network jitter.
    pub margin: Duration,
    /// Off in benchmarks of the raw path.
    pub enabled: bool,
}

/// A tenth of Feishu's 1,000 a minute: two a second of action cards for the rest of a minute that
/// bulk has filled, and bulk still gets nine tenths.
pub const DEFAULT_BULK_RESERVE: u32 = 100;

impl Default for RateLimits {
    fn default() -> Self {
        RateLimits {
            per_second: 50,
            per_minute: 1000,
            per_recipient_per_second: 5,
            approvals_per_minute: 100,
            bulk_reserve_per_minute: DEFAULT_BULK_RESERVE,
            margin: Duration::from_millis(50),
            enabled: true,
        }
    }
}

/// Which of the remote's quotas a call counts against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Quota {
    /// Sending cards: per second, per minute and per person.
    Messages,
    /// Creating and cancelling approval instances.
    Approvals,
}

/// Why a call must wait, and for how long.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Wait {
    pub after: Duration,
    pub scope: Scope,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// The app's window (or a pause the remote asked for): no call of this quota and class, or
    /// any lower class, can go now.
    App,
    /// This person's window: calls to other people can go.
    Recipient,
}

/// Sends counted against one limit. A send counts from the moment it is granted until one window
/// after its answer: counting from the answer, not the start, keeps the limit whatever happens
/// between the grant and the request reaching the remote side (store reads, instantiation, a
/// slow network), and a send still in flight always counts.
#[derive(Default)]
struct Window {
    /// (ticket, answered at; None while in flight)
    sent: Vec<(u64, Option<Instant>)>,
}

/// How often to look again when a window is full of sends still in flight.
const IN_FLIGHT_POLL: Duration = Duration::from_millis(20);

impl Window {
    /// How long until one more fits (zero when it fits now).
    fn wait(&mut self, now: Instant, span: Duration, max: u32) -> Duration {
        self.sent
            .retain(|(_, done)| done.is_none_or(|t| now.duration_since(t) < span));
        let max = max as usize;
        if self.sent.len() < max {
            return Duration::ZERO;
        }
        let mut answered: Vec<Instant> = self.sent.iter().filter_map(|(_, t)| *t).collect();
        let must_expire = self.sent.len() + 1 - max;
        if answered.len() < must_expire {
            return IN_FLIGHT_POLL;
        }
        answered.sort();
        span.saturating_sub(now.duration_since(answered[must_expire - 1]))
    }

    fn answered(&mut self, ticket: u64, at: Instant) {
        if let Some(entry) = self.sent.iter_mut().find(|(t, _)| *t == ticket) {
            entry.1 = Some(at);
        }
    }

    fn forget(&mut self, ticket: u64) {
        self.sent.retain(|(t, _)| *t != ticket);
    }
}

/// A granted slot; hand it back with `answered` when the call is over, or `release` when no call
/// was made.
#[derive(Debug)]
pub struct Ticket {
    id: u64,
    quota: Quota,
    recipient: String,
}

#[derive(Default)]
pub struct Limiter {
    limits: RateLimits,
    second: Window,
    minute: Window,
    approvals: Window,
    recipients: HashMap<String, Window>,
    paused_until: Option<Instant>,
    next_ticket: u64,
}

/// How much later than its grant a remembered call may have reached Feishu (`Limiter::resumed`).
const IN_FLIGHT_ALLOWANCE: Duration = Duration::from_secs(1);

/// How much later than its grant another live host's call is taken to have been answered
/// (`Limiter::follow`): its send reaches Feishu within milliseconds of the grant, and a call
/// still in flight after this is a slow answer, not a late arrival.
const OTHER_HOST_ALLOWANCE: Duration = Duration::from_millis(250);

impl Limiter {
    pub fn new(limits: RateLimits) -> Limiter {
        Limiter {
            limits,
            ..Default::default()
        }
    }

    /// A limiter that counts the calls the store remembers from the last minute (a previous
    /// process's, killed or stopped), so Feishu's limits hold across a restart. Each is counted
    /// as made up to `IN_FLIGHT_ALLOWANCE` later than it was granted (no later than now): a call
    /// reaches Feishu some time after its grant, and when its process was killed that time is not
    /// known, so a burst granted just before a kill may arrive at Feishu just before the restart.
    pub async fn resumed(
        limits: RateLimits,
        store: &crate::store::Store,
    ) -> anyhow::Result<Limiter> {
        let mut limiter = Limiter::new(limits);
        let since = crate::store::now_ms() - 61_000;
        let grants = store.call(move |s| s.recent_grants(since)).await?;
        let (now, now_ms) = (Instant::now(), crate::store::now_ms());
        for (at_ms, kind, email) in &grants {
            let ago = Duration::from_millis((now_ms - at_ms).max(0) as u64)
                .saturating_sub(IN_FLIGHT_ALLOWANCE);
            let (Some(kind), Some(at)) = (super::Kind::parse(kind), now.checked_sub(ago)) else {
                continue;
            };
            limiter.remember(kind.quota(), email, at);
        }
        if !grants.is_empty() {
            tracing::info!(
                calls = grants.len(),
                "counting the calls made in the last minute before this start against the rate limits"
            );
        }
        Ok(limiter)
    }

    /// Count what other hosts on the database were granted since the last look (each as answered
    /// up to `OTHER_HOST_ALLOWANCE` after its grant, since its answer is theirs to see), and
    /// pause for as long as Feishu asked any of them to.
    pub fn follow(&mut self, others: &crate::store::Others, now: Instant) {
        let now_ms = crate::store::now_ms();
        for (at_ms, kind, email) in &others.grants {
            let Some(kind) = super::Kind::parse(kind) else {
                continue;
            };
            let ago = Duration::from_millis((now_ms - at_ms).max(0) as u64);
            let answered = match now.checked_sub(ago) {
                Some(granted) => granted + OTHER_HOST_ALLOWANCE,
                None => now,
            };
            self.remember(kind.quota(), email, answered);
        }
        if others.paused_until_ms > now_ms {
            self.pause(
                Duration::from_millis((others.paused_until_ms - now_ms) as u64),
                now,
            );
        }
    }

    /// Take a slot for one call counted against `quota`, of `class`, to `recipient`, or say how
    /// long to wait for one and whether the app or the person is the reason.
    pub fn acquire(
        &mut self,
        quota: Quota,
        class: Class,
        recipient: &str,
        now: Instant,
    ) -> Result<Ticket, Wait> {
        let recipient = recipient.to_lowercase();
        self.next_ticket += 1;
        let ticket = Ticket {
            id: self.next_ticket,
            quota,
            recipient: recipient.clone(),
        };
        if !self.limits.enabled {
            return Ok(ticket);
        }
        let app = self.app_wait_for(quota, class, now);
        if !app.is_zero() {
            return Err(Wait {
                after: app,
                scope: Scope::App,
            });
        }
        if quota == Quota::Messages {
            let second = Duration::from_secs(1) + self.limits.margin;
            let max = self.limits.per_recipient_per_second;
            let user = self
                .recipients
                .entry(recipient.clone())
                .or_default()
                .wait(now, second, max);
            if !user.is_zero() {
                return Err(Wait {
                    after: user,
                    scope: Scope::Recipient,
                });
            }
        }
        let entry = (ticket.id, None);
        match quota {
            Quota::Approvals => self.approvals.sent.push(entry),
            Quota::Messages => {
                self.second.sent.push(entry);
                self.minute.sent.push(entry);
                self.recipients
                    .entry(recipient)
                    .or_default()
                    .sent
                    .push(entry);
            }
        }
        if self.recipients.len() > 10_000 {
            self.recipients.retain(|_, w| !w.sent.is_empty());
        }
        Ok(ticket)
    }

    /// Count a call an earlier process made at `at` (read from the store at start), as if it had
    /// been answered then, so a host restarted within a second or a minute of the last one does
    /// not send that second's or that minute's quota again.
    pub fn remember(&mut self, quota: Quota, recipient: &str, at: Instant) {
        self.next_ticket += 1;
        let entry = (self.next_ticket, Some(at));
        match quota {
            Quota::Approvals => self.approvals.sent.push(entry),
            Quota::Messages => {
                self.second.sent.push(entry);
                self.minute.sent.push(entry);
                self.recipients
                    .entry(recipient.to_lowercase())
                    .or_default()
                    .sent
                    .push(entry);
            }
        }
    }

    /// The call of `ticket` is over (whatever its outcome): its window starts counting down.
    pub fn answered(&mut self, ticket: Ticket, now: Instant) {
        self.each_window(&ticket, |w| w.answered(ticket.id, now));
    }

    /// No call was made with `ticket` (nothing to send after all): its slot is free at once.
    pub fn release(&mut self, ticket: Ticket) {
        self.each_window(&ticket, |w| w.forget(ticket.id));
    }

    fn each_window(&mut self, ticket: &Ticket, mut f: impl FnMut(&mut Window)) {
        match ticket.quota {
            Quota::Approvals => f(&mut self.approvals),
            Quota::Messages => {
                f(&mut self.second);
                f(&mut self.minute);
                if let Some(w) = self.recipients.get_mut(&ticket.recipient) {
                    f(w);
                }
            }
        }
    }

    /// The remote said "slow down": nothing more until `delay` has passed.
    pub fn pause(&mut self, delay: Duration, now: Instant) {
        let until = now + delay;
        if self.paused_until.is_none_or(|u| u < until) {
            self.paused_until = Some(until);
        }
    }

    /// How long until the app's windows admit another card someone must act on (the worker sleeps
    /// this long before claiming anything).
    pub fn app_wait(&mut self, now: Instant) -> Duration {
        if !self.limits.enabled {
            return Duration::ZERO;
        }
        self.app_wait_for(Quota::Messages, Class::Action, now)
    }

    fn app_wait_for(&mut self, quota: Quota, class: Class, now: Instant) -> Duration {
        let paused = self
            .paused_until
            .map(|u| u.saturating_duration_since(now))
            .unwrap_or_default();
        let l = &self.limits;
        let second = Duration::from_secs(1) + l.margin;
        let minute = Duration::from_secs(60) + l.margin;
        let window = match quota {
            Quota::Approvals => self.approvals.wait(now, minute, l.approvals_per_minute),
            Quota::Messages => {
                let per_minute = match class {
                    Class::Bulk => l.per_minute.saturating_sub(l.bulk_reserve_per_minute),
                    Class::Action | Class::Update => l.per_minute,
                }
                .max(1);
                self.second
                    .wait(now, second, l.per_second)
                    .max(self.minute.wait(now, minute, per_minute))
            }
        };
        paused.max(window)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const M: Quota = Quota::Messages;
    const A: Quota = Quota::Approvals;
    const U: Class = Class::Update;
    const C: Class = Class::Action;

    fn limits() -> RateLimits {
        RateLimits {
            margin: Duration::ZERO,
            ..Default::default()
        }
    }

    /// A restarted host counts what the store says was sent in the last minute.
    #[tokio::test]
    async fn calls_granted_before_a_restart_count_against_the_new_process() {
        let (_dir, store) = crate::store::temporary();
        store
            .with(|c| {
                let now = crate::store::now_ms();
                for i in 0..50 {
                    c.execute(
                        "INSERT INTO rate_grants (at_ms, kind, recipient_email) VALUES (?1, 'notify', ?2)",
                        crate::store::db::params![now - 300, format!("u{i}@example.com")],
                    )?;
                }
                // Too old to matter, and one approval call.
                c.execute(
                    "INSERT INTO rate_grants (at_ms, kind, recipient_email) VALUES (?1, 'notify', 'old@example.com')",
                    [now - 90_000],
                )?;
                c.execute(
                    "INSERT INTO rate_grants (at_ms, kind, recipient_email) VALUES (?1, 'approval', 'a@example.com')",
                    [now - 300],
                )?;
                Ok(())
            })
            .unwrap();
        let mut l = Limiter::resumed(limits(), &store).await.unwrap();
        let now = Instant::now();
        // Granted 300 ms ago, they may have reached Feishu just now: a whole second to wait.
        let wait = l.acquire(M, U, "new@example.com", now).unwrap_err();
        assert_eq!(wait.scope, Scope::App);
        assert!(
            wait.after > Duration::from_millis(900) && wait.after <= Duration::from_millis(1000),
            "{wait:?}"
        );
        assert!(
            l.acquire(M, U, "new@example.com", now + Duration::from_millis(1010))
                .is_ok()
        );
        assert!(
            l.acquire(A, U, "a@example.com", now).is_ok(),
            "1 of 100 approvals used"
        );
    }

    #[test]
    fn at_most_fifty_in_any_second_and_five_per_recipient() {
        let mut l = Limiter::new(limits());
        let t0 = Instant::now();
        for i in 0..50 {
            let ticket = l.acquire(M, U, &format!("u{i}"), t0).unwrap();
            l.answered(ticket, t0);
        }
        let wait = l.acquire(M, U, "u99", t0).unwrap_err();
        assert_eq!(
            wait,
            Wait {
                after: Duration::from_secs(1),
                scope: Scope::App
            }
        );
        assert!(l.acquire(M, U, "u99", t0 + Duration::from_secs(1)).is_ok());

        let mut l = Limiter::new(limits());
        for _ in 0..5 {
            let ticket = l.acquire(M, U, "same@example.com", t0).unwrap();
            l.answered(ticket, t0);
        }
        assert_eq!(
            l.acquire(M, U, "SAME@example.com", t0).unwrap_err().scope,
            Scope::Recipient,
            "recipients compare case-insensitively"
        );
        assert!(l.acquire(M, U, "other@example.com", t0).is_ok());
    }

    #[test]
    fn the_minute_limit_and_pauses_apply() {
        let mut l = Limiter::new(RateLimits {
            per_second: 10_000,
            ..limits()
        });
        let t0 = Instant::now();
        for i in 0..1000 {
            let ticket = l.acquire(M, U, &format!("u{i}"), t0).unwrap();
            l.answered(ticket, t0);
        }
        assert!(l.acquire(M, U, "x", t0 + Duration::from_secs(30)).is_err());
        let mut l = Limiter::new(limits());
        l.pause(Duration::from_secs(3), t0);
        assert_eq!(
            l.acquire(M, U, "x", t0).unwrap_err().after,
            Duration::from_secs(3)
        );
        assert!(l.acquire(M, U, "x", t0 + Duration::from_secs(3)).is_ok());
    }

    #[test]
    fn a_send_counts_from_its_answer_and_always_while_in_flight() {
        let mut l = Limiter::new(RateLimits {
            per_second: 2,
            ..limits()
        });
        let t0 = Instant::now();
        let slow = l.acquire(M, U, "a", t0).unwrap();
        let fast = l.acquire(M, U, "b", t0).unwrap();
        l.answered(fast, t0);
        // Two seconds later the slow call is still in flight: it still counts.
        let later = t0 + Duration::from_secs(2);
        let third = l.acquire(M, U, "c", later).unwrap();
        assert_eq!(
            l.acquire(M, U, "d", later).unwrap_err().after,
            IN_FLIGHT_POLL
        );
        // Answered now: the next slot opens one second after the answer, not after the start.
        l.answered(slow, later);
        l.answered(third, later);
        assert_eq!(
            l.acquire(M, U, "d", later).unwrap_err().after,
            Duration::from_secs(1)
        );
        assert!(l.acquire(M, U, "d", later + Duration::from_secs(1)).is_ok());
    }

    #[test]
    fn approvals_have_their_own_window_and_limits_can_be_off() {
        let mut l = Limiter::new(limits());
        let t0 = Instant::now();
        for _ in 0..100 {
            let ticket = l.acquire(A, C, "x", t0).unwrap();
            l.answered(ticket, t0);
        }
        assert!(l.acquire(A, C, "x", t0).is_err());
        assert!(
            l.acquire(M, U, "x", t0).is_ok(),
            "cards are not held up by approvals"
        );
        let mut off = Limiter::new(RateLimits {
            enabled: false,
            ..limits()
        });
        for _ in 0..10_000 {
            assert!(off.acquire(M, U, "x", t0).is_ok());
        }
    }

    #[test]
    fn bulk_leaves_the_reserve_of_the_minute_to_cards_people_act_on() {
        let mut l = Limiter::new(RateLimits {
            per_second: 10_000,
            ..limits()
        });
        let t0 = Instant::now();
        for i in 0..900 {
            let ticket = l.acquire(M, Class::Bulk, &format!("u{i}"), t0).unwrap();
            l.answered(ticket, t0);
        }
        let later = t0 + Duration::from_secs(10);
        let wait = l.acquire(M, Class::Bulk, "late", later).unwrap_err();
        assert_eq!(wait.scope, Scope::App);
        assert_eq!(
            wait.after,
            Duration::from_secs(50),
            "until the minute slides"
        );
        for i in 0..100 {
            let class = if i % 2 == 0 { Class::Action } else { U };
            let ticket = l.acquire(M, class, &format!("a{i}"), later).unwrap();
            l.answered(ticket, later);
        }
        assert!(
            l.acquire(M, Class::Action, "more", later).is_err(),
            "the reserve is part of the minute, not beyond it"
        );
    }

    #[test]
    fn a_released_slot_is_free_at_once() {
        let mut l = Limiter::new(RateLimits {
            per_second: 1,
            ..limits()
        });
        let t0 = Instant::now();
        let unused = l.acquire(M, U, "a", t0).unwrap();
        assert!(l.acquire(M, U, "b", t0).is_err());
        l.release(unused);
        assert!(l.acquire(M, U, "b", t0).is_ok());
    }

    #[test]
    fn bulk_sent_as_fast_as_allowed_gets_exactly_its_share_of_a_minute() {
        let mut l = Limiter::new(RateLimits::default());
        let t0 = Instant::now();
        let granted = (0..2000u64)
            .filter(|i| {
                let now = t0 + Duration::from_millis(i * 10);
                let slot = l.acquire(M, Class::Bulk, &format!("u{i}"), now);
                slot.map(|t| l.answered(t, now)).is_ok()
            })
            .count();
        assert_eq!(granted, 900, "20 s of attempts at 100/s, inside one minute");
    }
}
