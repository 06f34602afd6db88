//! Feishu event-callback cryptography (FEISHU_API.md §5.4, §5.6).
//!
//! - Encryption: key = SHA-256(Encrypt Key); payload = Base64(IV ‖ AES-256-CBC(plaintext, PKCS#7)).
//! - Signature: lowercase hex SHA-256(timestamp ‖ nonce ‖ Encrypt Key ‖ raw body), compared in
//!   constant time.

use aes::cipher::{BlockDecryptMut, KeyIvInit, block_padding::Pkcs7};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256};

type Aes256CbcDec = cbc::Decryptor<aes::Aes256>;

#[derive(Debug, PartialEq, Eq)]
pub enum CryptoError {
    NotBase64,
    /// Shorter than an IV plus one block, or not a whole number of blocks.
    BadLength,
    /// The padding is wrong: almost always the wrong Encrypt Key.
    BadPadding,
}

impl std::fmt::Display for CryptoError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            CryptoError::NotBase64 => "the encrypt field is not base64",
            CryptoError::BadLength => "the ciphertext has an impossible length",
            CryptoError::BadPadding => {
                "the ciphertext does not decrypt with the configured Encrypt Key"
            }
        })
    }
}

pub fn aes_key(encrypt_key: &str) -> [u8; 32] {
    Sha256::digest(encrypt_key.as_bytes()).into()
}

pub fn decrypt(encrypt_key: &str, encoded: &str) -> Result<Vec<u8>, CryptoError> {
    let data = STANDARD
        .decode(encoded.trim())
        .map_err(|_| CryptoError::NotBase64)?;
    if data.len() < 32 || data.len() % 16 != 0 {
        return Err(CryptoError::BadLength);
    }
    let (iv, ciphertext) = data.split_at(16);
    let mut buffer = ciphertext.to_vec();
    let plain = Aes256CbcDec::new(&aes_key(encrypt_key).into(), iv.into())
        .decrypt_padded_mut::<Pkcs7>(&mut buffer)
        .map_err(|_| CryptoError::BadPadding)?;
    Ok(plain.to_vec())
}

pub fn signature(timestamp: &str, nonce: &str, encrypt_key: &str, body: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(timestamp.as_bytes());
    h.update(nonce.as_bytes());
    h.update(encrypt_key.as_bytes());
    h.update(body);
    hex::encode(h.finalize())
}

/// Equal length and content, in time independent of where they differ (`subtle` keeps the
/// compiler from turning the comparison back into an early exit).
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.ct_eq(b).into()
}

pub fn verify_signature(
    timestamp: &str,
    nonce: &str,
    encrypt_key: &str,
    body: &[u8],
    given: &str,
) -> bool {
    let expected = signature(timestamp, nonce, encrypt_key, body);
    constant_time_eq(
        expected.as_bytes(),
        given.trim().to_ascii_lowercase().as_bytes(),
    )
}

