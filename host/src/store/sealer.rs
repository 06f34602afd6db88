//! Secrets at rest: sensitive parameters are stored as `enc:v2:<key id>:<base64(nonce ‖ AES-256-GCM
//! ciphertext)>`, so a copy of the database reveals nothing. The key comes from `MICA_SECRET_KEY`
//! (64 hex characters) or from `DATA_DIR/secret.key`, created with mode 0600 on first start.
//!
//! Each value is bound to what it is the value of (the AES-GCM associated data names the
//! parameter key, or the kv namespace and key), so a sealed App Secret copied into another row
//! (one a plugin may read, say) does not open there. `enc:v1:` values (sealed before binding
//! existed) still open, and are sealed again as v2 when the store opens.
//!
//! Rotation (`mica-host secrets rotate-key`) writes the new key to `secret.key.new`, re-encrypts
//! every secret in one transaction, then renames the file; each value names its key, so a rotation
//! interrupted at any point leaves every value readable.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use anyhow::{Context, bail};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Sealed with the value bound to its place.
const PREFIX: &str = "enc:v2:";
/// Sealed before values were bound (no associated data); still opened, resealed at start.
const LEGACY_PREFIX: &str = "enc:v1:";
/// Length of a key id (hex digits of the key's SHA-256).
const KEY_ID_LEN: usize = 8;
pub const KEY_FILE: &str = "secret.key";
pub const NEW_KEY_FILE: &str = "secret.key.new";

#[derive(Clone)]
struct Key {
    id: String,
    cipher: Aes256Gcm,
}

impl Key {
    fn new(bytes: [u8; 32]) -> Key {
        Key {
            id: hex::encode(Sha256::digest(bytes))[..KEY_ID_LEN].to_string(),
            cipher: Aes256Gcm::new(&bytes.into()),
        }
    }
}

/// Seals and opens secret values. The first key seals; every key opens.
#[derive(Clone)]
pub struct Sealer {
    keys: Vec<Key>,
    /// Where the key lives, when it is a file (rotation needs it).
    pub key_file: Option<PathBuf>,
    /// The key file was created just now (a first start, or a lost key).
    pub generated: bool,
}

fn parse_hex_key(text: &str, source: &str) -> anyhow::Result<[u8; 32]> {
    let bytes = hex::decode(text.trim()).with_context(|| format!("{source} is not hex"))?;
    bytes
        .try_into()
        .map_err(|_| anyhow::anyhow!("{source} must be 64 hex characters (32 bytes)"))
}

pub fn write_key_file(path: &Path, key: &[u8; 32]) -> anyhow::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(hex::encode(key).as_bytes())?;
    file.sync_all()?;
    Ok(())
}

impl Sealer {
    /// The key from `env_key`, else from the data directory (created if absent).
    pub fn load(data_dir: &Path, env_key: Option<String>) -> anyhow::Result<Sealer> {
        if let Some(text) = env_key.filter(|k| !k.trim().is_empty()) {
            return Ok(Sealer {
                keys: vec![Key::new(parse_hex_key(&text, "MICA_SECRET_KEY")?)],
                key_file: None,
                generated: false,
            });
        }
        let path = data_dir.join(KEY_FILE);
        let generated = !path.exists();
        if generated {
            write_key_file(&path, &rand::random())?;
        }
        let mut keys = vec![Key::new(parse_hex_key(
            &std::fs::read_to_string(&path)?,
            &path.display().to_string(),
        )?)];
        // An interrupted rotation: values may be sealed with the new key already.
        let pending = data_dir.join(NEW_KEY_FILE);
        if pending.exists() {
            keys.push(Key::new(parse_hex_key(
                &std::fs::read_to_string(&pending)?,
                &pending.display().to_string(),
            )?));
        }
        Ok(Sealer {
            keys,
            key_file: Some(path),
            generated,
        })
    }

    pub fn from_key(key: [u8; 32]) -> Sealer {
        Sealer {
            keys: vec![Key::new(key)],
            key_file: None,
            generated: false,
        }
    }

    /// A sealer with a random key (tests).
    pub fn ephemeral() -> Sealer {
        Self::from_key(rand::random())
    }

    pub fn is_sealed(stored: &str) -> bool {
        stored.starts_with(PREFIX) || stored.starts_with(LEGACY_PREFIX)
    }

    /// Sealed before values were bound to their place: to be sealed again.
    pub fn is_legacy(stored: &str) -> bool {
        stored.starts_with(LEGACY_PREFIX)
    }

