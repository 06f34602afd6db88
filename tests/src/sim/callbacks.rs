//! Delivering `approval_instance` callbacks to the host as Feishu does: optionally encrypted
//! (AES-256-CBC with SHA-256 of the Encrypt Key) and signed, retried on anything but HTTP 200.

use aes::cipher::{BlockEncryptMut, KeyIvInit, block_padding::Pkcs7};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::time::Duration;

/// How the simulator calls the host back.
#[derive(Clone, Debug)]
pub struct CallbackConfig {
    pub url: String,
    pub encrypt_key: Option<String>,
    pub verification_token: String,
    pub sign: bool,
    /// Delays before each retry after a non-200 answer (Feishu: 15 s, 5 min, 1 h, 6 h).
    pub retry_delays: Vec<Duration>,
}

pub fn encrypt(key: &str, plain: &[u8]) -> String {
    let aes_key: [u8; 32] = Sha256::digest(key.as_bytes()).into();
    let iv: [u8; 16] = rand::random();
    let ct = cbc::Encryptor::<aes::Aes256>::new(&aes_key.into(), &iv.into())
        .encrypt_padded_vec_mut::<Pkcs7>(plain);
    STANDARD.encode([iv.as_slice(), &ct].concat())
}

pub fn signature(ts: &str, nonce: &str, key: &str, body: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(ts.as_bytes());
    h.update(nonce.as_bytes());
    h.update(key.as_bytes());
    h.update(body);
    hex::encode(h.finalize())
}

/// A v1 `approval_instance` event.
pub fn approval_event(
    event_id: &str,
    token: &str,
    approval_code: &str,
    instance_code: &str,
    status: &str,
    operate_time_ms: u64,
) -> Value {
    // Feishu sends operate_time as a string, except for REVERTED where it is a number.
    let operate_time = if status == "REVERTED" {
        json!(operate_time_ms)
    } else {
        json!(operate_time_ms.to_string())
    };
    json!({
        "ts": format!("{}.0", operate_time_ms / 1000),
        "uuid": event_id,
        "token": token,
        "type": "event_callback",
        "event": {
            "app_id": super::APP_ID, "tenant_key": "sim-tenant", "type": "approval_instance",
            "approval_code": approval_code, "instance_code": instance_code, "status": status,
            "operate_time": operate_time, "instance_operate_time": operate_time_ms.to_string(),
            "uuid": "sim"
        }
    })
}

/// The same change as a v2.0 `approval.instance.status_changed_v4` event.
pub fn approval_event_v2(
    event_id: &str,
    token: &str,
    approval_code: &str,
    instance_code: &str,
    status: &str,
    operate_time_ms: u64,
) -> Value {
    json!({
        "schema": "2.0",
        "header": {
            "event_id": event_id, "token": token, "create_time": operate_time_ms.to_string(),
            "event_type": "approval.instance.status_changed_v4", "tenant_key": "sim-tenant",
            "app_id": super::APP_ID
        },
        "event": {
            "approval_code": approval_code, "instance_code": instance_code, "external_id": "",
            "status": status, "operate_time": operate_time_ms.to_string(),
            "start_user": {"union_id": "on_sim", "user_id": "", "open_id": "ou_submitter"}
        }
    })
}

/// The HTTP request Feishu would send for `payload`: (body, headers).
pub fn wire(config: &CallbackConfig, payload: &Value) -> (Vec<u8>, Vec<(String, String)>) {
    let body = match &config.encrypt_key {
        Some(key) => json!({"encrypt": encrypt(key, payload.to_string().as_bytes())}).to_string(),
        None => payload.to_string(),
    };
    let mut headers = vec![("content-type".to_string(), "application/json".to_string())];
    if let (Some(key), true) = (&config.encrypt_key, config.sign) {
        let ts = chrono::Utc::now().timestamp().to_string();
        let nonce = format!("{:08x}", rand::random::<u32>());
        headers.push((
            "x-lark-signature".into(),
            signature(&ts, &nonce, key, body.as_bytes()),
        ));
        headers.push(("x-lark-request-timestamp".into(), ts));
        headers.push(("x-lark-request-nonce".into(), nonce));
    }
    (body.into_bytes(), headers)
}

/// POST once; the HTTP status, or 0 when the host could not be reached.
pub async fn post(
    client: &reqwest::Client,
    url: &str,
    body: Vec<u8>,
    headers: &[(String, String)],
) -> u16 {
    let mut request = client.post(url).body(body).timeout(Duration::from_secs(5));
    for (k, v) in headers {
        request = request.header(k, v);
    }
    match request.send().await {
        Ok(resp) => resp.status().as_u16(),
        Err(_) => 0,
    }
}
