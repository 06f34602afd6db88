//! The event envelope, the five `data` shapes of CONTRACT.md, and the notice and digest.

use super::fields::{FieldError, Obj, Result, error};
use crate::domain::{
    ApprovalDecided, ContractExpiring, Decision, DomainEvent, EventType, PaymentPending, PoCreated,
    PrSubmitted, Recipient,
};
use serde_json::Value;

/// What an event carries: one of the five domain events (the `notifications` interface), or a
/// notice or digest (the `notices` interface, since mica:plugin 0.1.2).
// One per stored event, held in a small cache: boxing the larger variant would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug)]
pub enum Payload {
    Domain(DomainEvent),
    Message(super::messages::Message),
}

const MAX_RECIPIENTS: usize = 1000;

/// An accepted event.
pub struct ValidEvent {
    pub id: String,
    pub kind: EventType,
    pub occurred_at: String,
    /// Unique by email (a person listed twice gets one card).
    pub recipients: Vec<Recipient>,
    pub payload: Payload,
    /// What was accepted but changed (a locale that fell back), for the 202 answer.
    pub warnings: Vec<String>,
}

/// Validate a whole event body (what `POST /api/v1/events` accepts).
pub fn parse_event(body: &Value) -> Result<ValidEvent> {
    let mut event = parse_stored_event(body)?;
    let root = Obj::root(body, "")?;
    let items = root.array("recipients")?;
    if items.len() > MAX_RECIPIENTS {
        return Err(error(
            "recipients",
            format!("at most {MAX_RECIPIENTS} recipients per event"),
        ));
    }
    let mut seen = std::collections::HashSet::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let path = format!("recipients[{i}]");
        let r = parse_recipient(item, &path)?;
        event.warnings.extend(locale_warning(item, &path));
        if seen.insert(r.email.to_lowercase()) {
            event.recipients.push(r);
        }
    }
    if let Some(submitter) = body.get("data").and_then(|d| d.get("submitter")) {
        event
            .warnings
            .extend(locale_warning(submitter, "data.submitter"));
    }
    Ok(event)
}

/// The envelope and `data` of an event, without its recipients: what a delivery needs of an event
/// that was validated whole when it was accepted (its recipient is stored with the delivery).
pub fn parse_stored_event(body: &Value) -> Result<ValidEvent> {
    let root = Obj::root(body, "")?;
    let id = root.str("id")?.trim().to_string();
    if id.len() > 200 {
        return Err(error("id", "must be at most 200 characters"));
    }
    let type_name = root.str("type")?;
    let kind = EventType::parse(&type_name).ok_or_else(|| {
        let names: Vec<&str> = EventType::ALL.iter().map(|t| t.as_str()).collect();
        error(
            "type",
            format!("{type_name:?} is not one of {}", names.join(", ")),
        )
    })?;
    let occurred_at = root.str("occurred_at")?;
    if chrono::DateTime::parse_from_rfc3339(occurred_at.trim()).is_err() {
        return Err(error(
            "occurred_at",
            format!(
                "{occurred_at:?} is not an ISO 8601 date-time such as \"2026-11-25T02:14:22Z\""
            ),
        ));
    }
    let data = root.obj("data")?;
    let payload = match kind {
        EventType::Notice => Payload::Message(super::messages::Message::Notice(
            super::messages::notice(&data)?,
        )),
        EventType::Digest => Payload::Message(super::messages::Message::Digest(
            super::messages::digest(&data)?,
        )),
        domain => Payload::Domain(parse_data(domain, &data)?),
    };
    Ok(ValidEvent {
        id,
        kind,
        occurred_at,
        recipients: Vec::new(),
        payload,
        warnings: Vec::new(),
    })
}

/// A recipient object (also the `submitter` of a payment).
pub fn parse_recipient(value: &Value, path: &str) -> Result<Recipient> {
    let o = Obj::root(value, path)?;
    let email = o.email("email")?;
    let name = o.opt_str("name")?.unwrap_or_default();
    let locale = match o.opt_str("locale")?.as_deref().map(str::trim) {
        None | Some("") => "zh-CN".to_string(),
        Some(tag) => resolve_locale(tag).0.to_string(),
    };
    let id = |name: &str| -> Result<Option<String>> {
        Ok(o.opt_str(name)?
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty()))
    };
    Ok(Recipient {
        email,
        name,
        locale,
        feishu_union_id: id("feishu_union_id")?,
        feishu_open_id: id("feishu_open_id")?,
        feishu_user_id: id("feishu_user_id")?,
    })
}

