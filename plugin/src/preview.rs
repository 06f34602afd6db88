//! The card a recipient would receive, without sending it: the admin console's preview. `notify`
//! renders through the same function, so a preview cannot drift from what is sent.

use crate::cards::{self, i18n::Locale};
use crate::model::{DomainEvent, Message, Offer, Progress, Settlement};

/// The interactive card for `event` as a reader in `locale` (Mica's tag, e.g. "en-US") sees it,
/// as the JSON text that is sent and that the `previews.render` export returns.
pub fn card_json(event: &DomainEvent, locale: &str) -> String {
    cards::render_json(event, Locale::from_tag(locale))
}

/// The card for a notice or a digest, the same way (the `notices.render` export returns it).
pub fn message_card_json(message: &Message, locale: &str) -> String {
    cards::notices::render_json(message, Locale::from_tag(locale))
}

/// The card for `event` redrawn to show `settlement` (the `card-updates.render` export returns it,
/// and `card-updates.update` sends it).
pub fn settled_card_json(event: &DomainEvent, settlement: &Settlement, locale: &str) -> String {
    cards::render_settled_json(event, settlement, Locale::from_tag(locale))
}

/// The card for `event` with decision buttons under `offer` (`card-actions.notify` sends it).
pub fn offer_card_json(event: &DomainEvent, offer: &Offer, locale: &str) -> String {
    cards::render_offer_json(event, offer, Locale::from_tag(locale))
}

/// The card for `event` redrawn to show where a decision taken on it stands (`card-actions`).
pub fn progress_card_json(event: &DomainEvent, progress: &Progress, locale: &str) -> String {
    cards::render_progress_json(event, progress, Locale::from_tag(locale))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::samples::{ALL_KINDS, event};
    use serde_json::Value;

    #[test]
    fn previews_every_kind_in_both_locales_with_localised_headers() {
        for kind in ALL_KINDS {
            let zh: Value = serde_json::from_str(&card_json(&event(kind), "zh-CN")).unwrap();
            let en: Value = serde_json::from_str(&card_json(&event(kind), "en-US")).unwrap();
            assert_eq!(zh["schema"], "2.0", "{kind:?}");
            let zh_title = zh["header"]["title"]["content"].as_str().unwrap();
            let en_title = en["header"]["title"]["content"].as_str().unwrap();
            assert_ne!(
                zh_title, en_title,
                "{kind:?} titles should differ by locale"
            );
            assert!(en_title.is_ascii(), "{kind:?}: {en_title}");
        }
    }
}
