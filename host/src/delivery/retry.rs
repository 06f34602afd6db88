//! When to try again.

use std::time::Duration;

#[derive(Clone, Debug)]
pub struct RetryPolicy {
    /// First retry delay for transient failures; doubles each attempt.
    pub base: Duration,
    /// Longest delay between attempts.
    pub max_delay: Duration,
    /// Attempts (rate-limited ones excepted) before a delivery is failed.
    pub max_attempts: u32,
    /// Rate-limited attempts are not failures, but are bounded too.
    pub max_rate_limited_attempts: u32,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            base: Duration::from_secs(2),
            max_delay: Duration::from_secs(15 * 60),
            max_attempts: 12,
            max_rate_limited_attempts: 100,
        }
    }
}

impl RetryPolicy {
    /// Exponential backoff with ±20% jitter, so a burst of failures does not retry in lockstep.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let exp = self
            .base
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(20));
        let capped = exp.min(self.max_delay);
        let jitter = 0.8 + rand::random::<f64>() * 0.4;
        capped.mul_f64(jitter)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        let p = RetryPolicy {
            base: Duration::from_secs(1),
            max_delay: Duration::from_secs(60),
            ..Default::default()
        };
        let first = p.backoff(1);
        assert!(first >= Duration::from_millis(800) && first <= Duration::from_millis(1200));
        let fourth = p.backoff(4);
        assert!(fourth >= Duration::from_millis(6400) && fourth <= Duration::from_millis(9600));
        assert!(p.backoff(30) <= Duration::from_secs(72));
    }
}
