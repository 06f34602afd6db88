//! Conversions between generated WIT types and the core's model.

use super::exports::mica::plugin::approvals as wit_approvals;
use super::exports::mica::plugin::card_updates as wit_updates;
use super::exports::mica::plugin::connection as wit_connection;
use super::exports::mica::plugin::notices as wit_notices;
use super::exports::mica::plugin::notifications as wit_notify;
use super::exports::mica::plugin::plugin as wit_plugin;
use super::mica::plugin::types as wit;
use crate::describe::Descriptor;
use crate::model::*;
use crate::settings::SettingType;

fn money(m: wit::Money) -> Money {
    Money {
        value: m.value,
        currency: m.currency,
    }
}

pub fn person(p: wit::Person) -> Person {
    Person {
        name: p.name,
        email: p.email,
    }
}

pub fn recipient(r: wit::Recipient) -> Recipient {
    Recipient {
        email: r.email,
        name: r.name,
        locale: r.locale,
        feishu_union_id: r.feishu_union_id,
        feishu_open_id: r.feishu_open_id,
        feishu_user_id: r.feishu_user_id,
    }
}

pub fn decision(d: wit::Decision) -> Decision {
    match d {
        wit::Decision::Approved => Decision::Approved,
        wit::Decision::Rejected => Decision::Rejected,
        wit::Decision::Returned => Decision::Returned,
    }
}

pub fn event(e: wit::DomainEvent) -> DomainEvent {
    match e {
        wit::DomainEvent::PrSubmitted(e) => DomainEvent::PrSubmitted(PrSubmitted {
            pr_id: e.pr_id,
            pr_number: e.pr_number,
            title: e.title,
            applicant: person(e.applicant),
            department: e.department,
            amount: money(e.amount),
            line_count: e.line_count,
            url: e.url,
        }),
        wit::DomainEvent::ApprovalDecided(e) => DomainEvent::ApprovalDecided(ApprovalDecided {
            pr_id: e.pr_id,
            pr_number: e.pr_number,
            title: e.title,
            decider: person(e.decider),
            result: decision(e.result),
            comment: e.comment,
            url: e.url,
        }),
        wit::DomainEvent::PoCreated(e) => DomainEvent::PoCreated(PoCreated {
            po_id: e.po_id,
            po_number: e.po_number,
            supplier: e.supplier,
            amount: money(e.amount),
            pr_title: e.pr_title,
            url: e.url,
        }),
        wit::DomainEvent::PaymentPending(e) => DomainEvent::PaymentPending(payment(e)),
        wit::DomainEvent::ContractExpiring(e) => DomainEvent::ContractExpiring(ContractExpiring {
            contract_id: e.contract_id,
            contract_number: e.contract_number,
            supplier: e.supplier,
            expiry_date: e.expiry_date,
            days_remaining: e.days_remaining,
            total_amount: money(e.total_amount),
            used_amount: money(e.used_amount),
            url: e.url,
        }),
    }
}

pub fn notify_request(r: wit_notify::NotifyRequest) -> NotifyRequest {
    NotifyRequest {
        idempotency_key: r.idempotency_key,
        event_id: r.event_id,
        occurred_at: r.occurred_at,
        event: event(r.event),
        recipient: recipient(r.recipient),
        attempt: r.attempt,
    }
}

pub fn message(m: wit_notices::Message) -> Message {
    match m {
        wit_notices::Message::Notice(n) => Message::Notice(Notice {
            category: n.category,
            title: n.title,
            body: n.body,
            url: n.url,
            severity: match n.severity {
                wit_notices::Severity::Info => Severity::Info,
                wit_notices::Severity::Warning => Severity::Warning,
                wit_notices::Severity::Urgent => Severity::Urgent,
            },
            fields: n
                .fields
                .into_iter()
                .map(|f| NoticeField {
                    label: f.label,
                    value: f.value,
                })
                .collect(),
        }),
        wit_notices::Message::Digest(d) => Message::Digest(Digest {
            date: d.date,
            url: d.url,
            sections: d
                .sections
                .into_iter()
                .map(|s| DigestSection {
                    kind: s.kind,
                    title: s.title,
                    count: s.count,
                    items: s
                        .items
                        .into_iter()
                        .map(|i| DigestItem {
                            title: i.title,
                            url: i.url,
                        })
                        .collect(),
                })
                .collect(),
        }),
    }
}

