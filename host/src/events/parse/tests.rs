use super::*;
use serde_json::json;

fn pr() -> Value {
    json!({
        "id": "evt-1", "type": "pr_submitted", "occurred_at": "2026-11-25T02:14:22Z",
        "recipients": [
            {"email": "li.lei@example.com", "name": "李雷", "locale": "zh-CN"},
            {"email": "LI.LEI@example.com", "name": "dup"},
            {"email": "amy@example.com", "locale": "en", "feishu_open_id": " ou_1 ", "feishu_union_id": ""}
        ],
        "data": {"pr_id": "1", "pr_number": "PR-1", "title": "t", "applicant": {"name": "a", "email": "a@example.com"},
                 "department": "d", "amount": {"value": "12500.00", "currency": "cny"}, "line_count": 3,
                 "url": "https://mica.example.com/pr/1"}
    })
}

fn field_of(body: Value) -> String {
    match parse_event(&body) {
        Err(e) => e.field,
        Ok(_) => panic!("expected an error"),
    }
}

#[test]
fn a_valid_event_parses_with_recipients_deduplicated_and_normalised() {
    let e = parse_event(&pr()).unwrap();
    assert_eq!(e.kind, EventType::PrSubmitted);
    assert_eq!(e.recipients.len(), 2);
    assert_eq!(e.recipients[1].locale, "en-US");
    assert_eq!(e.recipients[1].feishu_open_id.as_deref(), Some("ou_1"));
    assert_eq!(e.recipients[1].feishu_union_id, None);
    let Payload::Domain(DomainEvent::PrSubmitted(d)) = e.payload else {
        panic!()
    };
    assert_eq!(d.amount.currency, "CNY");
}

#[test]
fn errors_name_the_field() {
    let mut b = pr();
    b["type"] = json!("po_deleted");
    assert_eq!(field_of(b), "type");
    let mut b = pr();
    b["data"]["amount"]["value"] = json!(12500.0);
    assert_eq!(field_of(b), "data.amount.value");
    let mut b = pr();
    b["recipients"][1]["email"] = json!("not-an-email");
    assert_eq!(field_of(b), "recipients[1].email");
    let mut b = pr();
    b["recipients"][0]["locale"] = json!(42);
    assert_eq!(field_of(b), "recipients[0].locale");
    let mut b = pr();
    b["data"]["url"] = json!("javascript:alert(1)");
    assert_eq!(field_of(b), "data.url");
    let mut b = pr();
    b["data"].as_object_mut().unwrap().remove("applicant");
    assert_eq!(field_of(b), "data.applicant");
    let mut b = pr();
    b["occurred_at"] = json!("yesterday");
    assert_eq!(field_of(b), "occurred_at");
    assert_eq!(field_of(json!([1])), "body");
}

#[test]
fn payment_needs_a_submitter_and_contract_a_date() {
    let payment = json!({"id": "e", "type": "payment_pending", "occurred_at": "2026-11-25T02:14:22Z", "recipients": [],
        "data": {"payment_id": "p", "payment_number": "PAY-1", "po_number": "PO-1", "supplier": "s",
                 "amount": {"value": "1", "currency": "CNY"}, "url": "https://m.example.com/p"}});
    assert_eq!(field_of(payment), "data.submitter");
    let contract = json!({"id": "e", "type": "contract_expiring", "occurred_at": "2026-11-25T02:14:22Z", "recipients": [],
        "data": {"contract_id": "c", "contract_number": "C-1", "supplier": "s", "expiry_date": "12/01/2026",
                 "days_remaining": 3, "total_amount": {"value": "1", "currency": "CNY"},
                 "used_amount": {"value": "1", "currency": "CNY"}, "url": "https://m.example.com/c"}});
    assert_eq!(field_of(contract), "data.expiry_date");
}

