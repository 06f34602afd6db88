//! The five Feishu cards, rendered from a domain event in the recipient's locale, and redrawn
//! once what they asked for is settled (`settled`).
//!
//! Cards use Feishu card JSON 2.0. Every user-supplied string is escaped for markdown by `layout`,
//! and the serialized card is kept under Feishu's size limit by shrinking free text.

pub mod actions;
pub mod i18n;
pub mod layout;
pub mod markdown;
pub mod money;
pub mod notices;
pub mod settled;

use crate::model::{
    ApprovalDecided, ContractExpiring, DomainEvent, Offer, PaymentPending, PoCreated, PrSubmitted,
    Progress, Settlement,
};
use i18n::{Locale, Words, words};
use layout::{Card, CardBuilder, Colour, Limits};

/// Feishu refuses card messages over 30 KB; the card content must leave room for the rest of the
/// request (receive id, uuid, JSON string escaping).
pub const MAX_CARD_BYTES: usize = 28 * 1024;

/// The card for `event` in `locale` as the JSON text that is sent, shrinking free text until it
/// fits `MAX_CARD_BYTES`.
pub fn render_json(event: &DomainEvent, locale: Locale) -> String {
    render_fitted(event, Stage::Sent, locale)
}

/// The card for `event` redrawn to show what settled it (`settled`), the same way.
pub fn render_settled_json(event: &DomainEvent, settlement: &Settlement, locale: Locale) -> String {
    render_fitted(event, Stage::Settled(settlement), locale)
}

/// The card for `event` with decision buttons under `offer` (`actions`), the same way.
pub fn render_offer_json(event: &DomainEvent, offer: &Offer, locale: Locale) -> String {
    render_fitted(event, Stage::Offered(offer), locale)
}

/// The card for `event` redrawn to show where a decision taken on it stands (`actions`).
pub fn render_progress_json(event: &DomainEvent, progress: &Progress, locale: Locale) -> String {
    render_fitted(event, Stage::Deciding(progress), locale)
}

