//! One realistic event of each type, in Mica's wire format: what the admin console previews before
//! any real event has arrived. They pass through the same validation as posted events.

use serde_json::{Value, json};

fn cny(value: &str) -> Value {
    json!({"value": value, "currency": "CNY"})
}

fn envelope(kind: &str, data: Value) -> Value {
    json!({
        "id": format!("preview-{kind}"),
        "type": kind,
        "occurred_at": "2026-11-25T02:14:22Z",
        "recipients": [],
        "data": data,
    })
}

/// The sample for each of `EventType::ALL`, in that order.
pub fn sample_events() -> Vec<Value> {
    vec![
        envelope(
            "pr_submitted",
            json!({
                "pr_id": "pr-1001", "pr_number": "PR-2026-0042",
                "title": "Laptops for the new design team",
                "applicant": {"name": "韩梅梅", "email": "han.meimei@example.com"},
                "department": "Design", "amount": cny("12500.00"), "line_count": 3,
                "url": "https://mica.example.com/pr/pr-1001",
            }),
        ),
        envelope(
            "approval_decided",
            json!({
                "pr_id": "pr-1001", "pr_number": "PR-2026-0042",
                "title": "Laptops for the new design team",
                "decider": {"name": "王芳", "email": "wang.fang@example.com"},
                "result": "approved", "comment": "Within budget.",
                "url": "https://mica.example.com/pr/pr-1001",
            }),
        ),
        envelope(
            "po_created",
            json!({
                "po_id": "po-77", "po_number": "PO-2026-0077", "supplier": "ACME Computers Ltd.",
                "amount": cny("12500.00"), "pr_title": "Laptops for the new design team",
                "url": "https://mica.example.com/po/po-77",
            }),
        ),
        envelope(
            "payment_pending",
            json!({
                "payment_id": "pay-9", "payment_number": "PAY-2026-0009",
                "po_number": "PO-2026-0077", "supplier": "ACME Computers Ltd.",
                "amount": cny("6250.00"), "due_date": "2026-12-15",
                "description": "First instalment (50%)",
                "url": "https://mica.example.com/payments/pay-9",
                "submitter": {"email": "li.lei@example.com", "name": "李雷", "locale": "zh-CN"},
            }),
        ),
        envelope(
            "contract_expiring",
            json!({
                "contract_id": "c-5", "contract_number": "CT-2025-0005",
                "supplier": "ACME Computers Ltd.", "expiry_date": "2026-12-01",
                "days_remaining": 6, "total_amount": cny("500000.00"),
                "used_amount": cny("412000.00"), "url": "https://mica.example.com/contracts/c-5",
            }),
        ),
        envelope(
            "notice",
            json!({
                "category": "approval_reminder",
                "title": "PR-2026-0042 has waited 3 days for your approval",
                "body": "Laptops for the new design team, submitted by 韩梅梅 (12,500.00 CNY).",
                "severity": "warning", "url": "https://mica.example.com/pr/pr-1001",
                "fields": [{"label": "Stage", "value": "Finance (2 of 3)"}],
            }),
        ),
        envelope(
            "digest",
            json!({
                "date": "2026-12-01", "url": "https://mica.example.com/dashboard",
                "sections": [
                    {"kind": "pending_approvals", "title": "Waiting for your approval", "count": 7,
                     "items": [
                        {"title": "PR-2026-0042 Laptops for the new design team", "url": "https://mica.example.com/pr/pr-1001"},
                        {"title": "PR-2026-0043 Standing desks", "url": "https://mica.example.com/pr/pr-1002"},
                     ]},
                    {"kind": "contracts_expiring", "title": "Contracts expiring this month", "count": 1,
                     "items": [{"title": "CT-2025-0005 ACME Computers Ltd.", "url": "https://mica.example.com/contracts/c-5"}]},
                ],
            }),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::EventType;
    use crate::events::parse_stored_event;

    #[test]
    fn every_sample_is_a_valid_event_of_its_type_in_order() {
        let samples = sample_events();
        assert_eq!(samples.len(), EventType::ALL.len());
        for (sample, kind) in samples.iter().zip(EventType::ALL) {
            let parsed = parse_stored_event(sample).unwrap_or_else(|e| panic!("{kind}: {e}"));
            assert_eq!(parsed.kind, kind);
        }
    }
}
