//! The five Feishu cards, rendered from a domain event in the recipient's locale.
//!
//! Cards use Feishu card JSON 2.0. Every user-supplied string is escaped for markdown by `layout`,
//! and the serialized card is kept under Feishu's size limit by shrinking free text.

pub mod i18n;
pub mod layout;
pub mod markdown;
pub mod money;
pub mod notices;

use crate::model::{
    ApprovalDecided, ContractExpiring, Decision, DomainEvent, PaymentPending, PoCreated,
    PrSubmitted,
};
use i18n::{Locale, Words, words};
use layout::{Card, CardBuilder, Colour, Limits};

/// Feishu refuses card messages over 30 KB; the card content must leave room for the rest of the
/// request (receive id, uuid, JSON string escaping).
pub const MAX_CARD_BYTES: usize = 28 * 1024;

/// The card for `event` in `locale` as the JSON text that is sent, shrinking free text until it
/// fits `MAX_CARD_BYTES`.
pub fn render_json(event: &DomainEvent, locale: Locale) -> String {
    let mut limits = Limits::DEFAULT;
    loop {
        let text = serde_json::to_string(&render_with(event, locale, limits))
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

fn render_with(event: &DomainEvent, locale: Locale, limits: Limits) -> Card {
    let w = words(locale);
    match event {
        DomainEvent::PrSubmitted(e) => pr_submitted(e, w, limits),
        DomainEvent::ApprovalDecided(e) => approval_decided(e, w, limits),
        DomainEvent::PoCreated(e) => po_created(e, w, limits),
        DomainEvent::PaymentPending(e) => payment_pending(e, w, limits),
        DomainEvent::ContractExpiring(e) => contract_expiring(e, w, limits),
    }
}

fn pr_submitted(e: &PrSubmitted, w: &Words, limits: Limits) -> Card {
    CardBuilder::new(limits, Colour::Blue, w.pr_submitted_title)
        .subtitle(&e.pr_number)
        .field(w.requisition, &e.pr_number)
        .title_field(w.title, &e.title)
        .field(w.applicant, &e.applicant.name)
        .field(w.department, &e.department)
        .fact(w.amount, &money::format(&e.amount))
        .fact(w.lines, &e.line_count.to_string())
        .link_button(w.view_requisition, &e.url)
        .finish(w.footer)
}

fn approval_decided(e: &ApprovalDecided, w: &Words, limits: Limits) -> Card {
    let (label, colour) = match e.result {
        Decision::Approved => (w.approved, Colour::Green),
        Decision::Rejected => (w.rejected, Colour::Red),
        Decision::Returned => (w.returned, Colour::Orange),
    };
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
    card.link_button(w.view_requisition, &e.url)
        .finish(w.footer)
}

fn po_created(e: &PoCreated, w: &Words, limits: Limits) -> Card {
    CardBuilder::new(limits, Colour::Turquoise, w.po_created_title)
        .subtitle(&e.po_number)
        .field(w.purchase_order, &e.po_number)
        .field(w.supplier, &e.supplier)
        .fact(w.amount, &money::format(&e.amount))
        .title_field(w.requisition, &e.pr_title)
        .link_button(w.view_order, &e.url)
        .finish(w.footer)
}

fn payment_pending(e: &PaymentPending, w: &Words, limits: Limits) -> Card {
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
    card.link_button(w.view_payment, &e.url).finish(w.footer)
}

/// Red when a week or less remains, orange otherwise.
pub fn contract_colour(days_remaining: i32) -> Colour {
    if days_remaining <= 7 {
        Colour::Red
    } else {
        Colour::Orange
    }
}

fn contract_expiring(e: &ContractExpiring, w: &Words, limits: Limits) -> Card {
    let colour = contract_colour(e.days_remaining);
    let days = if e.days_remaining <= 0 {
        w.expired.to_string()
    } else {
        w.days.replace("{n}", &e.days_remaining.to_string())
    };
    CardBuilder::new(limits, colour, w.contract_expiring_title)
        .subtitle(&e.contract_number)
        .tag(&days, colour)
        .field(w.contract, &e.contract_number)
        .field(w.supplier, &e.supplier)
        .field(w.expiry_date, &e.expiry_date)
        .fact(w.days_remaining, &days)
        .fact(w.total_amount, &money::format(&e.total_amount))
        .fact(w.used_amount, &money::format(&e.used_amount))
        .link_button(w.view_contract, &e.url)
        .finish(w.footer)
}

#[cfg(test)]
mod tests;
