//! Test Connection: the seed page's checklist, each item reported separately.

use crate::feishu::token;
use crate::model::{Check, EventKind, NotifyRequest, PluginError};
use crate::notify::notify;
use crate::ports::Env;
use crate::samples;
use crate::settings::FeishuSettings;

pub fn test_connection(env: &Env, test_recipient_email: Option<&str>) -> Vec<Check> {
    let s = FeishuSettings::read(env.settings);
    let mut checks = Vec::new();
    let configured = s.require_credentials();
    checks.push(Check {
        name: "credentials_present".into(),
        ok: configured.is_ok(),
        detail: match &configured {
            Ok(()) => format!("App ID {} is set", s.app_id),
            Err(e) => describe_error(e),
        },
    });
    if configured.is_err() {
        return checks;
    }
    let fetched = token::fetch(env, &s);
    checks.push(Check {
        name: "tenant_token".into(),
        ok: fetched.is_ok(),
        detail: match &fetched {
            Ok(_) => format!("{} accepted the App ID and App Secret", s.base_url),
            Err(e) => describe_error(e),
        },
    });
    if fetched.is_err() {
        return checks;
    }
    if let Some(email) = test_recipient_email.filter(|e| !e.trim().is_empty()) {
        let mut recipient = samples::recipient("zh-CN");
        recipient.email = email.trim().to_string();
        let request = NotifyRequest {
            idempotency_key: format!("test-connection:{email}:{}", env.clock.now_ms()),
            event_id: "test-connection".into(),
            occurred_at: String::new(),
            event: samples::event(EventKind::PrSubmitted),
            recipient,
            attempt: 1,
        };
        let sent = notify(env, &request);
        checks.push(Check {
            name: "test_card".into(),
            ok: sent.is_ok(),
            detail: match &sent {
                Ok(r) => format!(
                    "a test card was delivered to {email} (message {})",
                    r.message_id
                ),
                Err(e) => describe_error(e),
            },
        });
    }
    checks
}

/// One sentence for a check's detail.
pub fn describe_error(e: &PluginError) -> String {
    match e {
        PluginError::Skipped(m) | PluginError::NotConfigured(m) | PluginError::InvalidInput(m) => {
            m.clone()
        }
        PluginError::Unauthorized(f) | PluginError::Transient(f) | PluginError::Permanent(f) => {
            f.message.clone()
        }
        PluginError::RateLimited { failure, .. } => failure.message.clone(),
    }
}
