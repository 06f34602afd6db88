//! Talking to the Feishu Open Platform: tokens, authorized calls, answers classified into what the
//! host should do next.

pub mod classify;
pub mod client;
pub mod codes;
pub mod crypto;
pub mod recipient;
pub mod token;

use sha2::{Digest, Sha256};

/// Feishu's message `uuid` for a delivery: at most 50 characters, the same on every retry of the
/// same delivery, so Feishu suppresses a duplicate send within its one-hour window.
pub fn message_uuid(idempotency_key: &str) -> String {
    let digest = Sha256::digest(idempotency_key.as_bytes());
    format!("mica-{}", hex::encode(&digest[..20]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_uuid_is_stable_short_and_distinct() {
        let a = message_uuid("dlv-1");
        assert_eq!(a, message_uuid("dlv-1"));
        assert_ne!(a, message_uuid("dlv-2"));
        assert!(a.len() <= 50);
        let long = message_uuid(&"k".repeat(10_000));
        assert_eq!(long.len(), 45);
    }
}
