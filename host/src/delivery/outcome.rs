//! From a plugin's answer to what the store records.

use super::retry::RetryPolicy;
use crate::domain::{Failure, PluginError, Receipt};
use crate::runtime::CallError;
use crate::store::{ErrorKind, Outcome, now_ms};

/// The longest a plugin's "slow down" may pause sending (every delivery waits for it): a plugin
/// that asks for more is not describing a rate-limit window.
const MAX_RATE_LIMIT_PAUSE_MS: u64 = 5 * 60 * 1000;

/// `attempt` is this attempt's number and `rate_limited` the "slow down" answers before it: the
/// two are bounded apart (`max_attempts`, `max_rate_limited_attempts`).
pub fn decide(
    result: &Result<Result<Receipt, PluginError>, CallError>,
    attempt: u32,
    rate_limited: u32,
    policy: &RetryPolicy,
) -> Outcome {
    let retry_or_fail = |kind: ErrorKind,
                         f: Option<&Failure>,
                         message: String,
                         delay_ms: Option<u64>,
                         limit: u32| {
        let (remote_code, log_id) = f
            .map(|f| (f.remote_code, f.log_id.clone()))
            .unwrap_or((None, None));
        let (tried, what) = if kind == ErrorKind::RateLimited {
            (rate_limited + 1, "rate-limited answers")
        } else {
            (attempt, "attempts")
        };
        if tried >= limit {
            Outcome::Failed {
                kind,
                error: format!("{message} (gave up after {tried} {what})"),
                remote_code,
                log_id,
            }
        } else {
            let delay = delay_ms.unwrap_or_else(|| policy.backoff(attempt).as_millis() as u64);
            Outcome::Retry {
                retry_at_ms: now_ms() + delay as i64,
                kind,
                error: message,
                remote_code,
                log_id,
            }
        }
    };
    let failed = |kind: ErrorKind, f: Option<&Failure>, message: String| Outcome::Failed {
        kind,
        error: message,
        remote_code: f.and_then(|f| f.remote_code),
        log_id: f.and_then(|f| f.log_id.clone()),
    };
    match result {
        Ok(Ok(receipt)) => Outcome::Sent {
            message_id: receipt.message_id.clone(),
            log_id: receipt.log_id.clone(),
        },
        Ok(Err(e)) => match e {
            PluginError::Skipped(why) => Outcome::Skipped {
                reason: why.clone(),
            },
            PluginError::NotConfigured(why) => retry_or_fail(
                ErrorKind::NotConfigured,
                None,
                why.clone(),
                None,
                policy.max_attempts,
            ),
            PluginError::InvalidInput(why) => failed(ErrorKind::InvalidInput, None, why.clone()),
            PluginError::Unauthorized(f) => retry_or_fail(
                ErrorKind::Unauthorized,
                Some(f),
                f.message.clone(),
                None,
                policy.max_attempts,
            ),
            PluginError::RateLimited(r) => retry_or_fail(
                ErrorKind::RateLimited,
                Some(&r.failure),
                r.failure.message.clone(),
                Some(r.retry_after_ms.clamp(1, MAX_RATE_LIMIT_PAUSE_MS)),
                policy.max_rate_limited_attempts,
            ),
            PluginError::Transient(f) => retry_or_fail(
                ErrorKind::Transient,
                Some(f),
                f.message.clone(),
                None,
                policy.max_attempts,
            ),
            PluginError::Permanent(f) => failed(ErrorKind::Permanent, Some(f), f.message.clone()),
        },
        // A trap or timeout may be fixed by a new plugin version: retry, bounded.
        Err(e) => retry_or_fail(
            ErrorKind::PluginError,
            None,
            e.to_string(),
            None,
            policy.max_attempts,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::RateLimited;

    #[test]
    fn a_huge_rate_limit_delay_is_capped_not_wrapped() {
        let result = Ok(Err(PluginError::RateLimited(RateLimited {
            retry_after_ms: u64::MAX,
            failure: Failure::message("slow down"),
        })));
        let before = now_ms();
        let Outcome::Retry { retry_at_ms, .. } = decide(&result, 1, 0, &RetryPolicy::default())
        else {
            panic!("not a retry")
        };
        assert!(retry_at_ms > before, "not in the past");
        assert!(retry_at_ms <= now_ms() + MAX_RATE_LIMIT_PAUSE_MS as i64);
    }
}
