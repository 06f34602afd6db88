//! A sent card redrawn once its question is settled: the same card, recoloured, with a tag saying
//! how it ended, and who decided and when. Feishu replaces the whole card on an update, so the
//! redrawn card is the original plus these lines, never a different card.

use super::i18n::Words;
use super::layout::{CardBuilder, Colour};
use crate::model::{ApprovalStatus, Decision, Settlement};

/// The label and colour of a decision (the decided card and the redrawn requisition card agree).
pub fn decision_look(result: Decision, w: &Words) -> (&'static str, Colour) {
    match result {
        Decision::Approved => (w.approved, Colour::Green),
        Decision::Rejected => (w.rejected, Colour::Red),
        Decision::Returned => (w.returned, Colour::Orange),
    }
}

/// The label and colour of a payment approval's status.
pub fn approval_look(status: ApprovalStatus, w: &Words) -> (&'static str, Colour) {
    match status {
        ApprovalStatus::Pending => (w.status_pending, Colour::Yellow),
        ApprovalStatus::Approved => (w.approved, Colour::Green),
        ApprovalStatus::Rejected => (w.rejected, Colour::Red),
        ApprovalStatus::Canceled => (w.status_canceled, Colour::Grey),
        ApprovalStatus::Deleted => (w.status_deleted, Colour::Grey),
        ApprovalStatus::Reverted => (w.status_reverted, Colour::Orange),
        ApprovalStatus::OvertimeClose => (w.status_overtime_close, Colour::Grey),
        ApprovalStatus::OvertimeRecover => (w.status_overtime_recover, Colour::Yellow),
    }
}

/// `card` (everything above its button) with the settlement drawn in.
pub fn draw(card: CardBuilder, settlement: &Settlement, w: &Words) -> CardBuilder {
    match settlement {
        Settlement::Decided(d) => {
            let (label, colour) = decision_look(d.result, w);
            let mut card = card
                .restyle(colour, label)
                .fact(w.result, label)
                .field(w.decider, &d.decider.name)
                .field(w.decided_at, &display_time(&d.decided_at));
            if let Some(comment) = d.comment.as_deref().filter(|c| !c.trim().is_empty()) {
                card = card.paragraph(w.comment, comment);
            }
            card
        }
        Settlement::Approval(a) => {
            let (label, colour) = approval_look(a.status, w);
            card.restyle(colour, label)
                .fact(w.approval_status, label)
                .field(w.changed_at, &display_time(&a.changed_at))
        }
    }
}

/// "2026-11-25T02:14:22Z" as "2026-11-25 02:14 UTC", an offset kept as given ("+08:00"): the
/// reader's time zone is not known, so the zone is always said. Anything else is shown as it is.
pub fn display_time(iso: &str) -> String {
    let iso = iso.trim();
    let (Some(date), Some(time)) = (iso.get(..10), iso.get(11..16)) else {
        return iso.to_string();
    };
    let well_formed = iso
        .as_bytes()
        .get(10)
        .is_some_and(|b| *b == b'T' || *b == b' ')
        && date.bytes().enumerate().all(|(i, b)| match i {
            4 | 7 => b == b'-',
            _ => b.is_ascii_digit(),
        })
        && time.bytes().enumerate().all(|(i, b)| match i {
            2 => b == b':',
            _ => b.is_ascii_digit(),
        });
    if !well_formed {
        return iso.to_string();
    }
    let rest = &iso[16..];
    let zone = match rest.rfind(['Z', 'z', '+', '-']) {
        Some(i) if matches!(&rest[i..], "Z" | "z") => "UTC".to_string(),
        Some(i) if rest[i..].len() == 6 => format!("UTC{}", &rest[i..]),
        _ => return format!("{date} {time}"),
    };
    format!("{date} {time} {zone}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_show_their_zone_and_odd_input_passes_through() {
        assert_eq!(display_time("2026-11-25T02:14:22Z"), "2026-11-25 02:14 UTC");
        assert_eq!(
            display_time("2026-11-25T10:14:22.123+08:00"),
            "2026-11-25 10:14 UTC+08:00"
        );
        assert_eq!(display_time("2026-11-25T10:14"), "2026-11-25 10:14");
        assert_eq!(display_time("yesterday"), "yesterday");
        assert_eq!(display_time("2026-11-25X10:14:00Z"), "2026-11-25X10:14:00Z");
        assert_eq!(
            display_time("日日日日-11-25T10:14:00Z"),
            "日日日日-11-25T10:14:00Z"
        );
    }
}