/// What a card shows besides its event.
#[derive(Clone, Copy)]
enum Stage<'a> {
    /// As first sent, without buttons.
    Sent,
    /// As first sent, with decision buttons.
    Offered(&'a Offer),
    /// Redrawn once its question was settled.
    Settled(&'a Settlement),
    /// Redrawn after a decision was taken on it.
    Deciding(&'a Progress),
}

fn render_fitted(event: &DomainEvent, stage: Stage, locale: Locale) -> String {
    let mut limits = Limits::DEFAULT;
    loop {
        let text = serde_json::to_string(&render_with(event, stage, locale, limits))
            .expect("a card always serializes");
        if text.len() <= MAX_CARD_BYTES || limits.long <= 32 {
            return text;
        }
        limits = limits.halved();
    }
}

/// The same card as a JSON value, for tests that look inside it.
#[cfg(test)]
pub fn render(event: &DomainEvent, locale: Locale) -> serde_json::Value {
    serde_json::from_str(&render_json(event, locale)).expect("a card is JSON")
}

/// A card's content up to its button, and the button: a settlement is drawn between the two.
struct Draft {
    card: CardBuilder,
    button: &'static str,
    url: String,
}

fn render_with(event: &DomainEvent, stage: Stage, locale: Locale, limits: Limits) -> Card {
    let w = words(locale);
    let draft = match event {
        DomainEvent::PrSubmitted(e) => pr_submitted(e, w, limits),
        DomainEvent::ApprovalDecided(e) => approval_decided(e, w, limits),
        DomainEvent::PoCreated(e) => po_created(e, w, limits),
        DomainEvent::PaymentPending(e) => payment_pending(e, w, limits),
        DomainEvent::ContractExpiring(e) => contract_expiring(e, w, limits),
    };
    let card = match stage {
        Stage::Sent => draft.card,
        // A requisition card takes decisions, a payment card links its initiator's account;
        // any other keeps its plain form.
        Stage::Offered(offer)
            if matches!(
                event,
                DomainEvent::PrSubmitted(_) | DomainEvent::PaymentPending(_)
            ) =>
        {
            actions::offer(draft.card, offer, locale)
        }
        Stage::Offered(_) => draft.card,
        Stage::Settled(s) => settled::draw(draft.card, s, w),
        Stage::Deciding(p) => actions::draw(draft.card, p, w, locale),
    };
    card.link_button(draft.button, &draft.url).finish(w.footer)
}

fn pr_submitted(e: &PrSubmitted, w: &Words, limits: Limits) -> Draft {
    let card = CardBuilder::new(limits, Colour::Blue, w.pr_submitted_title)
        .subtitle(&e.pr_number)
        .field(w.requisition, &e.pr_number)
        .title_field(w.title, &e.title)
        .field(w.applicant, &e.applicant.name)
        .field(w.department, &e.department)
        .fact(w.amount, &money::format(&e.amount))
        .fact(w.lines, &e.line_count.to_string());
    Draft {
        card,
        button: w.view_requisition,
        url: e.url.clone(),
    }
}

fn approval_decided(e: &ApprovalDecided, w: &Words, limits: Limits) -> Draft {
    let (label, colour) = settled::decision_look(e.result, w);
    let title = format!("{}: {label}", w.approval_title);
    let mut card = CardBuilder::new(limits, colour, &title)
        .subtitle(&e.pr_number)
        .tag(label, colour)
        .field(w.requisition, &e.pr_number)
        .title_field(w.title, &e.title)
        .field(w.decider, &e.decider.name)
        .fact(w.result, label);
    if let Some(comment) = e.comment.as_deref().filter(|c| !c.trim().is_empty()) {
        card = card.paragraph(w.comment, comment);
    }
    Draft {
        card,
        button: w.view_requisition,
        url: e.url.clone(),
    }
}

fn po_created(e: &PoCreated, w: &Words, limits: Limits) -> Draft {
    let card = CardBuilder::new(limits, Colour::Turquoise, w.po_created_title)
        .subtitle(&e.po_number)
        .field(w.purchase_order, &e.po_number)
        .field(w.supplier, &e.supplier)
        .fact(w.amount, &money::format(&e.amount))
        .title_field(w.requisition, &e.pr_title);
    Draft {
        card,
        button: w.view_order,
        url: e.url.clone(),
    }
}

fn payment_pending(e: &PaymentPending, w: &Words, limits: Limits) -> Draft {
    let mut card = CardBuilder::new(limits, Colour::Yellow, w.payment_pending_title)
        .subtitle(&e.payment_number)
        .field(w.payment, &e.payment_number)
        .field(w.purchase_order, &e.po_number)
        .field(w.supplier, &e.supplier)
        .fact(w.amount, &money::format(&e.amount));
    if let Some(due) = e.due_date.as_deref().filter(|d| !d.trim().is_empty()) {
        card = card.field(w.due_date, due);
    }
    if let Some(text) = e.description.as_deref().filter(|d| !d.trim().is_empty()) {
        card = card.paragraph(w.description, text);
    }
    Draft {
        card,
        button: w.view_payment,
        url: e.url.clone(),
    }
}

/// Red when a week or less remains, orange otherwise.
pub fn contract_colour(days_remaining: i32) -> Colour {
    if days_remaining <= 7 {
        Colour::Red
    } else {
        Colour::Orange
    }
}

fn contract_expiring(e: &ContractExpiring, w: &Words, limits: Limits) -> Draft {
    let colour = contract_colour(e.days_remaining);
    let days = if e.days_remaining <= 0 {
        w.expired.to_string()
    } else {
        w.days.replace("{n}", &e.days_remaining.to_string())
    };
    let card = CardBuilder::new(limits, colour, w.contract_expiring_title)
        .subtitle(&e.contract_number)
        .tag(&days, colour)
        .field(w.contract, &e.contract_number)
        .field(w.supplier, &e.supplier)
        .field(w.expiry_date, &e.expiry_date)
        .fact(w.days_remaining, &days)
        .fact(w.total_amount, &money::format(&e.total_amount))
        .fact(w.used_amount, &money::format(&e.used_amount));
    Draft {
        card,
        button: w.view_contract,
        url: e.url.clone(),
    }
}

#[cfg(test)]
mod tests;
