//! Secrets at rest: sensitive parameters are stored as `enc:v1:<key id>:<base64(nonce ‖ AES-256-GCM
//! ciphertext)>`, so a copy of the database reveals nothing. The key comes from `MICA_SECRET_KEY`
//! (64 hex characters) or from `DATA_DIR/secret.key`, created with mode 0600 on first start.
//!
//! Rotation (`mica-host secrets rotate-key`) writes the new key to `secret.key.new`, re-encrypts
//! every secret in one transaction, then renames the file; each value names its key, so a rotation
//! interrupted at any point leaves every value readable.

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use anyhow::{Context, bail};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::{Path, PathBuf};

const PREFIX: &str = "enc:v1:";
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
            id: hex::encode(Sha256::digest(bytes))[..8].to_string(),
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
        stored.starts_with(PREFIX)
    }

    pub fn seal(&self, plain: &str) -> String {
        let key = &self.keys[0];
        let nonce: [u8; 12] = rand::random();
        let ciphertext = key
            .cipher
            .encrypt(Nonce::from_slice(&nonce), plain.as_bytes())
            .expect("AES-GCM encryption does not fail for in-memory data");
        format!(
            "{PREFIX}{}:{}",
            key.id,
            STANDARD.encode([nonce.as_slice(), &ciphertext].concat())
        )
    }

    /// The plain value. Values stored before sealing existed are returned as they are.
    pub fn open(&self, stored: &str) -> anyhow::Result<String> {
        let Some(rest) = stored.strip_prefix(PREFIX) else {
            return Ok(stored.to_string());
        };
        let (id, data) = rest
            .split_once(':')
            .context("a sealed value is malformed")?;
        let Some(key) = self.keys.iter().find(|k| k.id == id) else {
            bail!(
                "a secret was sealed with key {id}, which this host does not have (MICA_SECRET_KEY or secret.key changed?)"
            );
        };
        let data = STANDARD
            .decode(data)
            .context("a sealed value is not base64")?;
        if data.len() < 12 {
            bail!("a sealed value is truncated");
        }
        let (nonce, ciphertext) = data.split_at(12);
        let plain = key
            .cipher
            .decrypt(Nonce::from_slice(nonce), ciphertext)
            .map_err(|_| {
                anyhow::anyhow!("a sealed value does not decrypt: wrong key or tampered")
            })?;
        Ok(String::from_utf8(plain)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_and_open_round_trip_without_the_plaintext_in_the_sealed_form() {
        let s = Sealer::ephemeral();
        let sealed = s.seal("s3cr3t-value");
        assert!(Sealer::is_sealed(&sealed));
        assert!(!sealed.contains("s3cr3t"));
        assert_ne!(sealed, s.seal("s3cr3t-value"), "fresh nonce every time");
        assert_eq!(s.open(&sealed).unwrap(), "s3cr3t-value");
        assert_eq!(s.open("legacy-plain").unwrap(), "legacy-plain");
    }

    #[test]
    fn another_key_or_tampering_is_refused() {
        let sealed = Sealer::ephemeral().seal("x");
        assert!(Sealer::ephemeral().open(&sealed).is_err());
        let s = Sealer::from_key([7; 32]);
        let mut tampered = s.seal("x");
        tampered.pop();
        tampered.push('A');
        assert!(s.open(&tampered).is_err());
    }

    #[test]
    fn key_file_is_created_private_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let a = Sealer::load(dir.path(), None).unwrap();
        let sealed = a.seal("v");
        let b = Sealer::load(dir.path(), None).unwrap();
        assert_eq!(b.open(&sealed).unwrap(), "v");
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
