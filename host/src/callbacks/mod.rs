//! Notices to Mica (`MICA_CALLBACK_URL`): every approval status change, POSTed as JSON, retried
//! until Mica answers 2xx. Each request carries
//! - `X-Mica-Notice-Id`: the same on every retry of one notice (Mica deduplicates by it),
//! - `X-Mica-Timestamp`: unix seconds when this attempt was signed (Mica refuses old ones, so a
//!   captured request cannot be replayed later),
//! - `X-Mica-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">` under
//!   `MICA_CALLBACK_SECRET`.
//!
//! A `pr.decision` notice (a decision taken on a card) also reads Mica's answer: a 2xx body
//! `{"outcome": "refused", "reason": "…"}` is a refusal shown on the card, any other 2xx says it
//! was applied.

use crate::store::{DueCallback, MicaAnswer, Store, now_ms};
use bytes::Bytes;
use hmac::{Hmac, Mac};
use http_body_util::Full;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use sha2::Sha256;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Notices taken at a time. They are sent one after another, each within `SEND_TIMEOUT`, so the
/// lease below covers the whole batch even when Mica answers nothing.
const NOTICES_PER_CLAIM: usize = 8;

/// Longest one attempt at a notice may take.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);

/// How long claimed notices are this host's: no other host on the database sends them meanwhile.
const NOTICE_LEASE_MS: i64 = 2 * NOTICES_PER_CLAIM as i64 * SEND_TIMEOUT.as_millis() as i64;

pub struct CallbackSender {
    pub store: Store,
    pub url: String,
    pub secret: crate::secret::Secret,
    /// How often to look for due notices.
    pub poll: Duration,
    /// The first retry's delay; it doubles with each attempt, up to 5 minutes.
    pub retry_base: Duration,
    /// Proxy and CA settings (NO_PROXY normally names Mica).
    pub net: crate::net::NetConfig,
}

