//! Sample events: used by unit tests, benchmarks and (later) the admin console's card preview.

use crate::model::*;

fn cny(value: &str) -> Money {
    Money {
        value: value.into(),
        currency: "CNY".into(),
    }
}

pub fn recipient(locale: &str) -> Recipient {
    Recipient {
        email: "li.lei@example.com".into(),
        name: "李雷".into(),
        locale: locale.into(),
        feishu_union_id: None,
        feishu_open_id: None,
        feishu_user_id: None,
    }
}

/// One realistic event of each kind.
pub fn event(kind: EventKind) -> DomainEvent {
    match kind {
        EventKind::PrSubmitted => DomainEvent::PrSubmitted(PrSubmitted {
            pr_id: "pr-1001".into(),
            pr_number: "PR-2026-0042".into(),
            title: "Laptops for the new design team".into(),
            applicant: Person {
                name: "韩梅梅".into(),
                email: "han.meimei@example.com".into(),
            },
            department: "Design".into(),
            amount: cny("12500.00"),
            line_count: 3,
            url: "https://mica.example.com/pr/pr-1001".into(),
        }),
        EventKind::ApprovalDecided => DomainEvent::ApprovalDecided(ApprovalDecided {
            pr_id: "pr-1001".into(),
            pr_number: "PR-2026-0042".into(),
            title: "Laptops for the new design team".into(),
            decider: Person {
                name: "王芳".into(),
                email: "wang.fang@example.com".into(),
            },
            result: Decision::Approved,
            comment: Some("Within budget.".into()),
            url: "https://mica.example.com/pr/pr-1001".into(),
        }),
        EventKind::PoCreated => DomainEvent::PoCreated(PoCreated {
            po_id: "po-77".into(),
            po_number: "PO-2026-0077".into(),
            supplier: "ACME Computers Ltd.".into(),
            amount: cny("12500.00"),
            pr_title: "Laptops for the new design team".into(),
            url: "https://mica.example.com/po/po-77".into(),
        }),
        EventKind::PaymentPending => DomainEvent::PaymentPending(PaymentPending {
            payment_id: "pay-9".into(),
            payment_number: "PAY-2026-0009".into(),
            po_number: "PO-2026-0077".into(),
            supplier: "ACME Computers Ltd.".into(),
            amount: cny("6250.00"),
            due_date: Some("2026-12-15".into()),
            description: Some("First instalment (50%)".into()),
            url: "https://mica.example.com/payments/pay-9".into(),
            submitter: recipient("zh-CN"),
        }),
        EventKind::ContractExpiring => DomainEvent::ContractExpiring(ContractExpiring {
            contract_id: "c-5".into(),
            contract_number: "CT-2025-0005".into(),
            supplier: "ACME Computers Ltd.".into(),
            expiry_date: "2026-12-01".into(),
            days_remaining: 6,
            total_amount: cny("500000.00"),
            used_amount: cny("412000.00"),
            url: "https://mica.example.com/contracts/c-5".into(),
        }),
    }
}

pub const ALL_KINDS: [EventKind; 5] = [
    EventKind::PrSubmitted,
    EventKind::ApprovalDecided,
    EventKind::PoCreated,
    EventKind::PaymentPending,
    EventKind::ContractExpiring,
];

/// A notice as Mica's approval reminder sends it.
pub fn notice() -> Message {
    Message::Notice(Notice {
        category: "approval_reminder".into(),
        title: "PR-2026-0042 has waited 3 days for your approval".into(),
        body: "Laptops for the new design team, submitted by 韩梅梅.".into(),
        url: Some("https://mica.example.com/pr/pr-1001".into()),
        severity: Severity::Warning,
        fields: vec![NoticeField {
            label: "Stage".into(),
            value: "Finance (2 of 3)".into(),
        }],
    })
}
