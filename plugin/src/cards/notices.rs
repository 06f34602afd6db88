//! The cards for Mica's notices and daily digests. Whatever the input's size, the card fits
//! Feishu's limit: text is shortened and lists are folded into "and N more", visibly, rather than
//! the card being refused.

use super::MAX_CARD_BYTES;
use super::i18n::{Locale, Words, words};
use super::layout::{Card, CardBuilder, Colour, Limits};
use crate::model::{Digest, Message, Notice};

/// The card for `message` in `locale`, as the JSON text that is sent.
pub fn render_json(message: &Message, locale: Locale) -> String {
    let mut limits = Limits::DEFAULT;
    loop {
        let card = match message {
            Message::Notice(n) => notice(n, words(locale), limits),
            Message::Digest(d) => digest(d, words(locale), limits),
        };
        let text = serde_json::to_string(&card).expect("a card always serializes");
        if text.len() <= MAX_CARD_BYTES || limits.smallest() {
            return text;
        }
        limits = limits.halved();
    }
}

/// The tag a category shows: Mica's own kinds in the reader's words, any other by its name.
fn category_label<'a>(category: &'a str, w: &'a Words) -> &'a str {
    match category {
        "approval_reminder" => w.approval_reminder,
        "sla_escalation" => w.sla_escalation,
        "price_anomaly" => w.price_anomaly,
        "system" => w.system_notice,
        other => other,
    }
}

/// A URL a markdown link may carry: http(s), bounded, and nothing that would end the link early.
fn link(url: Option<&str>) -> Option<String> {
    let url = url?.trim();
    let scheme = url.starts_with("https://") || url.starts_with("http://");
    let plain = url
        .chars()
        .all(|c| c.is_ascii_graphic() && !matches!(c, '(' | ')' | '<' | '>' | '[' | ']' | '"'));
    (scheme && plain && url.len() <= 2000).then(|| url.to_string())
}

fn more(w: &Words, n: usize) -> String {
    w.and_more.replace("{n}", &n.to_string())
}

fn notice(n: &Notice, w: &Words, limits: Limits) -> Card {
    let colour = Colour::of(n.severity);
    let category: String = category_label(n.category.trim(), w)
        .chars()
        .take(40)
        .collect();
    let mut card = CardBuilder::new(limits, colour, &n.title).tag(&category, colour);
    card = card.text(&n.body);
    for f in n.fields.iter().take(limits.items) {
        card = card.user_field(&f.label, &f.value);
    }
    if n.fields.len() > limits.items {
        card = card.note(&more(w, n.fields.len() - limits.items));
    }
    if let Some(url) = n.url.as_deref().filter(|u| !u.trim().is_empty()) {
        card = card.link_button(w.open_in_mica, url);
    }
    card.finish(w.footer)
}

