//! The host's domain types (`crate::domain`) to and from the generated WIT bindings. The two sides
//! have the same shapes, so most conversions are field by field; this file is the only place
//! outside the runtime's calls where the bindings' types appear.

use super::bindings as wit;
use crate::domain as host;

/// Records converted field by field from the host's type to the bindings' type of the same name.
macro_rules! to_wit {
    ($($m:ident :: $name:ident { $($f:ident),* $(,)? })*) => {$(
        impl From<host::$name> for wit::$m::$name {
            fn from(x: host::$name) -> Self {
                Self { $($f: x.$f.into()),* }
            }
        }
    )*};
}

/// Records converted field by field from the bindings' type to the host's type of the same name.
macro_rules! from_wit {
    ($($m:ident :: $name:ident { $($f:ident),* $(,)? })*) => {$(
        impl From<wit::$m::$name> for host::$name {
            fn from(x: wit::$m::$name) -> Self {
                Self { $($f: x.$f.into()),* }
            }
        }
    )*};
}

/// Variants with one value each, converted from `$from` to `$to`, the value converting by its
/// own `From`.
macro_rules! variants {
    ($from:ty => $to:ty { $($v:ident),* $(,)? }) => {
        impl From<$from> for $to {
            fn from(x: $from) -> Self {
                type Source = $from;
                match x { $(Source::$v(v) => Self::$v(v.into())),* }
            }
        }
    };
}

/// Enums without values, the same on both sides, converted both ways.
macro_rules! same_enum {
    ($m:ident :: $name:ident { $($v:ident),* $(,)? }) => {
        impl From<host::$name> for wit::$m::$name {
            fn from(x: host::$name) -> Self {
                match x { $(host::$name::$v => Self::$v),* }
            }
        }
        impl From<wit::$m::$name> for host::$name {
            fn from(x: wit::$m::$name) -> Self {
                match x { $(wit::$m::$name::$v => Self::$v),* }
            }
        }
    };
}

same_enum!(types::Decision {
    Approved,
    Rejected,
    Returned
});
same_enum!(types::ApprovalStatus {
    Pending,
    Approved,
    Rejected,
    Canceled,
    Deleted,
    Reverted,
    OvertimeClose,
    OvertimeRecover,
});

to_wit! {
    types::Money { value, currency }
    types::Person { name, email }
    types::Recipient { email, name, locale, feishu_union_id, feishu_open_id, feishu_user_id }
    types::PrSubmitted { pr_id, pr_number, title, applicant, department, amount, line_count, url }
    types::ApprovalDecided { pr_id, pr_number, title, decider, result, comment, url }
    types::PoCreated { po_id, po_number, supplier, amount, pr_title, url }
    types::PaymentPending {
        payment_id, payment_number, po_number, supplier, amount, due_date, description, url,
        submitter,
    }
    types::ContractExpiring {
        contract_id, contract_number, supplier, expiry_date, days_remaining, total_amount,
        used_amount, url,
    }
    notifications::NotifyRequest { idempotency_key, event_id, occurred_at, event, recipient, attempt }
    approvals::CreateRequest { idempotency_key, payment }
    approvals::WebhookRequest { method, path, headers, body }
}

variants!(host::DomainEvent => wit::types::DomainEvent {
    PrSubmitted,
    ApprovalDecided,
    PoCreated,
    PaymentPending,
    ContractExpiring,
});

from_wit! {
    types::Failure { message, remote_code, log_id }
    types::RateLimited { retry_after_ms, failure }
    notifications::Receipt { message_id, chat_id, log_id }
    approvals::ApprovalRef { instance_code, status }
    approvals::WebhookResponse { status, headers, body }
    approvals::ApprovalUpdate { approval_code, instance_code, status, operate_time_ms }
}

variants!(wit::types::PluginError => host::PluginError {
    Skipped,
    NotConfigured,
    InvalidInput,
    Unauthorized,
    RateLimited,
    Transient,
    Permanent,
});

impl From<wit::approvals::WebhookOutcome> for host::WebhookOutcome {
    fn from(x: wit::approvals::WebhookOutcome) -> Self {
        Self {
            response: x.response.into(),
            event_id: x.event_id,
            updates: x.updates.into_iter().map(Into::into).collect(),
        }
    }
}

/// A redraw's receipt has the shape of a send's (no chat id), so the worker judges both alike.
impl From<wit::card_updates::UpdateReceipt> for host::Receipt {
    fn from(x: wit::card_updates::UpdateReceipt) -> Self {
        Self {
            message_id: x.message_id,
            chat_id: None,
            log_id: x.log_id,
        }
    }
}

/// A plugin's answer in the host's types: `Ok(receipt)` or the plugin's error.
pub fn answer<T, U: From<T>>(
    r: Result<T, wit::types::PluginError>,
) -> Result<U, host::PluginError> {
    r.map(U::from).map_err(Into::into)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_approval_status_round_trips_to_its_namesake() {
        for status in host::ApprovalStatus::ALL {
            let there = wit::types::ApprovalStatus::from(status);
            assert_eq!(format!("ApprovalStatus::{status:?}"), format!("{there:?}"));
            assert_eq!(host::ApprovalStatus::from(there), status);
        }
    }

    #[test]
    fn a_plugin_error_keeps_its_kind_and_what_feishu_said() {
        let failure = || wit::types::Failure {
            message: "m".into(),
            remote_code: Some(99991663),
            log_id: Some("log".into()),
        };
        let limited: host::PluginError =
            wit::types::PluginError::RateLimited(wit::types::RateLimited {
                retry_after_ms: 1500,
                failure: failure(),
            })
            .into();
        assert_eq!(
            limited,
            host::PluginError::RateLimited(host::RateLimited {
                retry_after_ms: 1500,
                failure: host::Failure {
                    message: "m".into(),
                    remote_code: Some(99991663),
                    log_id: Some("log".into()),
                },
            })
        );
        let skipped: host::PluginError = wit::types::PluginError::Skipped("off".into()).into();
        assert_eq!(skipped, host::PluginError::Skipped("off".into()));
        let unauthorized: host::PluginError =
            wit::types::PluginError::Unauthorized(failure()).into();
        assert!(
            matches!(unauthorized, host::PluginError::Unauthorized(f) if f.remote_code == Some(99991663))
        );
    }

    #[test]
    fn a_payment_event_keeps_its_submitter() {
        let submitter = host::Recipient {
            email: "a@example.com".into(),
            name: "A".into(),
            locale: "en-US".into(),
            feishu_union_id: None,
            feishu_open_id: Some("ou_1".into()),
            feishu_user_id: None,
        };
        let event = host::DomainEvent::PaymentPending(host::PaymentPending {
            payment_id: "7".into(),
            payment_number: "PAY-7".into(),
            po_number: "PO-1".into(),
            supplier: "S".into(),
            amount: host::Money {
                value: "12.50".into(),
                currency: "CNY".into(),
            },
            due_date: Some("2026-12-31".into()),
            description: None,
            url: "https://mica.example.com/payments/7".into(),
            submitter,
        });
        let wit::types::DomainEvent::PaymentPending(p) = wit::types::DomainEvent::from(event)
        else {
            panic!("not a payment")
        };
        assert_eq!(
            (p.payment_id.as_str(), p.amount.value.as_str()),
            ("7", "12.50")
        );
        assert_eq!(p.submitter.feishu_open_id.as_deref(), Some("ou_1"));
        assert_eq!(p.due_date.as_deref(), Some("2026-12-31"));
    }
}
