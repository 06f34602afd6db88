use super::*;
use crate::model::*;
use crate::samples;
use serde_json::Value;

fn markdown_text(card: &Value) -> String {
    card["body"]["elements"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["tag"] == "markdown")
        .map(|e| e["content"].as_str().unwrap().to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

fn button_url(card: &Value) -> String {
    let button = card["body"]["elements"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["tag"] == "button")
        .expect("every card has a button");
    button["behaviors"][0]["default_url"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn every_card_is_schema_2_with_a_button_to_mica_in_both_locales() {
    for kind in samples::ALL_KINDS {
        let event = samples::event(kind);
        for locale in [Locale::ZhCn, Locale::EnUs] {
            let card = render(&event, locale);
            assert_eq!(card["schema"], "2.0");
            assert_eq!(card["config"]["update_multi"], true);
            assert!(button_url(&card).starts_with("https://mica.example.com/"));
        }
    }
}

#[test]
fn pr_card_speaks_the_recipients_language() {
    let event = samples::event(EventKind::PrSubmitted);
    let zh = render(&event, Locale::ZhCn);
    let en = render(&event, Locale::EnUs);
    assert_eq!(zh["header"]["title"]["content"], "采购申请待审批");
    assert_eq!(
        en["header"]["title"]["content"],
        "Purchase requisition submitted"
    );
    assert!(markdown_text(&zh).contains("**金额:** ¥12,500.00"));
    assert!(markdown_text(&en).contains("**Amount:** ¥12,500.00"));
    assert!(markdown_text(&en).contains("**Line items:** 3"));
}

#[test]
fn approval_colour_follows_the_decision() {
    let DomainEvent::ApprovalDecided(base) = samples::event(EventKind::ApprovalDecided) else {
        unreachable!()
    };
    for (result, template, word) in [
        (Decision::Approved, "green", "Approved"),
        (Decision::Rejected, "red", "Rejected"),
        (Decision::Returned, "orange", "Returned"),
    ] {
        let event = DomainEvent::ApprovalDecided(ApprovalDecided {
            result,
            ..base.clone()
        });
        let card = render(&event, Locale::EnUs);
        assert_eq!(card["header"]["template"], template);
        assert_eq!(
            card["header"]["title"]["content"],
            format!("Approval decision: {word}")
        );
    }
}

#[test]
fn contract_is_red_within_a_week_and_orange_otherwise() {
    let DomainEvent::ContractExpiring(base) = samples::event(EventKind::ContractExpiring) else {
        unreachable!()
    };
    for (days, template) in [
        (7, "red"),
        (1, "red"),
        (0, "red"),
        (8, "orange"),
        (30, "orange"),
    ] {
        let event = DomainEvent::ContractExpiring(ContractExpiring {
            days_remaining: days,
            ..base.clone()
        });
        assert_eq!(
            render(&event, Locale::ZhCn)["header"]["template"],
            template,
            "{days} days"
        );
    }
}

#[test]
fn user_text_cannot_inject_markdown_or_mentions() {
    let DomainEvent::PoCreated(base) = samples::event(EventKind::PoCreated) else {
        unreachable!()
    };
    let event = DomainEvent::PoCreated(PoCreated {
        supplier: "**Evil** <at id=all></at> [click](http://evil.example)".into(),
        ..base
    });
    let text = markdown_text(&render(&event, Locale::EnUs));
    assert!(!text.contains("<at"), "{text}");
    assert!(!text.contains("[click]"), "{text}");
    assert!(text.contains("&#42;&#42;Evil&#42;&#42;"), "{text}");
}

#[test]
fn huge_text_is_truncated_to_fit_feishu_limit() {
    let DomainEvent::PaymentPending(base) = samples::event(EventKind::PaymentPending) else {
        unreachable!()
    };
    let event = DomainEvent::PaymentPending(PaymentPending {
        description: Some("*".repeat(200_000)),
        supplier: "供".repeat(50_000),
        ..base
    });
    let card = render(&event, Locale::ZhCn);
    let size = serde_json::to_string(&card).unwrap().len();
    assert!(size <= MAX_CARD_BYTES, "card is {size} bytes");
    assert!(markdown_text(&card).contains('…'));
}

fn settled_json(event: &DomainEvent, settlement: &Settlement, locale: Locale) -> Value {
    serde_json::from_str(&render_settled_json(event, settlement, locale)).unwrap()
}

#[test]
fn a_settled_card_is_the_same_card_recoloured_with_who_decided_and_when() {
    let event = samples::event(EventKind::PrSubmitted);
    let settlement = Settlement::Decided(Decided {
        result: Decision::Approved,
        decider: Person {
            name: "Wang *Fang*".into(),
            email: "wang.fang@example.com".into(),
        },
        comment: Some("OK for Q4".into()),
        decided_at: "2026-11-25T10:14:22+08:00".into(),
    });
    for locale in [Locale::ZhCn, Locale::EnUs] {
        let before = render(&event, locale);
        let after = settled_json(&event, &settlement, locale);
        assert_eq!(
            after["config"]["update_multi"], true,
            "Feishu needs it in both"
        );
        assert_eq!(after["header"]["title"], before["header"]["title"]);
        assert_eq!(after["header"]["template"], "green");
        assert_eq!(button_url(&after), button_url(&before));
        let text = markdown_text(&after);
        assert!(text.contains(&markdown_text(&before)[..20]), "{text}");
        assert!(text.contains("Wang &#42;Fang&#42;"), "escaped: {text}");
        assert!(text.contains("2026-11-25 10:14 UTC+08:00"), "{text}");
        assert!(text.contains("OK for Q4"), "{text}");
    }
    let en = settled_json(&event, &settlement, Locale::EnUs);
    assert_eq!(
        en["header"]["text_tag_list"][0]["text"]["content"],
        "Approved"
    );
    let zh = settled_json(&event, &settlement, Locale::ZhCn);
    assert_eq!(
        zh["header"]["text_tag_list"][0]["text"]["content"],
        "已通过"
    );
}

#[test]
fn a_payment_card_shows_every_approval_status_and_any_card_stays_under_the_limit() {
    let payment = samples::event(EventKind::PaymentPending);
    let looks = [
        (ApprovalStatus::Approved, "green", "Approved"),
        (ApprovalStatus::Rejected, "red", "Rejected"),
        (ApprovalStatus::Canceled, "grey", "Withdrawn"),
        (ApprovalStatus::Deleted, "grey", "Deleted"),
        (ApprovalStatus::Reverted, "orange", "Revoked"),
        (ApprovalStatus::OvertimeClose, "grey", "Closed: overdue"),
        (
            ApprovalStatus::OvertimeRecover,
            "yellow",
            "Reopened after being overdue",
        ),
        (ApprovalStatus::Pending, "yellow", "Waiting for approval"),
    ];
    for (status, colour, label) in looks {
        let s = Settlement::Approval(ApprovalState {
            status,
            changed_at: "2026-11-25T02:14:22Z".into(),
        });
        let card = settled_json(&payment, &s, Locale::EnUs);
        assert_eq!(card["header"]["template"], colour, "{status:?}");
        assert_eq!(card["header"]["text_tag_list"][0]["text"]["content"], label);
        assert!(markdown_text(&card).contains(&format!("**Feishu approval:** {label}")));
    }
    // Whatever the input's size, the redrawn card still fits.
    let huge = "x".repeat(200_000);
    let big = Settlement::Decided(Decided {
        result: Decision::Rejected,
        decider: Person {
            name: huge.clone(),
            email: "a@example.com".into(),
        },
        comment: Some(huge.clone()),
        decided_at: huge.clone(),
    });
    for kind in samples::ALL_KINDS {
        let text = render_settled_json(&samples::event(kind), &big, Locale::ZhCn);
        assert!(text.len() <= MAX_CARD_BYTES, "{kind:?}: {}", text.len());
    }
}