fn digest(d: &Digest, w: &Words, limits: Limits) -> Card {
    let title = w.digest_title.replace("{date}", d.date.trim());
    let mut card = CardBuilder::new(limits, Colour::Blue, &title);
    let per_section = (limits.items / 4).max(1);
    let shown: Vec<_> = d
        .sections
        .iter()
        .filter(|s| s.count > 0 || !s.items.is_empty())
        .collect();
    if shown.is_empty() {
        card = card.text(w.digest_empty);
    }
    for s in shown.iter().take(limits.items) {
        let entries: Vec<(String, Option<String>)> = s
            .items
            .iter()
            .take(per_section)
            .map(|i| (i.title.clone(), link(i.url.as_deref())))
            .collect();
        // The count is what Mica says there is; the list may hold fewer than it.
        let total = (s.count as usize).max(s.items.len());
        let folded = total.saturating_sub(entries.len());
        card = card.list(
            s.title.trim(),
            total,
            &entries,
            (folded > 0).then(|| more(w, folded)),
        );
    }
    if shown.len() > limits.items {
        card = card.note(&more(w, shown.len() - limits.items));
    }
    if let Some(url) = d.url.as_deref().filter(|u| !u.trim().is_empty()) {
        card = card.link_button(w.open_dashboard, url);
    }
    card.finish(w.footer)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{DigestItem, DigestSection, NoticeField, Severity};
    use serde_json::Value;

    fn parse(text: &str) -> Value {
        serde_json::from_str(text).unwrap()
    }

    fn notice_of(category: &str, severity: Severity) -> Message {
        Message::Notice(Notice {
            category: category.into(),
            title: "PR-2026-0042 waits for you".into(),
            body: "**Laptops** <at id=all></at> need your approval\nsince 3 days".into(),
            url: Some("https://mica.example.com/pr/1".into()),
            severity,
            fields: vec![NoticeField {
                label: "Stage*".into(),
                value: "Finance [2/3]".into(),
            }],
        })
    }

    fn text_of(card: &Value) -> String {
        card["body"]["elements"].to_string()
    }

    #[test]
    fn every_category_and_severity_in_both_locales() {
        for (category, zh, en) in [
            ("approval_reminder", "审批提醒", "Approval reminder"),
            ("sla_escalation", "超时升级", "SLA escalation"),
            ("price_anomaly", "价格异常", "Price anomaly"),
            ("system", "系统通知", "System notice"),
            ("budget_watch", "budget_watch", "budget_watch"),
        ] {
            for (severity, colour) in [
                (Severity::Info, "blue"),
                (Severity::Warning, "orange"),
                (Severity::Urgent, "red"),
            ] {
                for (locale, tag, button) in [
                    (Locale::ZhCn, zh, "在 Mica 中查看"),
                    (Locale::EnUs, en, "Open in Mica"),
                ] {
                    let card = parse(&render_json(&notice_of(category, severity), locale));
                    assert_eq!(card["header"]["template"], colour);
                    assert_eq!(card["header"]["text_tag_list"][0]["text"]["content"], tag);
                    assert_eq!(
                        card["header"]["title"]["content"],
                        "PR-2026-0042 waits for you"
                    );
                    let body = text_of(&card);
                    assert!(body.contains(button), "{body}");
                    // User text is escaped: no bold, no @all, no link from the body or fields.
                    assert!(!body.contains("**Laptops**"), "{body}");
                    assert!(!body.contains("<at"), "{body}");
                    assert!(body.contains("Stage&#42;"), "{body}");
                }
            }
        }
    }

    #[test]
    fn oversized_notices_and_digests_fit_and_say_what_was_left_out() {
        let huge = Message::Notice(Notice {
            category: "system".into(),
            title: "t".repeat(20_000),
            body: "长".repeat(20_000),
            url: Some(format!("https://mica.example.com/{}", "a".repeat(15_000))),
            severity: Severity::Urgent,
            fields: (0..1000)
                .map(|i| NoticeField {
                    label: format!("label {i} {}", "x".repeat(500)),
                    value: "v".repeat(5000),
                })
                .collect(),
        });
        for locale in [Locale::ZhCn, Locale::EnUs] {
            let text = render_json(&huge, locale);
            assert!(text.len() <= MAX_CARD_BYTES, "{} bytes", text.len());
            let card = parse(&text);
            let body = text_of(&card);
            assert!(body.contains("…"), "long text is cut visibly");
            let folded = if locale == Locale::EnUs {
                " more"
            } else {
                "还有 "
            };
            assert!(
                body.contains(folded),
                "the fields left out are counted: {body}"
            );
        }
        let digest = Message::Digest(Digest {
            date: "2026-12-01".into(),
            url: Some("https://mica.example.com/dashboard".into()),
            sections: (0..200)
                .map(|s| DigestSection {
                    kind: format!("k{s}"),
                    title: format!("Section {s} {}", "s".repeat(300)),
                    count: 5000,
                    items: (0..500)
                        .map(|i| DigestItem {
                            title: format!("Item {i} {}", "i".repeat(300)),
                            url: Some(format!(
                                "https://mica.example.com/{s}/{i}/{}",
                                "u".repeat(1900)
                            )),
                        })
                        .collect(),
                })
                .collect(),
        });
        let text = render_json(&digest, Locale::EnUs);
        assert!(text.len() <= MAX_CARD_BYTES, "{} bytes", text.len());
        let body = text_of(&parse(&text));
        assert!(
            body.contains("(5000)"),
            "each section shows its count: {body}"
        );
        assert!(body.contains(" more"), "items left out are counted: {body}");
        assert!(body.contains("Open the Mica dashboard"), "{body}");
    }

    #[test]
    fn a_digest_lists_first_items_with_links_and_folds_the_rest() {
        let digest = Message::Digest(Digest {
            date: "2026-12-01".into(),
            url: Some("https://mica.example.com/dashboard".into()),
            sections: vec![
                DigestSection {
                    kind: "pending_approvals".into(),
                    title: "Waiting for your approval".into(),
                    count: 7,
                    items: (1..=7)
                        .map(|i| DigestItem {
                            title: format!("PR-{i}"),
                            url: Some(format!("https://mica.example.com/pr/{i}")),
                        })
                        .collect(),
                },
                DigestSection {
                    kind: "empty".into(),
                    title: "Nothing here".into(),
                    count: 0,
                    items: vec![],
                },
                DigestSection {
                    kind: "unsafe".into(),
                    title: "Odd links".into(),
                    count: 1,
                    items: vec![DigestItem {
                        title: "click".into(),
                        url: Some("javascript:alert(1)".into()),
                    }],
                },
            ],
        });
        let card = parse(&render_json(&digest, Locale::EnUs));
        assert_eq!(
            card["header"]["title"]["content"],
            "Daily digest for 2026-12-01"
        );
        let body = text_of(&card);
        assert!(body.contains("**Waiting for your approval** (7)"), "{body}");
        assert!(
            body.contains("[PR-1](https://mica.example.com/pr/1)"),
            "{body}"
        );
        assert!(
            body.contains("[PR-5](https://mica.example.com/pr/5)"),
            "{body}"
        );
        assert!(!body.contains("PR-6"), "{body}");
        assert!(body.contains("and 2 more"), "{body}");
        assert!(
            !body.contains("Nothing here"),
            "empty sections are left out: {body}"
        );
        assert!(!body.contains("javascript"), "only http(s) links: {body}");
        assert!(body.contains("Open the Mica dashboard"), "{body}");
        let empty = Message::Digest(Digest {
            date: "2026-12-01".into(),
            url: None,
            sections: vec![],
        });
        let body = text_of(&parse(&render_json(&empty, Locale::ZhCn)));
        assert!(body.contains("今天没有需要关注的事项"), "{body}");
    }
}
