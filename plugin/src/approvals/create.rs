//! Creating, reading and cancelling approval instances, and subscribing to their events.

use super::form;
use crate::feishu::{client, codes};
use crate::model::{ApprovalRef, ApprovalStatus, Failure, PaymentPending, PluginError, Recipient};
use crate::ports::{Env, Level, Method};
use crate::settings::{ENABLED, FeishuSettings, PAYMENT_WORKFLOW};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const INSTANCES: &str = "/open-apis/approval/v4/instances";
const DEFINITION_TTL_MS: u64 = 5 * 60 * 1000;
/// Re-assert the subscription daily; retry a failed one after an hour.
const SUBSCRIBED_TTL_MS: u64 = 24 * 3600 * 1000;
const SUBSCRIBE_FAILED_TTL_MS: u64 = 3600 * 1000;

/// Feishu's instance `uuid` (≤ 64 chars, suggested GUID shape), the same on every retry.
pub fn instance_uuid(idempotency_key: &str) -> String {
    let h = hex::encode(Sha256::digest(idempotency_key.as_bytes())).to_uppercase();
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

fn permanent(message: String) -> PluginError {
    PluginError::Permanent(Failure::new(message))
}

/// Settings for approval calls: enabled, workflow on, credentials and approval code present.
fn workflow_settings(env: &Env) -> Result<FeishuSettings, PluginError> {
    let s = FeishuSettings::read(env.settings);
    if !s.enabled {
        return Err(PluginError::Skipped(format!(
            "the Feishu integration is switched off ({ENABLED})"
        )));
    }
    if !s.payment_workflow {
        return Err(PluginError::Skipped(format!(
            "the payment approval workflow is switched off ({PAYMENT_WORKFLOW})"
        )));
    }
    s.require_credentials()?;
    if s.approval_code.is_empty() {
        return Err(PluginError::NotConfigured(
            "auth.feishu.approval_code is empty: copy the template's code from Feishu Approval Admin".into(),
        ));
    }
    Ok(s)
}

/// The initiator's id for the approval API, which takes open_id or user_id, never an email.
fn initiator(r: &Recipient) -> Result<(&'static str, String), PluginError> {
    let present = |v: &Option<String>| {
        v.as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    if let Some(id) = present(&r.feishu_open_id) {
        return Ok(("open_id", id));
    }
    if let Some(id) = present(&r.feishu_user_id) {
        return Ok(("user_id", id));
    }
    Err(permanent(format!(
        "the approval's initiator {} has no Feishu open_id or user_id; Feishu's approval API cannot start an approval from an email address: store the person's Feishu id in Mica",
        r.email
    )))
}

pub fn create(
    env: &Env,
    idempotency_key: &str,
    payment: &PaymentPending,
) -> Result<ApprovalRef, PluginError> {
    let s = workflow_settings(env)?;
    let (id_type, id) = initiator(&payment.submitter)?;
    ensure_subscribed(env, &s);
    let widgets = definition(env, &s)?;
    let form = form::fill(&widgets, payment).map_err(|problems| {
        permanent(format!(
            "the approval template {} cannot be filled: {}",
            s.approval_code,
            problems.join("; ")
        ))
    })?;
    let uuid = instance_uuid(idempotency_key);
    let mut body = json!({"approval_code": s.approval_code, "form": form, "uuid": uuid});
    body[id_type] = json!(id);
    match client::call::<Value>(
        env,
        &s,
        Method::Post,
        INSTANCES,
        Some(body.to_string().as_bytes()),
        "approval:instance",
    ) {
        Ok(reply) => {
            let code = reply.body["data"]["instance_code"]
                .as_str()
                .unwrap_or_default();
            if code.is_empty() {
                return Err(PluginError::Transient(Failure::new(
                    "Feishu created no instance_code",
                )));
            }
            Ok(ApprovalRef {
                instance_code: code.into(),
                status: ApprovalStatus::Pending,
            })
        }
        // 60012: this uuid was used, so an earlier attempt succeeded; its answer was lost.
        Err(PluginError::Permanent(f)) if f.remote_code == Some(60012) => {
            env.log.log(
                Level::Info,
                &format!("approval {uuid} already exists; reading it"),
            );
            get_with(env, &s, &uuid)
        }
        Err(e) => Err(e),
    }
}

pub fn get(env: &Env, instance: &str) -> Result<ApprovalRef, PluginError> {
    let s = FeishuSettings::read(env.settings);
    s.require_credentials()?;
    get_with(env, &s, instance)
}

fn get_with(env: &Env, s: &FeishuSettings, instance: &str) -> Result<ApprovalRef, PluginError> {
    let path = format!("{INSTANCES}/{instance}");
    let reply = client::call::<Value>(
        env,
        s,
        Method::Get,
        &path,
        None,
        "approval:approval:readonly",
    )?;
    let data = &reply.body["data"];
    let status_text = data["status"].as_str().unwrap_or_default();
    let status = ApprovalStatus::parse(status_text).ok_or_else(|| {
        PluginError::Transient(Failure::new(format!(
            "unknown instance status {status_text:?}"
        )))
    })?;
    let code = data["instance_code"]
        .as_str()
        .filter(|c| !c.is_empty())
        .unwrap_or(instance);
    Ok(ApprovalRef {
        instance_code: code.into(),
        status,
    })
}

pub fn cancel(env: &Env, instance: &str, initiator_of: &Recipient) -> Result<(), PluginError> {
    let s = FeishuSettings::read(env.settings);
    s.require_credentials()?;
    let (id_type, id) = initiator(initiator_of)?;
    let path = format!("{INSTANCES}/cancel?user_id_type={id_type}");
    let body = json!({"approval_code": s.approval_code, "instance_code": instance, "user_id": id});
    client::call::<Value>(
        env,
        &s,
        Method::Post,
        &path,
        Some(body.to_string().as_bytes()),
        "approval:instance",
    )?;
    Ok(())
}

/// Whether the app may create approval instances, without creating one: a create request with
/// no initiator passes Feishu's permission gate (99991672 if the scope is missing) and is then
/// refused as incomplete (1390001), so nothing is started. Answers what was learned.
pub fn probe_create_permission(env: &Env, s: &FeishuSettings) -> Result<String, PluginError> {
    let body = json!({"approval_code": s.approval_code, "form": "[]"});
    let granted = "approval:instance is granted";
    match client::call::<Value>(
        env,
        s,
        Method::Post,
        INSTANCES,
        Some(body.to_string().as_bytes()),
        "approval:instance",
    ) {
        // Feishu never starts an instance without an initiator; say so if it ever claims to.
        Ok(_) => Ok(format!(
            "{granted} (Feishu accepted a create request without an initiator)"
        )),
        Err(PluginError::Permanent(f))
            if f.remote_code
                .is_some_and(|c| !codes::SCOPE_MISSING.contains(&c)) =>
        {
            Ok(format!(
                "{granted} (probed with an incomplete request: nothing was created)"
            ))
        }
        Err(e) => Err(e),
    }
}

/// The template's widgets, cached briefly in kv.
pub fn definition(env: &Env, s: &FeishuSettings) -> Result<Vec<form::Widget>, PluginError> {
    let key = format!("approval-definition:{}", s.approval_code);
    if let Some(entry) = env.kv.get(&key)?
        && let Ok(text) = String::from_utf8(entry.value)
        && let Ok(widgets) = form::parse_definition(&text)
    {
        return Ok(widgets);
    }
    let path = format!(
        "/open-apis/approval/v4/approvals/{}?locale=zh-CN",
        s.approval_code
    );
    let reply = client::call::<Value>(
        env,
        s,
        Method::Get,
        &path,
        None,
        "approval:approval:readonly",
    )?;
    let data = &reply.body["data"];
    if let Some(status) = data["status"].as_str()
        && status != "ACTIVE"
    {
        return Err(permanent(format!(
            "the approval template {} is {status}, not ACTIVE",
            s.approval_code
        )));
    }
    let text = data["form"].as_str().unwrap_or("[]").to_string();
    let widgets = form::parse_definition(&text).map_err(permanent)?;
    env.kv.set(&key, text.as_bytes(), Some(DEFINITION_TTL_MS))?;
    Ok(widgets)
}

/// Subscribe the app to the template's events once (Feishu sends none without it). A failure
/// does not block the approval: reconciliation still reads its status, and Test Connection
/// reports the missing subscription.
pub fn ensure_subscribed(env: &Env, s: &FeishuSettings) -> bool {
    let key = format!("approval-subscribed:{}:{}", s.app_id, s.approval_code);
    if let Ok(Some(entry)) = env.kv.get(&key) {
        return entry.value == b"ok";
    }
    let path = format!(
        "/open-apis/approval/v4/approvals/{}/subscribe",
        s.approval_code
    );
    let result = client::call::<Value>(env, s, Method::Post, &path, None, "approval:approval");
    let ok = match &result {
        Ok(_) => true,
        Err(PluginError::Permanent(f)) if f.remote_code == Some(1390007) => true,
        Err(e) => {
            env.log.log(
                Level::Warn,
                &format!("subscribing to approval {} failed: {e:?}", s.approval_code),
            );
            false
        }
    };
    let (value, ttl): (&[u8], u64) = if ok {
        (b"ok", SUBSCRIBED_TTL_MS)
    } else {
        (b"failed", SUBSCRIBE_FAILED_TTL_MS)
    };
    let _ = env.kv.set(&key, value, Some(ttl));
    ok
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instance_uuid_is_guid_shaped_and_stable() {
        let u = instance_uuid("approval:pay-9");
        assert_eq!(u, instance_uuid("approval:pay-9"));
        assert_ne!(u, instance_uuid("approval:pay-10"));
        assert_eq!(u.len(), 36);
        assert_eq!(u.matches('-').count(), 4);
    }
}

#[cfg(test)]
mod cancel_tests {
    use super::*;
    use crate::samples;
    use crate::settings::APPROVAL_CODE;
    use crate::testkit::*;

    #[test]
    fn cancel_names_the_initiator_by_open_id() {
        let s = MapSettings::configured().with(APPROVAL_CODE, "\"CODE-1\"");
        let kv = MemKv::default();
        let http = ScriptedHttp::default()
            .token("t-1")
            .reply(200, r#"{"code":0,"msg":"success","data":{}}"#);
        let env = env(&s, &kv, &http);
        let mut initiator = samples::recipient("zh-CN");
        initiator.feishu_open_id = Some("ou_9".into());
        cancel(&env, "INST-1", &initiator).unwrap();
        let sent = http.seen.borrow()[1].clone();
        assert!(
            sent.url
                .ends_with("/open-apis/approval/v4/instances/cancel?user_id_type=open_id")
        );
        let body: serde_json::Value = serde_json::from_slice(&sent.body).unwrap();
        assert_eq!(
            body,
            json!({"approval_code": "CODE-1", "instance_code": "INST-1", "user_id": "ou_9"})
        );
        let no_id = samples::recipient("zh-CN");
        assert!(matches!(
            cancel(&env, "INST-1", &no_id),
            Err(PluginError::Permanent(_))
        ));
    }
}

#[cfg(test)]
mod probe_tests {
    use super::*;
    use crate::settings::APPROVAL_CODE;
    use crate::testkit::*;

    fn probe(reply: &str) -> (Result<String, PluginError>, ScriptedHttp) {
        let s = MapSettings::configured().with(APPROVAL_CODE, "\"CODE-1\"");
        let kv = MemKv::default();
        let http = ScriptedHttp::default().token("t-1").reply(400, reply);
        let result = probe_create_permission(&env(&s, &kv, &http), &FeishuSettings::read(&s));
        (result, http)
    }

    #[test]
    fn an_incomplete_request_refused_as_such_means_the_scope_is_granted() {
        let (result, http) =
            probe(r#"{"code":1390001,"msg":"param is invalid: user_id or open_id is required"}"#);
        assert!(result.unwrap().contains("nothing was created"));
        let sent = http.seen.borrow()[1].clone();
        let body: serde_json::Value = serde_json::from_slice(&sent.body).unwrap();
        assert_eq!(body, json!({"approval_code": "CODE-1", "form": "[]"}));
        assert!(body.get("open_id").is_none() && body.get("user_id").is_none());
    }

    #[test]
    fn a_missing_scope_is_named() {
        let (result, _) = probe(
            r#"{"code":99991672,"msg":"Access denied. One of the following scopes is required: [approval:approval, approval:instance]."}"#,
        );
        let Err(PluginError::Permanent(f)) = result else {
            panic!("{result:?}")
        };
        assert!(f.message.contains("approval:instance"), "{}", f.message);
    }
}

#[cfg(test)]
mod subscribe_tests {
    use super::*;
    use crate::ports::Kv;
    use crate::settings::APPROVAL_CODE;
    use crate::testkit::*;

    #[test]
    fn an_existing_subscription_counts_as_subscribed_and_is_remembered() {
        let s = MapSettings::configured().with(APPROVAL_CODE, "\"CODE-1\"");
        let kv = MemKv::default();
        let http = ScriptedHttp::default()
            .token("t-1")
            .reply(400, r#"{"code":1390007,"msg":"subscription existed"}"#);
        let env = env(&s, &kv, &http);
        let fs = FeishuSettings::read(&s);
        assert!(ensure_subscribed(&env, &fs));
        assert!(ensure_subscribed(&env, &fs), "remembered");
        assert_eq!(
            http.seen.borrow().len(),
            2,
            "one token fetch and one subscribe call"
        );
        assert!(http.paths()[1].ends_with("/approvals/CODE-1/subscribe"));
    }

    #[test]
    fn a_failed_subscription_does_not_block_and_is_retried_later() {
        let s = MapSettings::configured().with(APPROVAL_CODE, "\"CODE-2\"");
        let kv = MemKv::default();
        let http = ScriptedHttp::default().token("t-1").reply(
            400,
            r#"{"code":99991672,"msg":"Access denied. One of the following scopes is required: [approval:approval]."}"#,
        );
        let env = env(&s, &kv, &http);
        assert!(!ensure_subscribed(&env, &FeishuSettings::read(&s)));
        let remembered = kv
            .get("approval-subscribed:cli_test:CODE-2")
            .unwrap()
            .unwrap();
        assert_eq!(remembered.value, b"failed");
    }
}
