//! Test Connection: the seed page's checklist, each item a separate check an administrator can
//! act on. Nothing here depends on the notification switches: the checks run whatever they say.

use crate::approvals::{create, form};
use crate::cards::{self, i18n::Locale};
use crate::feishu::classify::transport;
use crate::feishu::recipient::receive_id;
use crate::feishu::{codes, token};
use crate::model::{Check, DomainEvent, EventKind, PluginError, Recipient};
use crate::notify::{SEND_SCOPE, send_card};
use crate::ports::Env;
use crate::samples;
use crate::settings::{ENCRYPT_KEY, FeishuSettings, VERIFICATION_TOKEN};

fn check(name: &str, result: Result<String, String>) -> Check {
    let ok = result.is_ok();
    Check {
        name: name.into(),
        ok,
        detail: result.unwrap_or_else(|e| e),
    }
}

/// Who the test card goes to: a person (by Feishu id when one is known, else email), or nobody
/// (the send permission is probed instead).
pub fn test_connection(env: &Env, test_recipient: Option<Recipient>) -> Vec<Check> {
    let s = FeishuSettings::read(env.settings);
    let mut checks = Vec::new();
    let configured = s
        .require_credentials()
        .map(|()| format!("App ID {} and an App Secret are set", s.app_id))
        .map_err(|e| describe_error(&e));
    let stop = configured.is_err();
    checks.push(check("credentials_present", configured));
    if stop {
        return checks;
    }

    let answer = env.http.send(&token::request(&s));
    let reachable = match &answer {
        Ok(_) => Ok(format!("{} answers", s.base_url)),
        Err(e) => Err(format!("{}: {}", s.base_url, describe_error(&transport(e)))),
    };
    checks.push(check("base_url_reachable", reachable));
    let Ok(answer) = answer else {
        return checks;
    };
    let credentials = token::parse_reply(&answer, &s.app_id)
        .map(|_| "Feishu accepted the App ID and App Secret".to_string())
        .map_err(|e| describe_error(&e));
    let stop = credentials.is_err();
    checks.push(check("credentials_valid", credentials));
    if stop {
        return checks;
    }

    checks.push(check(
        "bot_and_messaging",
        messaging(env, &s, test_recipient),
    ));
    if s.payment_workflow {
        approval_checks(env, &s, &mut checks);
    }
    checks.push(check(
        "callback_verification",
        callback_verification(env, &s),
    ));
    checks
}

/// The test card's recipient when only an address was given (`plugin.test-connection`); none
/// for an empty one.
pub fn recipient_by_email(email: Option<&str>) -> Option<Recipient> {
    let email = email.map(str::trim).filter(|e| !e.is_empty())?;
    Some(Recipient {
        email: email.to_string(),
        ..samples::recipient("zh-CN")
    })
}

/// Send a test card when a person is given; otherwise probe with an address Feishu will refuse,
/// which it only examines after checking the bot and the send permission.
fn messaging(env: &Env, s: &FeishuSettings, to: Option<Recipient>) -> Result<String, String> {
    let uuid = format!("mica-test-{}", env.clock.now_ms());
    let to = to.filter(|r| receive_id(r).is_some());
    match to {
        Some(person) => {
            let locale = Locale::from_tag(&person.locale);
            let card = cards::render_json(&samples::event(EventKind::PrSubmitted), locale);
            let target = receive_id(&person).expect("filtered above");
            let who = match target.id_type {
                "email" => target.id.clone(),
                id_type => format!("{} ({id_type} {})", person.email, target.id),
            };
            send_card(env, s, &person, &card, &uuid)
                .map(|r| {
                    format!(
                        "a test card was delivered to {who} (message {})",
                        r.message_id
                    )
                })
                .map_err(|e| describe_error(&e))
        }
        None => {
            let card = cards::render_json(&samples::event(EventKind::PrSubmitted), Locale::ZhCn);
            let mut probe = samples::recipient("zh-CN");
            probe.email = "mica-connection-probe@example.invalid".into();
            match send_card(env, s, &probe, &card, &uuid) {
                Ok(_) => Ok(format!("the bot can send messages ({SEND_SCOPE} granted)")),
                Err(PluginError::Permanent(f))
                    if f.remote_code
                        .is_some_and(|c| codes::unreachable_recipient(c).is_some()) =>
                {
                    Ok(format!(
                        "the bot is enabled and {SEND_SCOPE} is granted (enter an email to receive a test card)"
                    ))
                }
                Err(e) => Err(describe_error(&e)),
            }
        }
    }
}

fn approval_checks(env: &Env, s: &FeishuSettings, checks: &mut Vec<Check>) {
    if s.approval_code.is_empty() {
        checks.push(check(
            "approval_definition",
            Err("the payment workflow is on but auth.feishu.approval_code is empty".into()),
        ));
        return;
    }
    let widgets = create::definition(env, s);
    let stop = widgets.is_err();
    checks.push(check(
        "approval_definition",
        widgets
            .as_ref()
            .map(|w| format!("approval template {} is readable ({} widgets)", s.approval_code, w.len()))
            .map_err(|e| match e {
                PluginError::Permanent(f) if f.remote_code == Some(1390002) => format!(
                    "approval code {} does not exist in this tenant (Approval Admin → template details)",
                    s.approval_code
                ),
                e => describe_error(e),
            }),
    ));
    if stop {
        return;
    }
    checks.push(check(
        "approval_permission",
        create::probe_create_permission(env, s).map_err(|e| describe_error(&e)),
    ));
    let DomainEvent::PaymentPending(payment) = samples::event(EventKind::PaymentPending) else {
        unreachable!("the sample of a payment is a payment")
    };
    let filled = form::fill(widgets.as_deref().unwrap_or_default(), &payment)
        .map(|_| "every payment field has a widget of the right type".to_string())
        .map_err(|problems| problems.join("; "));
    checks.push(check("approval_template", filled));
    let subscribed = if create::ensure_subscribed(env, s) {
        Ok(format!(
            "the app is subscribed to template {}'s events",
            s.approval_code
        ))
    } else {
        Err(format!(
            "could not subscribe to template {}'s events (grant approval:approval or approval:definition); decisions are still picked up by periodic re-reading, only later",
            s.approval_code
        ))
    };
    checks.push(check("approval_subscription", subscribed));
}

fn callback_verification(env: &Env, s: &FeishuSettings) -> Result<String, String> {
    let set = |key| {
        env.settings
            .secret(key)
            .is_some_and(|v| !v.trim().is_empty())
    };
    match (set(VERIFICATION_TOKEN), set(ENCRYPT_KEY)) {
        (true, true) => Ok("callbacks are decrypted and their signature and token verified".into()),
        (true, false) => Ok(
            "callbacks are checked by token only: set an Encrypt Key (here and in Feishu) to have them encrypted and signed".into(),
        ),
        (false, _) if s.payment_workflow => Err(
            "set auth.feishu.verification_token (Developer Console → Event Subscription): without it every approval callback is refused".into(),
        ),
        (false, _) => Ok("not needed until the payment workflow is switched on".into()),
    }
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
