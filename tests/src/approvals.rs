//! Setting up a host, the simulator and a Mica receiver for payment-approval tests.

use crate::harness::{HostOptions, TestHost, event, recipient};
use crate::mica::MicaReceiver;
use crate::sim::FeishuSim;
use crate::sim::approval::payment_template;
use crate::sim::callbacks::CallbackConfig;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub const APPROVAL_CODE: &str = "7C468A54-8745-2245-9675-08B7C63E7A85";
pub const VERIFICATION_TOKEN: &str = "vt-0123456789abcdef";
pub const ENCRYPT_KEY: &str = "encrypt-key-for-tests";

pub struct ApprovalSetup {
    pub sim: FeishuSim,
    pub host: TestHost,
    pub mica: MicaReceiver,
}

/// Workflow on, template defined, callbacks signed and encrypted (when `encrypt`), fast retries.
pub async fn setup(encrypt: bool, options: HostOptions) -> ApprovalSetup {
    let sim = FeishuSim::start().await;
    sim.define_approval(APPROVAL_CODE, payment_template());
    let mica = MicaReceiver::start().await;
    let options = HostOptions {
        callback_url: Some(mica.url.clone()),
        ..options
    };
    let host = TestHost::start_in(Arc::new(tempfile::tempdir().unwrap()), options).await;
    host.configure_feishu(&sim);
    host.set("auth.feishu.payment_workflow", json!(true));
    host.set("auth.feishu.approval_code", json!(APPROVAL_CODE));
    host.set("auth.feishu.verification_token", json!(VERIFICATION_TOKEN));
    if encrypt {
        host.set("auth.feishu.encrypt_key", json!(ENCRYPT_KEY));
    }
    sim.send_callbacks_to(CallbackConfig {
        url: format!("{}/api/v1/feishu/webhook", host.base),
        encrypt_key: encrypt.then(|| ENCRYPT_KEY.to_string()),
        verification_token: VERIFICATION_TOKEN.into(),
        sign: true,
        retry_delays: [50, 100, 200, 400].map(Duration::from_millis).to_vec(),
    });
    ApprovalSetup { sim, host, mica }
}

/// A payment_pending event whose submitter has a Feishu open_id (or none).
pub fn payment_event(event_id: &str, payment_id: &str, submitter_open_id: Option<&str>) -> Value {
    let mut e = event(
        "payment_pending",
        event_id,
        vec![recipient("finance@example.com", "en-US")],
    );
    e["data"]["payment_id"] = json!(payment_id);
    e["data"]["submitter"]["feishu_open_id"] = json!(submitter_open_id);
    e
}

impl ApprovalSetup {
    /// Post a payment and wait until its approval exists; returns the instance code.
    pub async fn start_payment(&self, payment_id: &str) -> String {
        let event_id = format!("evt-{payment_id}");
        let (status, body) = self
            .host
            .post_event(&payment_event(&event_id, payment_id, Some("ou_submitter")))
            .await;
        assert_eq!(status, 202, "{body}");
        let approval = self.wait_status(payment_id, "PENDING").await;
        approval["instance_code"].as_str().unwrap().to_string()
    }

    /// Poll `GET /api/v1/approvals/{payment_id}` until it shows `status`.
    pub async fn wait_status(&self, payment_id: &str, status: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let (code, body) = self
                .host
                .get(&format!("/api/v1/approvals/{payment_id}"))
                .await;
            if code == 200 && body["status"] == status {
                return body;
            }
            assert!(
                Instant::now() < deadline,
                "{payment_id} never reached {status}: {code} {body}"
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Wait until Mica has received `n` notices; returns them.
    pub async fn wait_notices(&self, n: usize) -> Vec<(Value, bool)> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let notices = self.mica.notices();
            if notices.len() >= n {
                return notices;
            }
            assert!(
                Instant::now() < deadline,
                "Mica got {} of {n} notices: {notices:#?}",
                notices.len()
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}