pub fn message_request(r: wit_notices::MessageRequest) -> MessageRequest {
    MessageRequest {
        idempotency_key: r.idempotency_key,
        event_id: r.event_id,
        occurred_at: r.occurred_at,
        message: message(r.message),
        recipient: recipient(r.recipient),
        attempt: r.attempt,
    }
}

pub fn message_receipt(r: Receipt) -> wit_notices::MessageReceipt {
    wit_notices::MessageReceipt {
        message_id: r.message_id,
        chat_id: r.chat_id,
        log_id: r.log_id,
    }
}

pub fn receipt(r: Receipt) -> wit_notify::Receipt {
    wit_notify::Receipt {
        message_id: r.message_id,
        chat_id: r.chat_id,
        log_id: r.log_id,
    }
}

fn failure(f: Failure) -> wit::Failure {
    wit::Failure {
        message: f.message,
        remote_code: f.remote_code,
        log_id: f.log_id,
    }
}

pub fn plugin_error(e: PluginError) -> wit::PluginError {
    match e {
        PluginError::Skipped(m) => wit::PluginError::Skipped(m),
        PluginError::NotConfigured(m) => wit::PluginError::NotConfigured(m),
        PluginError::InvalidInput(m) => wit::PluginError::InvalidInput(m),
        PluginError::Unauthorized(f) => wit::PluginError::Unauthorized(failure(f)),
        PluginError::RateLimited {
            retry_after_ms,
            failure: f,
        } => wit::PluginError::RateLimited(wit::RateLimited {
            retry_after_ms,
            failure: failure(f),
        }),
        PluginError::Transient(f) => wit::PluginError::Transient(failure(f)),
        PluginError::Permanent(f) => wit::PluginError::Permanent(failure(f)),
    }
}

pub fn check(c: Check) -> wit_plugin::Check {
    wit_plugin::Check {
        name: c.name,
        ok: c.ok,
        detail: c.detail,
    }
}

pub fn connection_check(c: Check) -> wit_connection::ConnectionCheck {
    wit_connection::ConnectionCheck {
        name: c.name,
        ok: c.ok,
        detail: c.detail,
    }
}

pub fn descriptor(d: Descriptor) -> wit_plugin::Descriptor {
    wit_plugin::Descriptor {
        id: d.id.into(),
        version: d.version.into(),
        display_name: d.display_name.into(),
        settings: d
            .settings
            .iter()
            .map(|s| wit_plugin::Setting {
                key: s.key.into(),
                category: crate::settings::CATEGORY.into(),
                data_type: match s.data_type {
                    SettingType::Boolean => wit_plugin::SettingType::Boolean,
                    SettingType::String => wit_plugin::SettingType::String,
                    SettingType::Secret => wit_plugin::SettingType::Secret,
                    SettingType::Url => wit_plugin::SettingType::Url,
                },
                default_value: s.default_value.into(),
                description_zh: s.description_zh.into(),
                description_en: s.description_en.into(),
                sensitive: s.sensitive(),
            })
            .collect(),
        webhook_routes: d
            .webhook_routes
            .iter()
            .map(|(method, path)| wit_plugin::WebhookRoute {
                method: (*method).into(),
                path: (*path).into(),
            })
            .collect(),
        outbound_url_settings: d
            .outbound_url_settings
            .iter()
            .map(|s| (*s).into())
            .collect(),
        required_scopes: d.required_scopes.iter().map(|s| (*s).into()).collect(),
    }
}

