//! The seal on a card's decision buttons: `<delivery id>.<HMAC-SHA256 of it, 128 bits, hex>` under
//! a key only this host has. A click names its card by the seal alone, so a value nobody sealed,
//! or one changed to point at another card, opens nothing.
//!
//! The key is 32 random bytes kept in the store's kv under the host's own namespace (sealed at
//! rest like every kv value, re-encrypted by `secrets rotate-key`), created once by
//! compare-and-set so replicas that start together agree on one.

use crate::store::{KvError, Store};
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The kv namespace of the host's own keys (plugin ids may not start with `@`).
pub const HOST_KV_NAMESPACE: &str = "@host";
const KEY_NAME: &str = "card-seal-key";
/// Bytes of the MAC kept: 128 bits cannot be guessed.
const MAC_BYTES: usize = 16;

#[derive(Clone)]
pub struct CardSeal {
    key: [u8; 32],
}

impl CardSeal {
    /// The host's key, created on first use.
    pub fn load(store: &Store) -> anyhow::Result<CardSeal> {
        for _ in 0..3 {
            if let Some(entry) = store.kv_get(HOST_KV_NAMESPACE, KEY_NAME).map_err(kv)? {
                let key: [u8; 32] = entry
                    .value
                    .try_into()
                    .map_err(|_| anyhow::anyhow!("the stored card seal key is not 32 bytes"))?;
                return Ok(CardSeal { key });
            }
            let fresh: [u8; 32] = rand::random();
            match store.kv_put(HOST_KV_NAMESPACE, KEY_NAME, &fresh, None, Some(None)) {
                Ok(_) => return Ok(CardSeal { key: fresh }),
                // Another replica wrote first: read its key.
                Err(KvError::Conflict) => continue,
                Err(e) => return Err(kv(e)),
            }
        }
        anyhow::bail!("the card seal key could not be created")
    }

    #[cfg(test)]
    pub fn with_key(key: [u8; 32]) -> CardSeal {
        CardSeal { key }
    }

    fn mac(&self, delivery_id: &str) -> Vec<u8> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes any key");
        mac.update(b"card-action\n");
        mac.update(delivery_id.as_bytes());
        mac.finalize().into_bytes()[..MAC_BYTES].to_vec()
    }

    pub fn seal(&self, delivery_id: &str) -> String {
        format!("{delivery_id}.{}", hex::encode(self.mac(delivery_id)))
    }

    /// The delivery a seal names, when this host sealed it.
    pub fn open<'a>(&self, seal: &'a str) -> Option<&'a str> {
        let (id, mac) = seal.rsplit_once('.')?;
        let given = hex::decode(mac).ok()?;
        let expected = self.mac(id);
        (given.len() == expected.len() && constant_time_eq(&given, &expected)).then_some(id)
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn kv(e: KvError) -> anyhow::Error {
    anyhow::anyhow!("the host's kv: {e:?}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seal_opens_to_its_delivery_and_nothing_else_opens() {
        let seal = CardSeal::with_key([7; 32]);
        let s = seal.seal("dlv-abc.1");
        assert_eq!(seal.open(&s), Some("dlv-abc.1"));
        // Pointed at another card, or shortened, or under another host's key: nothing.
        let other = s.replacen("dlv-abc", "dlv-abd", 1);
        assert_eq!(seal.open(&other), None);
        assert_eq!(seal.open(&s[..s.len() - 2]), None);
        assert_eq!(seal.open("dlv-abc.1"), None);
        assert_eq!(CardSeal::with_key([8; 32]).open(&s), None);
    }

    #[test]
    fn the_key_is_made_once_and_kept() {
        let (_dir, store) = crate::store::temporary();
        let a = CardSeal::load(&store).unwrap();
        let b = CardSeal::load(&store).unwrap();
        assert_eq!(b.open(&a.seal("dlv-1")), Some("dlv-1"));
    }
}