/// Feishu's encryption, for tests that play Feishu.
#[cfg(test)]
pub fn encrypt_with_iv(key: &str, iv: [u8; 16], plain: &[u8]) -> String {
    use aes::cipher::BlockEncryptMut;
    let ct = cbc::Encryptor::<aes::Aes256>::new(&aes_key(key).into(), &iv.into())
        .encrypt_padded_vec_mut::<Pkcs7>(plain);
    STANDARD.encode([iv.as_slice(), &ct].concat())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn official_vector_test_key_hello_world() {
        assert_eq!(
            hex::encode(aes_key("test key")),
            "fa2bdca424f01f01ffb48df93acc35d439c7fd331a1a7fba6ac2fd83aa9ab31a"
        );
        let plain = decrypt("test key", "P37w+VZImNgPEO1RBhJ6RtKl7n6zymIbEG1pReEzghk=").unwrap();
        assert_eq!(plain, b"hello world");
    }

    const GO_SDK_CIPHERTEXT: &str = "bZ3L7yh6m3Fkuffl4g+3uGjIHnhOm5fVZbKVuyT8t7tcd5ABMYm8l28/X900ZL3knZ7n+sCREu/H2WnIzft0amC7+xWqNH8o25IU63N4BnZWfHh+4hyG76QPd19vkw2bPJCx9aqxK8Nz+xqFNbk0RdgyWhmgd30jSxHtcQXAllkI7FMpGpOCteJad3bLXPDBQIV/xkCtKICCS7Z63gakpxZCLaRZ3qCXP1fapHh+LBIupxenrU6ysc7I3nHmjmKie41IiWwS5puG4zQHhVbq6KWLcgWm/3NBZOPQy53ucMu75SXA55I7jarVLZXWUcqBGrcgE3vouWbtwgZuzmoTQl0GSh5VYSVvpW992BuGxUWj0XjPYdICJm6Cr7xouNXwMcdb7N8caVdkdSZeEnswG19qSyDoQhklwzNGW0yiaayulBqJNjfge/G5V3401c2XaIuAeEIo+QQ4RSNpRGfnHkbu/j55FGQAGWjpuBNaIwZbaUoVP3NkGP+vM5rpEDe3sL2GN+Xsd+g9yBs7FqdMV8mXTGgLjCqjrPrke5/km76Q3Pe6KPs2YexMRG4MkSx3xUTzZnNn7zIzShPcjeSwBd2pxk6ht5N+fzueZdxl6Oo=";
    pub const GO_SDK_PLAINTEXT: &str = r#"{"schema":"2.0","header":{"event_id":"f7984f25108f8137722bb63cee927e66","event_type":"contact.user.created_v3","app_id":"cli_xxxxxxxx","tenant_key":"xxxxxxx","create_time":"1603977298000000","token":"v"},"event":{"object":{"open_id":"ou_7dab8a3d3cdcc9da365777c7ad535d62","union_id":"on_576833b917gda3d939b9a3c2d53e72c8","user_id":"e33ggbyz","name":"张三","employee_no":"employee_no"}},"challenge":"1212","type":"url_verification"}"#;

    #[test]
    fn official_go_sdk_event_vector() {
        let plain = decrypt("1212121212", GO_SDK_CIPHERTEXT).unwrap();
        assert_eq!(plain.len(), 432);
        assert_eq!(std::str::from_utf8(&plain).unwrap(), GO_SDK_PLAINTEXT);
        assert_eq!(
            signature(
                "timestamp",
                "nonce",
                "1212121212",
                GO_SDK_PLAINTEXT.as_bytes()
            ),
            "4dca085198cb3216defc5b65b0668c1328b038a22dbadf2bc6c4fdc3d32bbc45"
        );
    }

    #[test]
    fn computed_vectors_c1_to_c4() {
        let body = br#"{"encrypt":"P37w+VZImNgPEO1RBhJ6RtKl7n6zymIbEG1pReEzghk="}"#;
        let c1 = "69c61fa99760d59824d588297c0036194769fb54331682c9cbcd93e85b9a8aad";
        assert_eq!(signature("1700000000", "abc123", "test key", body), c1);
        assert!(verify_signature(
            "1700000000",
            "abc123",
            "test key",
            body,
            &c1.to_uppercase()
        ));
        assert!(!verify_signature(
            "1700000001",
            "abc123",
            "test key",
            body,
            c1
        ));
        let iv: [u8; 16] = core::array::from_fn(|i| i as u8);
        let c2 = encrypt_with_iv(
            "test key",
            iv,
            br#"{"challenge":"ajls384kdjx98XX","token":"xxxxxx","type":"url_verification"}"#,
        );
        assert_eq!(
            c2,
            "AAECAwQFBgcICQoLDA0ODw9mLTIAZS9jAmGTQ1wAhHpnBHVL2wRjH9rPunQdQC1vLjsckayA10kZ8cPwtb62F8rC7JprUPR/4S2aZihfR+p8npX7UzWPithZmfKIPZgE"
        );
        let official_iv: [u8; 16] = hex::decode("3f7ef0f9564898d80f10ed5106127a46")
            .unwrap()
            .try_into()
            .unwrap();
        assert_eq!(
            encrypt_with_iv("test key", official_iv, b"hello world"),
            "P37w+VZImNgPEO1RBhJ6RtKl7n6zymIbEG1pReEzghk="
        );
    }

    #[test]
    fn bad_input_is_refused_not_panicking() {
        assert_eq!(decrypt("k", "%%%"), Err(CryptoError::NotBase64));
        assert_eq!(decrypt("k", "AAAA"), Err(CryptoError::BadLength));
        assert_eq!(
            decrypt("wrong key", "P37w+VZImNgPEO1RBhJ6RtKl7n6zymIbEG1pReEzghk="),
            Err(CryptoError::BadPadding)
        );
        // Truncated by one block.
        let full = STANDARD.decode(GO_SDK_CIPHERTEXT).unwrap();
        let cut = STANDARD.encode(&full[..full.len() - 16]);
        assert!(decrypt("1212121212", &cut).is_err());
    }
}