pub fn payment(e: wit::PaymentPending) -> PaymentPending {
    PaymentPending {
        payment_id: e.payment_id,
        payment_number: e.payment_number,
        po_number: e.po_number,
        supplier: e.supplier,
        amount: money(e.amount),
        due_date: e.due_date,
        description: e.description,
        url: e.url,
        submitter: recipient(e.submitter),
    }
}

fn status_from(s: wit::ApprovalStatus) -> ApprovalStatus {
    match s {
        wit::ApprovalStatus::Pending => ApprovalStatus::Pending,
        wit::ApprovalStatus::Approved => ApprovalStatus::Approved,
        wit::ApprovalStatus::Rejected => ApprovalStatus::Rejected,
        wit::ApprovalStatus::Canceled => ApprovalStatus::Canceled,
        wit::ApprovalStatus::Deleted => ApprovalStatus::Deleted,
        wit::ApprovalStatus::Reverted => ApprovalStatus::Reverted,
        wit::ApprovalStatus::OvertimeClose => ApprovalStatus::OvertimeClose,
        wit::ApprovalStatus::OvertimeRecover => ApprovalStatus::OvertimeRecover,
    }
}

pub fn settlement(s: wit_updates::Settlement) -> Settlement {
    match s {
        wit_updates::Settlement::Decided(d) => Settlement::Decided(Decided {
            result: decision(d.result),
            decider: person(d.decider),
            comment: d.comment,
            decided_at: d.decided_at,
        }),
        wit_updates::Settlement::Approval(a) => Settlement::Approval(ApprovalState {
            status: status_from(a.status),
            changed_at: a.changed_at,
        }),
    }
}

pub fn update_request(r: wit_updates::UpdateRequest) -> UpdateRequest {
    UpdateRequest {
        idempotency_key: r.idempotency_key,
        message_id: r.message_id,
        event: event(r.event),
        settlement: settlement(r.settlement),
        recipient: recipient(r.recipient),
        attempt: r.attempt,
    }
}

pub fn update_receipt(r: Receipt) -> wit_updates::UpdateReceipt {
    wit_updates::UpdateReceipt {
        message_id: r.message_id,
        log_id: r.log_id,
    }
}

fn status(s: ApprovalStatus) -> wit::ApprovalStatus {
    match s {
        ApprovalStatus::Pending => wit::ApprovalStatus::Pending,
        ApprovalStatus::Approved => wit::ApprovalStatus::Approved,
        ApprovalStatus::Rejected => wit::ApprovalStatus::Rejected,
        ApprovalStatus::Canceled => wit::ApprovalStatus::Canceled,
        ApprovalStatus::Deleted => wit::ApprovalStatus::Deleted,
        ApprovalStatus::Reverted => wit::ApprovalStatus::Reverted,
        ApprovalStatus::OvertimeClose => wit::ApprovalStatus::OvertimeClose,
        ApprovalStatus::OvertimeRecover => wit::ApprovalStatus::OvertimeRecover,
    }
}

pub fn approval_ref(r: ApprovalRef) -> wit_approvals::ApprovalRef {
    wit_approvals::ApprovalRef {
        instance_code: r.instance_code,
        status: status(r.status),
    }
}

pub fn webhook_request(r: wit_approvals::WebhookRequest) -> WebhookRequest {
    WebhookRequest {
        method: r.method,
        path: r.path,
        headers: r.headers,
        body: r.body,
    }
}

pub fn webhook_outcome(o: WebhookOutcome) -> wit_approvals::WebhookOutcome {
    wit_approvals::WebhookOutcome {
        response: wit_approvals::WebhookResponse {
            status: o.response.status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: o.response.body,
        },
        event_id: o.event_id,
        updates: o
            .updates
            .into_iter()
            .map(|u| wit_approvals::ApprovalUpdate {
                approval_code: u.approval_code,
                instance_code: u.instance_code,
                status: status(u.status),
                operate_time_ms: u.operate_time_ms,
            })
            .collect(),
    }
}
