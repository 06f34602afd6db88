//! Decisions on the card: the requisition card with its comment box and Approve / Reject buttons,
//! the card redrawn as the decision taken on it reaches Mica, and the toasts a click is answered
//! with. The words live here rather than in `i18n::Words`: only these cards use them.

use super::i18n::{Locale, Words};
use super::layout::{ButtonValue, CardBuilder, Colour, DecisionButton};
use super::settled;
use crate::model::{Action, Decided, Offer, Progress, Refusal, Settlement, Taken};

/// The form field the comment box submits as (`form_value.comment` in the callback).
pub const COMMENT_FIELD: &str = "comment";

/// The words of decision cards and their toasts.
pub struct ActionWords {
    pub approve: &'static str,
    pub reject: &'static str,
    pub link_account: &'static str,
    pub link_line: &'static str,
    pub linked_tag: &'static str,
    pub linked_line: &'static str,
    pub toast_linked: &'static str,
    pub comment_placeholder: &'static str,
    pub recorded_tag: &'static str,
    pub recorded_line: &'static str,
    pub your_decision: &'static str,
    pub not_applied_tag: &'static str,
    pub reason: &'static str,
    pub toast_recorded: &'static str,
    pub toast_applied: &'static str,
    pub toast_refused: &'static str,
    pub toast_forged: &'static str,
    pub toast_not_yours: &'static str,
    pub toast_not_actionable: &'static str,
}

const ZH: ActionWords = ActionWords {
    approve: "通过",
    reject: "驳回",
    link_account: "关联我的飞书账号",
    link_line: "飞书审批需要知道你的飞书账号：点击下方按钮关联一次，付款审批会自动发起。",
    linked_tag: "已关联",
    linked_line: "你的飞书账号已关联，付款审批正在发起。",
    toast_linked: "飞书账号已关联",
    comment_placeholder: "审批意见（选填）",
    recorded_tag: "正在提交",
    recorded_line: "你的审批决定已记录，正在提交到 Mica；Mica 确认后此卡片会更新。",
    your_decision: "你的决定",
    not_applied_tag: "未生效",
    reason: "原因",
    toast_recorded: "已记录，正在提交到 Mica",
    toast_applied: "Mica 已采纳你的审批决定",
    toast_refused: "Mica 未采纳此决定",
    toast_forged: "此按钮无效，未做任何操作",
    toast_not_yours: "此卡片是发给其他人的，只有收件人可以在此审批",
    toast_not_actionable: "此卡片已不能审批，请在 Mica 中打开申请",
};

const EN: ActionWords = ActionWords {
    approve: "Approve",
    reject: "Reject",
    link_account: "Link my Feishu account",
    link_line: "Feishu's approval app needs to know your Feishu account: press the button once to link it, and the payment's approval starts by itself.",
    linked_tag: "Linked",
    linked_line: "Your Feishu account is linked; the payment's approval is starting.",
    toast_linked: "Your Feishu account is linked",
    comment_placeholder: "Comment (optional)",
    recorded_tag: "Sending to Mica",
    recorded_line: "Your decision is recorded and on its way to Mica; this card changes once Mica confirms it.",
    your_decision: "Your decision",
    not_applied_tag: "Not applied",
    reason: "Reason",
    toast_recorded: "Recorded: sending your decision to Mica",
    toast_applied: "Mica applied your decision",
    toast_refused: "Mica did not apply this decision",
    toast_forged: "This button is not valid; nothing was done",
    toast_not_yours: "This card was sent to someone else: only they can decide here",
    toast_not_actionable: "This card no longer takes decisions: open the requisition in Mica",
};

pub fn action_words(locale: Locale) -> &'static ActionWords {
    match locale {
        Locale::ZhCn => &ZH,
        Locale::EnUs => &EN,
    }
}

/// One button per offered action, each carrying the seal unchanged, with a comment box when a
/// button decides, or the line that says why to link when one links an account.
pub fn offer(card: CardBuilder, offer: &Offer, locale: Locale) -> CardBuilder {
    if offer.actions.is_empty() {
        return card;
    }
    let a = action_words(locale);
    let decides = offer.actions.iter().any(|x| x.decides());
    let card = if decides {
        card
    } else {
        card.note(a.link_line)
    };
    let buttons = offer
        .actions
        .iter()
        .map(|action| {
            let (label, style) = match action {
                Action::Approve => (a.approve, "primary"),
                Action::Reject => (a.reject, "danger"),
                Action::LinkAccount => (a.link_account, "primary"),
            };
            DecisionButton {
                label,
                style,
                value: ButtonValue {
                    seal: offer.seal.clone(),
                    action: action.as_str(),
                },
            }
        })
        .collect();
    let comment = decides.then_some((COMMENT_FIELD, a.comment_placeholder));
    card.decision_form(comment, buttons)
}

/// The card once a decision was taken on it: no buttons, and where the decision stands.
pub fn draw(card: CardBuilder, progress: &Progress, w: &Words, locale: Locale) -> CardBuilder {
    let a = action_words(locale);
    match progress {
        Progress::Recorded(t) => {
            let (label, _) = settled::decision_look(t.result, w);
            card.restyle(Colour::Blue, a.recorded_tag)
                .fact(a.your_decision, label)
                .field(w.decided_at, &settled::display_time(&t.decided_at))
                .note(a.recorded_line)
        }
        Progress::Applied(t) => settled::draw(card, &decided(t), w),
        Progress::Refused { taken, reason } => {
            let (label, _) = settled::decision_look(taken.result, w);
            card.restyle(Colour::Grey, a.not_applied_tag)
                .fact(a.your_decision, label)
                .field(w.decided_at, &settled::display_time(&taken.decided_at))
                .paragraph(a.reason, reason)
        }
        Progress::Linked => card
            .restyle(Colour::Green, a.linked_tag)
            .note(a.linked_line),
    }
}

fn decided(t: &Taken) -> Settlement {
    Settlement::Decided(Decided {
        result: t.result,
        decider: t.decider.clone(),
        comment: t.comment.clone(),
        decided_at: t.decided_at.clone(),
    })
}

/// A toast's kind, as Feishu names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ToastKind {
    Success,
    Warning,
    Error,
}

impl ToastKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ToastKind::Success => "success",
            ToastKind::Warning => "warning",
            ToastKind::Error => "error",
        }
    }
}

/// The toast a click is answered with, once the host took it.
pub fn progress_toast(progress: &Progress, locale: Locale) -> (ToastKind, &'static str) {
    let a = action_words(locale);
    match progress {
        Progress::Recorded(_) => (ToastKind::Success, a.toast_recorded),
        Progress::Applied(_) => (ToastKind::Success, a.toast_applied),
        Progress::Refused { .. } => (ToastKind::Warning, a.toast_refused),
        Progress::Linked => (ToastKind::Success, a.toast_linked),
    }
}

/// The toast a click is answered with when the host did not take it.
pub fn refusal_toast(why: Refusal, locale: Locale) -> (ToastKind, &'static str) {
    let a = action_words(locale);
    match why {
        Refusal::Forged => (ToastKind::Error, a.toast_forged),
        Refusal::NotYours => (ToastKind::Error, a.toast_not_yours),
        Refusal::NotActionable => (ToastKind::Warning, a.toast_not_actionable),
    }
}