/// `X-Mica-Signature` of one attempt: the timestamp is signed with the body, so neither can be
/// changed alone.
pub fn signature(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// `X-Mica-Notice-Id`: derived from the stored body, which never changes between retries; two
/// notices with the same body say the same thing, so one id for both is right.
pub fn notice_id(body: &str) -> String {
    use sha2::Digest;
    format!(
        "ntc_{}",
        hex::encode(&Sha256::digest(body.as_bytes())[..16])
    )
}

/// Refuse a notice target that would send payment decisions unsigned or in clear over a network.
/// `allow_plain_http` is the operator saying the network between host and Mica is private (a
/// docker compose network, say): plain http is then accepted with a warning.
pub fn check_target(url: &str, secret: &str, allow_plain_http: bool) -> anyhow::Result<()> {
    if secret.trim().is_empty() {
        anyhow::bail!(
            "MICA_CALLBACK_URL is set but MICA_CALLBACK_SECRET is empty: Mica could not tell the host's notices from forged ones"
        );
    }
    let uri: http::Uri = url
        .parse()
        .map_err(|e| anyhow::anyhow!("MICA_CALLBACK_URL {url:?} is not a URL: {e}"))?;
    let host = uri.host().unwrap_or_default().trim_matches(['[', ']']);
    match uri.scheme_str() {
        Some("https") => Ok(()),
        Some("http") if crate::net::is_loopback_host(host) => Ok(()),
        Some("http") if allow_plain_http => {
            tracing::warn!(%url, "notices to Mica go over plain http (MICA_CALLBACK_ALLOW_PLAIN_HTTP): keep that network private");
            Ok(())
        }
        Some("http") => anyhow::bail!(
            "MICA_CALLBACK_URL {url:?} is plain http to a host that is not loopback: use https (payment decisions would cross the network in clear), or set MICA_CALLBACK_ALLOW_PLAIN_HTTP=true if that network is private"
        ),
        _ => anyhow::bail!("MICA_CALLBACK_URL {url:?} must be an https:// URL"),
    }
}

/// base, 2 × base, 4 × base … capped at 5 minutes: Mica may be down for a while; nothing is
/// dropped.
fn backoff(base: Duration, attempts: i64) -> Duration {
    (base * (1u32 << attempts.clamp(0, 12))).min(Duration::from_secs(300))
}

impl CallbackSender {
    pub fn start(self) -> anyhow::Result<(watch::Sender<bool>, JoinHandle<()>)> {
        let connector = crate::net::connector(Duration::from_secs(5), &self.net)?;
        let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build(connector);
        let (stop, mut stopped) = watch::channel(false);
        let join = tokio::spawn(async move {
            while !*stopped.borrow() {
                let claimed = self
                    .store
                    .call(|s| s.claim_due_callbacks(NOTICES_PER_CLAIM, NOTICE_LEASE_MS))
                    .await;
                match claimed {
                    Ok(due) => {
                        for notice in due {
                            self.deliver(&client, notice).await;
                        }
                    }
                    Err(e) => {
                        tracing::error!(error = %format!("{e:#}"), "could not read due notices")
                    }
                }
                tokio::select! {
                    _ = tokio::time::sleep(self.poll) => {}
                    _ = stopped.changed() => {}
                }
            }
        });
        Ok((stop, join))
    }

    /// One attempt at one notice, and its outcome recorded.
    async fn deliver(
        &self,
        client: &Client<crate::net::Connector, Full<Bytes>>,
        notice: DueCallback,
    ) {
        let id = notice.id;
        let notices = &crate::metrics::METRICS.notices;
        let recorded = match self.send(client, &notice.body).await {
            Answer::Accepted(body) => {
                notices.with_label_values(&["delivered"]).inc();
                let decision = notice.decision_of.clone();
                self.store
                    .call(move |s| {
                        if let Some(card) = decision {
                            s.decision_answered(&card, &mica_answer(&body))?;
                        }
                        s.callback_sent(id)
                    })
                    .await
            }
            Answer::Unavailable(why) => {
                notices.with_label_values(&["retried"]).inc();
                tracing::warn!(notice = id, attempts = notice.attempts + 1, %why, "Mica did not take an approval notice; will retry");
                let at = now_ms() + backoff(self.retry_base, notice.attempts).as_millis() as i64;
                self.store
                    .call(move |s| s.callback_retry(id, at, &why))
                    .await
            }
            Answer::Refused(why) => {
                let at = now_ms() + backoff(self.retry_base, notice.refusals).as_millis() as i64;
                match self
                    .store
                    .call(move |s| s.callback_refused(id, at, &why).map(|dead| (dead, why)))
                    .await
                {
                    Ok((true, why)) => {
                        notices.with_label_values(&["dead"]).inc();
                        tracing::error!(notice = id, refusals = notice.refusals + 1, %why, "Mica refused an approval notice repeatedly: it is a dead letter now (mica-host notices failed)");
                        Ok(())
                    }
                    Ok((false, why)) => {
                        notices.with_label_values(&["refused"]).inc();
                        tracing::warn!(notice = id, refusals = notice.refusals + 1, %why, "Mica refused an approval notice; will retry a few times");
                        Ok(())
                    }
                    Err(e) => Err(e),
                }
            }
        };
        if let Err(e) = recorded {
            tracing::error!(error = %format!("{e:#}"), "could not record a notice outcome");
        }
    }

    async fn send(
        &self,
        client: &Client<crate::net::Connector, Full<Bytes>>,
        body: &str,
    ) -> Answer {
        let timestamp = chrono::Utc::now().timestamp();
        let request = http::Request::post(&self.url)
            .header("content-type", "application/json")
            .header("x-mica-notice-id", notice_id(body))
            .header("x-mica-timestamp", timestamp.to_string())
            .header(
                "x-mica-signature",
                signature(self.secret.expose(), timestamp, body.as_bytes()),
            )
            .body(Full::new(Bytes::from(body.to_string())));
        let request = match request {
            Ok(request) => request,
            Err(e) => return Answer::Refused(format!("MICA_CALLBACK_URL is not usable: {e}")),
        };
        match tokio::time::timeout(SEND_TIMEOUT, client.request(request)).await {
            Err(_) => Answer::Unavailable("timed out".into()),
            Ok(Err(e)) => Answer::Unavailable(format!("{e}")),
            Ok(Ok(resp)) if resp.status().is_success() => Answer::Accepted(read_answer(resp).await),
            // 408 and 429 say "later", like a 5xx.
            Ok(Ok(resp))
                if resp.status().is_client_error()
                    && !matches!(resp.status().as_u16(), 408 | 429) =>
            {
                Answer::Refused(format!("HTTP {}", resp.status()))
            }
            Ok(Ok(resp)) => Answer::Unavailable(format!("HTTP {}", resp.status())),
        }
    }
}

/// Mica's answer to a notice, up to 64 KiB (more is not an answer, and is not read).
async fn read_answer(resp: http::Response<hyper::body::Incoming>) -> Bytes {
    use http_body_util::{BodyExt, Limited};
    match tokio::time::timeout(
        Duration::from_secs(5),
        Limited::new(resp.into_body(), 64 * 1024).collect(),
    )
    .await
    {
        Ok(Ok(body)) => body.to_bytes(),
        _ => Bytes::new(),
    }
}

/// What Mica said of a decision, from its answer to the decision's notice.
pub fn mica_answer(body: &[u8]) -> MicaAnswer {
    let answer: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    if answer["outcome"] == "refused" {
        let reason = answer["reason"]
            .as_str()
            .map(str::trim)
            .filter(|r| !r.is_empty())
            .unwrap_or("Mica refused the decision without saying why");
        MicaAnswer::Refused(reason.chars().take(500).collect())
    } else {
        MicaAnswer::Applied
    }
}

/// What Mica made of one attempt.
enum Answer {
    /// 2xx, with what Mica answered.
    Accepted(Bytes),
    /// Down, slow, 5xx, 408, 429: retried for as long as it takes.
    Unavailable(String),
    /// 4xx: retried a few times, then a dead letter.
    Refused(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_is_hmac_sha256_of_timestamp_dot_body() {
        // RFC 4231 test case 2 ("what do ya want for nothing?"), split as "<timestamp>.<body>"
        // would not be; so compute the reference over the joined message with the same key.
        let mut mac = Hmac::<Sha256>::new_from_slice(b"Jefe").unwrap();
        mac.update(b"1700000000.{\"a\":1}");
        let expected = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
        assert_eq!(signature("Jefe", 1_700_000_000, b"{\"a\":1}"), expected);
        assert_ne!(signature("Jefe", 1_700_000_001, b"{\"a\":1}"), expected);
    }

    #[test]
    fn a_decision_is_refused_only_when_mica_says_so() {
        assert_eq!(
            mica_answer(br#"{"outcome": "refused", "reason": "no longer an approver"}"#),
            MicaAnswer::Refused("no longer an approver".into())
        );
        assert!(
            matches!(mica_answer(br#"{"outcome": "refused"}"#), MicaAnswer::Refused(r) if r.contains("without saying"))
        );
        assert_eq!(
            mica_answer(br#"{"outcome": "applied"}"#),
            MicaAnswer::Applied
        );
        assert_eq!(mica_answer(b""), MicaAnswer::Applied);
    }

    #[test]
    fn notice_ids_follow_the_body() {
        assert_eq!(notice_id("{}"), notice_id("{}"));
        assert_ne!(notice_id("{}"), notice_id("{ }"));
        assert!(notice_id("{}").starts_with("ntc_"));
    }

    #[test]
    fn notice_targets_must_be_signed_and_private() {
        assert!(check_target("https://mica.example.com/n", "s", false).is_ok());
        assert!(check_target("http://127.0.0.1:8000/n", "s", false).is_ok());
        assert!(check_target("http://localhost:8000/n", "s", false).is_ok());
        assert!(check_target("http://[::1]:8000/n", "s", false).is_ok());
        let e = check_target("https://mica.example.com/n", " ", false).unwrap_err();
        assert!(e.to_string().contains("MICA_CALLBACK_SECRET"), "{e}");
        let e = check_target("http://mica.example.com/n", "s", false).unwrap_err();
        assert!(e.to_string().contains("plain http"), "{e}");
        assert!(check_target("http://backend:8000/n", "s", true).is_ok());
        assert!(check_target("http://backend:8000/n", "", true).is_err());
        assert!(check_target("ftp://mica.example.com/n", "s", false).is_err());
    }
}