#[test]
fn other_locales_fall_back_with_a_warning_instead_of_refusing_the_event() {
    let mut b = pr();
    b["recipients"][0]["locale"] = json!("zh-TW");
    b["recipients"][2]["locale"] = json!("fr_FR");
    let e = parse_event(&b).unwrap();
    assert_eq!(e.recipients[0].locale, "zh-CN");
    assert_eq!(e.recipients[1].locale, "en-US");
    assert_eq!(e.warnings.len(), 2, "{:?}", e.warnings);
    assert!(
        e.warnings[0].starts_with("recipients[0].locale: \"zh-TW\""),
        "{:?}",
        e.warnings
    );
    assert!(e.warnings[1].contains("sent in en-US"), "{:?}", e.warnings);
    // The exact tags and their usual spellings warn about nothing.
    assert!(parse_event(&pr()).unwrap().warnings.is_empty());
}

fn envelope(kind: &str, data: Value) -> Value {
    json!({"id": "evt-n", "type": kind, "occurred_at": "2026-11-25T02:14:22Z",
           "recipients": [{"email": "a@example.com"}], "data": data})
}

#[test]
fn notices_and_digests_parse_and_their_errors_name_the_field() {
    use crate::events::messages::{Message, Severity};
    let notice = envelope(
        "notice",
        json!({"category": "sla_escalation", "title": "PR-1 is late", "body": "Three days",
               "severity": "urgent", "url": "https://mica.example.com/pr/1",
               "fields": [{"label": "Stage", "value": "Finance"}]}),
    );
    let e = parse_event(&notice).unwrap();
    let Payload::Message(Message::Notice(n)) = &e.payload else {
        panic!()
    };
    assert_eq!(n.severity, Severity::Urgent);
    assert_eq!(n.fields[0].label, "Stage");
    let minimal = envelope(
        "notice",
        json!({"category": "system", "title": "Maintenance"}),
    );
    let Payload::Message(Message::Notice(n)) = parse_event(&minimal).unwrap().payload else {
        panic!()
    };
    assert_eq!(
        (n.severity, n.body.as_str(), n.url),
        (Severity::Info, "", None)
    );
    let digest = envelope(
        "digest",
        json!({"date": "2026-12-01", "url": "https://mica.example.com/",
               "sections": [{"kind": "pending", "title": "To approve", "count": 3,
                             "items": [{"title": "PR-1", "url": "https://mica.example.com/pr/1"}, {"title": "PR-2"}]}]}),
    );
    let Payload::Message(Message::Digest(d)) = parse_event(&digest).unwrap().payload else {
        panic!()
    };
    assert_eq!(d.sections[0].items[1].url, None);
    for (body, field) in [
        (envelope("notice", json!({"title": "t"})), "data.category"),
        (
            envelope("notice", json!({"category": "has space", "title": "t"})),
            "data.category",
        ),
        (
            envelope(
                "notice",
                json!({"category": "system", "title": "t", "severity": "meh"}),
            ),
            "data.severity",
        ),
        (
            envelope(
                "notice",
                json!({"category": "system", "title": "t", "url": "ftp://x"}),
            ),
            "data.url",
        ),
        (
            envelope(
                "notice",
                json!({"category": "system", "title": "t", "fields": [{"label": "l"}]}),
            ),
            "data.fields[0].value",
        ),
        (
            envelope("digest", json!({"date": "yesterday", "sections": []})),
            "data.date",
        ),
        (
            envelope(
                "digest",
                json!({"date": "2026-12-01", "sections": [{"kind": "k", "title": "t", "count": -1}]}),
            ),
            "data.sections[0].count",
        ),
        (
            envelope(
                "digest",
                json!({"date": "2026-12-01", "sections": [{"kind": "k", "title": "t", "count": 1, "items": [{"url": "https://x.example"}]}]}),
            ),
            "data.sections[0].items[0].title",
        ),
    ] {
        assert_eq!(field_of(body), field);
    }
}