    fn encrypt(&self, bound_to: &str, plain: &[u8]) -> (&Key, Vec<u8>) {
        let key = &self.keys[0];
        let nonce: [u8; 12] = rand::random();
        let ciphertext = key
            .cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plain,
                    aad: bound_to.as_bytes(),
                },
            )
            .expect("AES-GCM encryption does not fail for in-memory data");
        (key, [nonce.as_slice(), &ciphertext].concat())
    }

    fn decrypt(&self, id: &str, data: &[u8], aad: &[u8]) -> anyhow::Result<Vec<u8>> {
        let Some(key) = self.keys.iter().find(|k| k.id == id) else {
            bail!(
                "a secret was sealed with key {id}, which this host does not have (MICA_SECRET_KEY or secret.key changed?)"
            );
        };
        if data.len() < 12 {
            bail!("a sealed value is truncated");
        }
        let (nonce, ciphertext) = data.split_at(12);
        key.cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad,
                },
            )
            .map_err(|_| {
                anyhow::anyhow!(
                    "a sealed value does not decrypt: wrong key, tampered, or moved from another place"
                )
            })
    }

    /// Seal `plain` as the value of `bound_to` (e.g. `param:auth.feishu.app_secret`).
    pub fn seal(&self, bound_to: &str, plain: &str) -> String {
        let (key, data) = self.encrypt(bound_to, plain.as_bytes());
        format!("{PREFIX}{}:{}", key.id, STANDARD.encode(data))
    }

    /// The plain value of `bound_to`. Values stored before sealing existed are returned as they are.
    pub fn open(&self, bound_to: &str, stored: &str) -> anyhow::Result<String> {
        let (rest, aad) = if let Some(rest) = stored.strip_prefix(PREFIX) {
            (rest, bound_to.as_bytes())
        } else if let Some(rest) = stored.strip_prefix(LEGACY_PREFIX) {
            (rest, &b""[..])
        } else {
            return Ok(stored.to_string());
        };
        let (id, data) = rest
            .split_once(':')
            .context("a sealed value is malformed")?;
        let data = STANDARD
            .decode(data)
            .context("a sealed value is not base64")?;
        Ok(String::from_utf8(self.decrypt(id, &data, aad)?)?)
    }

    /// Seal bytes as the value of `bound_to`: key id, nonce, ciphertext.
    pub fn seal_bytes(&self, bound_to: &str, plain: &[u8]) -> Vec<u8> {
        let (key, data) = self.encrypt(bound_to, plain);
        [key.id.as_bytes(), &data].concat()
    }

    pub fn open_bytes(&self, bound_to: &str, sealed: &[u8]) -> anyhow::Result<Vec<u8>> {
        if sealed.len() < KEY_ID_LEN {
            bail!("a sealed value is truncated");
        }
        let (id, data) = sealed.split_at(KEY_ID_LEN);
        let id = std::str::from_utf8(id).context("a sealed value is malformed")?;
        self.decrypt(id, data, bound_to.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_and_open_round_trip_without_the_plaintext_in_the_sealed_form() {
        let s = Sealer::ephemeral();
        let sealed = s.seal("param:a", "s3cr3t-value");
        assert!(Sealer::is_sealed(&sealed));
        assert!(!sealed.contains("s3cr3t"));
        assert_ne!(
            sealed,
            s.seal("param:a", "s3cr3t-value"),
            "fresh nonce every time"
        );
        assert_eq!(s.open("param:a", &sealed).unwrap(), "s3cr3t-value");
        assert_eq!(s.open("param:a", "legacy-plain").unwrap(), "legacy-plain");
        let bytes = s.seal_bytes("kv:p\0k", b"token");
        assert_eq!(s.open_bytes("kv:p\0k", &bytes).unwrap(), b"token");
        assert!(s.open_bytes("kv:q\0k", &bytes).is_err());
    }

    #[test]
    fn a_sealed_value_opens_only_where_it_was_sealed() {
        let s = Sealer::ephemeral();
        let secret = s.seal("param:auth.feishu.app_secret", "s3cr3t");
        let moved = s.open("param:misbehave.note", &secret).unwrap_err();
        assert!(
            moved.to_string().contains("moved from another place"),
            "{moved}"
        );
    }

    #[test]
    fn values_sealed_before_binding_still_open() {
        let s = Sealer::from_key([9; 32]);
        // v1: the same layout without associated data.
        let key = &s.keys[0];
        let nonce = [1u8; 12];
        let ciphertext = key
            .cipher
            .encrypt(Nonce::from_slice(&nonce), b"old".as_slice())
            .unwrap();
        let v1 = format!(
            "{LEGACY_PREFIX}{}:{}",
            key.id,
            STANDARD.encode([nonce.as_slice(), &ciphertext].concat())
        );
        assert!(Sealer::is_legacy(&v1) && Sealer::is_sealed(&v1));
        assert_eq!(s.open("param:anything", &v1).unwrap(), "old");
    }

    #[test]
    fn another_key_or_tampering_is_refused() {
        let sealed = Sealer::ephemeral().seal("param:a", "x");
        assert!(Sealer::ephemeral().open("param:a", &sealed).is_err());
        let s = Sealer::from_key([7; 32]);
        let mut tampered = s.seal("param:a", "x");
        tampered.pop();
        tampered.push('A');
        assert!(s.open("param:a", &tampered).is_err());
    }

    #[test]
    fn key_file_is_created_private_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let a = Sealer::load(dir.path(), None).unwrap();
        let sealed = a.seal("param:a", "v");
        let b = Sealer::load(dir.path(), None).unwrap();
        assert_eq!(b.open("param:a", &sealed).unwrap(), "v");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(KEY_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert!(Sealer::load(dir.path(), Some("zz".into())).is_err());
    }
}
