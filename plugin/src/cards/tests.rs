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