/// The card language for a BCP 47 tag: zh-CN or en-US exactly (`true`), or a fallback: any
/// other Chinese tag to zh-CN, anything else to en-US (`false`). Mica's users may carry any
/// locale; refusing the whole event for one of them would lose everyone's card.
fn resolve_locale(tag: &str) -> (&'static str, bool) {
    let tag = tag.to_ascii_lowercase().replace('_', "-");
    match tag.as_str() {
        "zh-cn" | "zh" | "zh-hans" | "zh-hans-cn" => ("zh-CN", true),
        "en-us" | "en" => ("en-US", true),
        t if t == "zh" || t.starts_with("zh-") => ("zh-CN", false),
        _ => ("en-US", false),
    }
}

/// A warning when a recipient object's `locale` is not one the cards are written in.
fn locale_warning(value: &Value, path: &str) -> Option<String> {
    let tag = value.get("locale")?.as_str()?.trim();
    if tag.is_empty() {
        return None;
    }
    let (locale, exact) = resolve_locale(tag);
    (!exact).then(|| {
        format!("{path}.locale: {tag:?} is not zh-CN or en-US; the card is sent in {locale}")
    })
}

fn parse_data(kind: EventType, d: &Obj) -> Result<DomainEvent> {
    Ok(match kind {
        EventType::PrSubmitted => DomainEvent::PrSubmitted(PrSubmitted {
            pr_id: d.str("pr_id")?,
            pr_number: d.str("pr_number")?,
            title: d.str("title")?,
            applicant: d.person("applicant")?,
            department: d.opt_str("department")?.unwrap_or_default(),
            amount: d.money("amount")?,
            line_count: d.int("line_count", 0, u32::MAX as i64)? as u32,
            url: d.url("url")?,
        }),
        EventType::ApprovalDecided => DomainEvent::ApprovalDecided(ApprovalDecided {
            pr_id: d.str("pr_id")?,
            pr_number: d.str("pr_number")?,
            title: d.str("title")?,
            decider: d.person("decider")?,
            result: match d.str("result")?.as_str() {
                "approved" => Decision::Approved,
                "rejected" => Decision::Rejected,
                "returned" => Decision::Returned,
                other => {
                    return Err(error(
                        d.field("result"),
                        format!("{other:?} is not one of approved, rejected, returned"),
                    ));
                }
            },
            comment: d.opt_str("comment")?,
            url: d.url("url")?,
        }),
        EventType::PoCreated => DomainEvent::PoCreated(PoCreated {
            po_id: d.str("po_id")?,
            po_number: d.str("po_number")?,
            supplier: d.str("supplier")?,
            amount: d.money("amount")?,
            pr_title: d.opt_str("pr_title")?.unwrap_or_default(),
            url: d.url("url")?,
        }),
        EventType::PaymentPending => DomainEvent::PaymentPending(PaymentPending {
            payment_id: d.str("payment_id")?,
            payment_number: d.str("payment_number")?,
            po_number: d.str("po_number")?,
            supplier: d.str("supplier")?,
            amount: d.money("amount")?,
            due_date: d.opt_date("due_date")?,
            description: d.opt_str("description")?,
            url: d.url("url")?,
            submitter: match d.raw("submitter") {
                Some(v) => parse_recipient(v, &d.field("submitter"))?,
                None => return Err(error(d.field("submitter"), "is required")),
            },
        }),
        EventType::ContractExpiring => DomainEvent::ContractExpiring(ContractExpiring {
            contract_id: d.str("contract_id")?,
            contract_number: d.str("contract_number")?,
            supplier: d.str("supplier")?,
            expiry_date: d.date("expiry_date")?,
            days_remaining: d.int("days_remaining", -36_500, 36_500)? as i32,
            total_amount: d.money("total_amount")?,
            used_amount: d.money("used_amount")?,
            url: d.url("url")?,
        }),
        EventType::Notice | EventType::Digest => {
            unreachable!("notices and digests are parsed by events::messages")
        }
    })
}

impl From<FieldError> for crate::api::ApiError {
    fn from(e: FieldError) -> Self {
        crate::api::ApiError::unprocessable(e.to_string())
    }
}

#[cfg(test)]
mod tests;
