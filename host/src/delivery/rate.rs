//! Rate shaping before the plugin is called, so a backlog drains at the rate the remote service
//! allows instead of provoking rate-limit storms. Sliding windows (not token buckets): a token
//! bucket of 50/s lets 100 through in some one-second windows; a window log never does.

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Limits per delivery kind (defaults: Feishu's for sending messages and creating approvals).
#[derive(Clone, Debug)]
pub struct RateLimits {
    pub per_second: u32,
    pub per_minute: u32,
    pub per_recipient_per_second: u32,
    pub approvals_per_minute: u32,
    /// Added to every window, so sends spaced by the host still fit the remote's windows after
    /// network jitter.
    pub margin: Duration,
    /// Off in benchmarks of the raw path.
    pub enabled: bool,
}

impl Default for RateLimits {
    fn default() -> Self {
        RateLimits {
            per_second: 50,
            per_minute: 1000,
            per_recipient_per_second: 5,
            approvals_per_minute: 100,
            margin: Duration::from_millis(50),
            enabled: true,
        }
    }
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
}

/// A granted slot; hand it back with `answered` when the call is over.
#[derive(Debug)]
pub struct Ticket {
    id: u64,
    kind: String,
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

impl Limiter {
    pub fn new(limits: RateLimits) -> Limiter {
        Limiter {
            limits,
            ..Default::default()
        }
    }

    /// Take a slot for one call of `kind` to `recipient`, or say how long to wait for one.
    pub fn acquire(
        &mut self,
        kind: &str,
        recipient: &str,
        now: Instant,
    ) -> Result<Ticket, Duration> {
        let recipient = recipient.to_lowercase();
        self.next_ticket += 1;
        let ticket = Ticket {
            id: self.next_ticket,
            kind: kind.to_string(),
            recipient: recipient.clone(),
        };
        if !self.limits.enabled {
            return Ok(ticket);
        }
        if let Some(until) = self.paused_until {
            if until > now {
                return Err(until - now);
            }
            self.paused_until = None;
        }
        let l = self.limits.clone();
        let second = Duration::from_secs(1) + l.margin;
        let minute = Duration::from_secs(60) + l.margin;
        let wait = if kind == "approval" {
            self.approvals.wait(now, minute, l.approvals_per_minute)
        } else {
            let app = self
                .second
                .wait(now, second, l.per_second)
                .max(self.minute.wait(now, minute, l.per_minute));
            let user = self.recipients.entry(recipient.clone()).or_default().wait(
                now,
                second,
                l.per_recipient_per_second,
            );
            app.max(user)
        };
        if !wait.is_zero() {
            return Err(wait);
        }
        let entry = (ticket.id, None);
        if kind == "approval" {
            self.approvals.sent.push(entry);
        } else {
            self.second.sent.push(entry);
            self.minute.sent.push(entry);
            self.recipients
                .entry(recipient)
                .or_default()
                .sent
                .push(entry);
        }
        if self.recipients.len() > 10_000 {
            self.recipients.retain(|_, w| !w.sent.is_empty());
        }
        Ok(ticket)
    }

    /// The call of `ticket` is over (whatever its outcome): its window starts counting down.
    pub fn answered(&mut self, ticket: Ticket, now: Instant) {
        if ticket.kind == "approval" {
            self.approvals.answered(ticket.id, now);
        } else {
            self.second.answered(ticket.id, now);
            self.minute.answered(ticket.id, now);
            if let Some(w) = self.recipients.get_mut(&ticket.recipient) {
                w.answered(ticket.id, now);
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

    /// How long until the app-wide windows admit another call (for the worker's idle sleep).
    pub fn app_wait(&mut self, now: Instant) -> Duration {
        if !self.limits.enabled {
            return Duration::ZERO;
        }
        let l = self.limits.clone();
        let paused = self
            .paused_until
            .map(|u| u.saturating_duration_since(now))
            .unwrap_or_default();
        paused
            .max(
                self.second
                    .wait(now, Duration::from_secs(1) + l.margin, l.per_second),
            )
            .max(
                self.minute
                    .wait(now, Duration::from_secs(60) + l.margin, l.per_minute),
            )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> RateLimits {
        RateLimits {
            margin: Duration::ZERO,
            ..Default::default()
        }
    }

    #[test]
    fn at_most_fifty_in_any_second_and_five_per_recipient() {
        let mut l = Limiter::new(limits());
        let t0 = Instant::now();
        for i in 0..50 {
            let ticket = l.acquire("notify", &format!("u{i}"), t0).unwrap();
            l.answered(ticket, t0);
        }
        let wait = l.acquire("notify", "u99", t0).unwrap_err();
        assert_eq!(wait, Duration::from_secs(1));
        assert!(
            l.acquire("notify", "u99", t0 + Duration::from_secs(1))
                .is_ok()
        );

        let mut l = Limiter::new(limits());
        for _ in 0..5 {
            let ticket = l.acquire("notify", "same@example.com", t0).unwrap();
            l.answered(ticket, t0);
        }
        assert!(
            l.acquire("notify", "SAME@example.com", t0).is_err(),
            "recipients compare case-insensitively"
        );
        assert!(l.acquire("notify", "other@example.com", t0).is_ok());
    }

    #[test]
    fn the_minute_limit_and_pauses_apply() {
        let mut l = Limiter::new(RateLimits {
            per_second: 10_000,
            ..limits()
        });
        let t0 = Instant::now();
        for i in 0..1000 {
            let ticket = l.acquire("notify", &format!("u{i}"), t0).unwrap();
            l.answered(ticket, t0);
        }
        assert!(
            l.acquire("notify", "x", t0 + Duration::from_secs(30))
                .is_err()
        );
        let mut l = Limiter::new(limits());
        l.pause(Duration::from_secs(3), t0);
        assert_eq!(
            l.acquire("notify", "x", t0).unwrap_err(),
            Duration::from_secs(3)
        );
        assert!(
            l.acquire("notify", "x", t0 + Duration::from_secs(3))
                .is_ok()
        );
    }

    #[test]
    fn a_send_counts_from_its_answer_and_always_while_in_flight() {
        let mut l = Limiter::new(RateLimits {
            per_second: 2,
            ..limits()
        });
        let t0 = Instant::now();
        let slow = l.acquire("notify", "a", t0).unwrap();
        let fast = l.acquire("notify", "b", t0).unwrap();
        l.answered(fast, t0);
        // Two seconds later the slow call is still in flight: it still counts.
        let later = t0 + Duration::from_secs(2);
        let third = l.acquire("notify", "c", later).unwrap();
        assert_eq!(l.acquire("notify", "d", later).unwrap_err(), IN_FLIGHT_POLL);
        // Answered now: the next slot opens one second after the answer, not after the start.
        l.answered(slow, later);
        l.answered(third, later);
        assert_eq!(
            l.acquire("notify", "d", later).unwrap_err(),
            Duration::from_secs(1)
        );
        assert!(
            l.acquire("notify", "d", later + Duration::from_secs(1))
                .is_ok()
        );
    }

    #[test]
    fn approvals_have_their_own_window_and_limits_can_be_off() {
        let mut l = Limiter::new(limits());
        let t0 = Instant::now();
        for _ in 0..100 {
            let ticket = l.acquire("approval", "x", t0).unwrap();
            l.answered(ticket, t0);
        }
        assert!(l.acquire("approval", "x", t0).is_err());
        assert!(
            l.acquire("notify", "x", t0).is_ok(),
            "cards are not held up by approvals"
        );
        let mut off = Limiter::new(RateLimits {
            enabled: false,
            ..limits()
        });
        for _ in 0..10_000 {
            assert!(off.acquire("notify", "x", t0).is_ok());
        }
    }
}
