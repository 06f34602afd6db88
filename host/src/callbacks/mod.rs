//! Notices to Mica (`MICA_CALLBACK_URL`): every approval status change, POSTed as JSON with
//! `X-Mica-Signature: sha256=<hex HMAC-SHA256 of the body>`, retried until Mica answers 2xx.

use crate::store::{Store, now_ms};
use bytes::Bytes;
use hmac::{Hmac, Mac};
use http_body_util::Full;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use sha2::Sha256;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub struct CallbackSender {
    pub store: Store,
    pub url: String,
    pub secret: String,
    /// How often to look for due notices.
    pub poll: Duration,
}

pub fn signature(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// 1 s, 2 s, 4 s … capped at 5 minutes: Mica may be down for a while; nothing is dropped.
fn backoff(attempts: i64) -> Duration {
    Duration::from_secs(1u64 << attempts.clamp(0, 8)).min(Duration::from_secs(300))
}

impl CallbackSender {
    pub fn start(self) -> anyhow::Result<(watch::Sender<bool>, JoinHandle<()>)> {
        let connector = crate::net::connector(Duration::from_secs(5))?;
        let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build(connector);
        let (stop, mut stopped) = watch::channel(false);
        let join = tokio::spawn(async move {
            while !*stopped.borrow() {
                match self.store.call(|s| s.due_callbacks(50)).await {
                    Ok(due) => {
                        for notice in due {
                            let outcome = self.send(&client, &notice.body).await;
                            let id = notice.id;
                            let recorded = match outcome {
                                Ok(()) => self.store.call(move |s| s.callback_sent(id)).await,
                                Err(why) => {
                                    tracing::warn!(notice = id, attempts = notice.attempts + 1, %why, "Mica did not accept an approval notice; will retry");
                                    let at = now_ms() + backoff(notice.attempts).as_millis() as i64;
                                    self.store
                                        .call(move |s| s.callback_retry(id, at, &why))
                                        .await
                                }
                            };
                            if let Err(e) = recorded {
                                tracing::error!(error = %format!("{e:#}"), "could not record a notice outcome");
                            }
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

    async fn send(
        &self,
        client: &Client<crate::net::Connector, Full<Bytes>>,
        body: &str,
    ) -> Result<(), String> {
        let request = http::Request::post(&self.url)
            .header("content-type", "application/json")
            .header("x-mica-signature", signature(&self.secret, body.as_bytes()))
            .body(Full::new(Bytes::from(body.to_string())))
            .map_err(|e| format!("MICA_CALLBACK_URL is not usable: {e}"))?;
        match tokio::time::timeout(Duration::from_secs(10), client.request(request)).await {
            Err(_) => Err("timed out".into()),
            Ok(Err(e)) => Err(format!("{e}")),
            Ok(Ok(resp)) if resp.status().is_success() => Ok(()),
            Ok(Ok(resp)) => Err(format!("HTTP {}", resp.status())),
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn signature_is_hmac_sha256_hex() {
        // RFC 4231 test case 2.
        assert_eq!(
            super::signature("Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
