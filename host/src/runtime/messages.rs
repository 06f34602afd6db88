//! The host's notices and digests (`events::messages`) as the `notices` interface (mica:plugin
//! 0.1.2) has them: the bindings stay here, at the runtime's edge.

use super::bindings::notices as wit;
use crate::events::messages::{Message, Severity};

pub fn message(m: &Message) -> wit::Message {
    match m {
        Message::Notice(n) => wit::Message::Notice(wit::Notice {
            category: n.category.clone(),
            title: n.title.clone(),
            body: n.body.clone(),
            url: n.url.clone(),
            severity: match n.severity {
                Severity::Info => wit::Severity::Info,
                Severity::Warning => wit::Severity::Warning,
                Severity::Urgent => wit::Severity::Urgent,
            },
            fields: n
                .fields
                .iter()
                .map(|f| wit::NoticeField {
                    label: f.label.clone(),
                    value: f.value.clone(),
                })
                .collect(),
        }),
        Message::Digest(d) => wit::Message::Digest(wit::Digest {
            date: d.date.clone(),
            url: d.url.clone(),
            sections: d
                .sections
                .iter()
                .map(|s| wit::DigestSection {
                    kind: s.kind.clone(),
                    title: s.title.clone(),
                    count: s.count,
                    items: s
                        .items
                        .iter()
                        .map(|i| wit::DigestItem {
                            title: i.title.clone(),
                            url: i.url.clone(),
                        })
                        .collect(),
                })
                .collect(),
        }),
    }
}
