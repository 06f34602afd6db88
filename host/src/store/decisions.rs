//! Decisions taken on cards (`crate::actions`): one per card, stored with the notice that relays
//! it to Mica in one transaction, and Mica's answer stored with the redraw that shows it.

use super::db::{Conn, OptionalExt, params};
use super::{DeliveryStatus, Store, now_ms, rfc3339};
use crate::delivery::redraw::{Settlement, redraw_id};
use crate::delivery::{Class, Kind};
use crate::domain::{Clicker, Decision, Person, Progress, Taken};
use serde::Serialize;
use serde_json::json;

/// The card a click names, as the store has it.
#[derive(Clone, Debug)]
pub struct ClickedCard {
    pub event_id: String,
    pub kind: String,
    pub status: DeliveryStatus,
    /// The stored recipient (JSON).
    pub recipient: String,
    pub event_type: String,
    /// The requisition's id, for a requisition's card.
    pub pr_id: Option<String>,
}

/// A click to record as the card's decision.
pub struct NewDecision<'a> {
    pub delivery_id: &'a str,
    pub click_id: &'a str,
    pub pr_id: &'a str,
    pub decision: Decision,
    pub comment: Option<&'a str>,
    pub decider: &'a Person,
    pub clicker: &'a Clicker,
}

/// Where a card's decision stands, as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredDecision {
    pub progress: Progress,
    /// The presser's Feishu open_id.
    pub open_id: String,
}

/// What Mica said of a decision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MicaAnswer {
    Applied,
    Refused(String),
}

/// Where a card's decision stands (the `stage` column).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DecisionStage {
    /// Stored, its notice on its way to Mica or waiting for Mica's answer.
    Recorded,
    Applied,
    Refused,
}

impl DecisionStage {
    pub fn as_str(self) -> &'static str {
        match self {
            DecisionStage::Recorded => RECORDED,
            DecisionStage::Applied => APPLIED,
            DecisionStage::Refused => REFUSED,
        }
    }

    pub fn parse(s: &str) -> Option<DecisionStage> {
        [
            DecisionStage::Recorded,
            DecisionStage::Applied,
            DecisionStage::Refused,
        ]
        .into_iter()
        .find(|d| d.as_str() == s)
    }
}

/// A decision as the API lists it.
#[derive(Clone, Debug, Serialize)]
pub struct DecisionRow {
    pub delivery_id: String,
    pub pr_id: String,
    pub decision: &'static str,
    pub comment: Option<String>,
    pub decider_email: String,
    pub feishu_open_id: String,
    pub stage: Option<DecisionStage>,
    pub reason: Option<String>,
    pub decided_at: String,
    pub updated_at: String,
    /// Attempts at the notice to Mica so far, and the last one's error (Mica down, refusing).
    pub notice_attempts: i64,
    pub notice_error: Option<String>,
}

/// The stage column's words.
const RECORDED: &str = "recorded";
const APPLIED: &str = "applied";
const REFUSED: &str = "refused";

/// A decision's name, as stored and as Mica reads it in the notice.
fn decision_name(d: Decision) -> &'static str {
    match d {
        Decision::Approved => "approved",
        Decision::Rejected => "rejected",
        Decision::Returned => "returned",
    }
}

fn decision_from(s: &str) -> Decision {
    match s {
        "rejected" => Decision::Rejected,
        "returned" => Decision::Returned,
        _ => Decision::Approved,
    }
}

/// The `pr.decision` notice Mica receives (README, "Notices to Mica").
fn notice_body(d: &NewDecision, decided_at_ms: i64) -> String {
    json!({
        "type": "pr.decision",
        "pr_id": d.pr_id,
        "decision": decision_name(d.decision),
        "comment": d.comment,
        "decider": {
            "email": d.decider.email,
            "name": d.decider.name,
            "feishu_open_id": d.clicker.open_id,
            "feishu_union_id": d.clicker.union_id,
        },
        "delivery_id": d.delivery_id,
        "decided_at": rfc3339(decided_at_ms),
    })
    .to_string()
}

impl Store {
    /// The card (delivery) a verified seal names.
    pub fn clicked_card(&self, delivery_id: &str) -> anyhow::Result<Option<ClickedCard>> {
        self.read(|c, _| {
            c.query_row(
                "SELECT d.event_id, d.kind, d.status, d.recipient, e.type, e.subject
                     FROM deliveries d JOIN events e ON e.id = d.event_id WHERE d.id = ?1",
                [delivery_id],
                |row| {
                    let subject: Option<String> = row.get(5)?;
                    Ok(ClickedCard {
                        event_id: row.get(0)?,
                        kind: row.get(1)?,
                        status: DeliveryStatus::parse(&row.get::<String>(2)?),
                        recipient: row.get(3)?,
                        event_type: row.get(4)?,
                        pr_id: subject.and_then(|s| s.strip_prefix("pr:").map(str::to_string)),
                    })
                },
            )
            .optional()
        })
    }

    /// Record `d` as its card's decision and queue its notice to Mica, unless the card has one
    /// already. Returns the card's decision (this one, or the first) and whether it is new.
    pub fn record_decision(&self, d: &NewDecision) -> anyhow::Result<(StoredDecision, bool)> {
        self.with(|c| {
            let mut tx = super::write_transaction(c)?;
            let now = now_ms();
            let fresh = tx.execute(
                "INSERT INTO card_decisions (delivery_id, click_id, pr_id, decision, comment,
                    decider_email, decider_name, open_id, union_id, stage, decided_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?11)
                 ON CONFLICT DO NOTHING",
                params![
                    d.delivery_id,
                    d.click_id,
                    d.pr_id,
                    decision_name(d.decision),
                    d.comment,
                    d.decider.email,
                    d.decider.name,
                    d.clicker.open_id,
                    d.clicker.union_id,
                    RECORDED,
                    now
                ],
            )? == 1;
            if fresh {
                tx.execute(
                    "INSERT INTO callbacks (body, subject, decision_of, status, next_attempt_at, created_at, updated_at)
                     VALUES (?1, ?2, ?3, 'pending', ?4, ?4, ?4)",
                    params![
                        notice_body(d, now),
                        format!("pr:{}", d.pr_id),
                        d.delivery_id,
                        now
                    ],
                )?;
            }
            let stored = decision_in(&mut tx, d.delivery_id)?
                .ok_or_else(|| anyhow::anyhow!("the decision just written is not there"))?;
            tx.commit()?;
            Ok((stored, fresh))
        })
    }

    /// Decisions, newest first: of one requisition, in one stage, or all.
    pub fn card_decisions(
        &self,
        pr_id: Option<&str>,
        stage: Option<DecisionStage>,
        limit: usize,
    ) -> anyhow::Result<Vec<DecisionRow>> {
        self.with(|c| {
            let rows = c.query_map("SELECT d.delivery_id, d.pr_id, d.decision, d.comment, d.decider_email, d.open_id,
                    d.stage, d.reason, d.decided_at, d.updated_at,
                    COALESCE(n.attempts, 0), n.last_error
                 FROM card_decisions d LEFT JOIN callbacks n ON n.decision_of = d.delivery_id
                 WHERE (CAST(?1 AS TEXT) IS NULL OR d.pr_id = ?1) AND (CAST(?2 AS TEXT) IS NULL OR d.stage = ?2)
                 ORDER BY d.decided_at DESC, d.delivery_id LIMIT ?3", 
                params![pr_id, stage.map(DecisionStage::as_str), limit as i64],
                |r| {
                    Ok(DecisionRow {
                        delivery_id: r.get(0)?,
                        pr_id: r.get(1)?,
                        decision: decision_name(decision_from(&r.get::<String>(2)?)),
                        comment: r.get(3)?,
                        decider_email: r.get(4)?,
                        feishu_open_id: r.get(5)?,
                        stage: DecisionStage::parse(&r.get::<String>(6)?),
                        reason: r.get(7)?,
                        decided_at: rfc3339(r.get(8)?),
                        updated_at: rfc3339(r.get(9)?),
                        notice_attempts: r.get(10)?,
                        notice_error: r.get(11)?,
                    })
                },
            )?;
            Ok(rows)
        })
    }

    /// The decision taken on a card, if any.
    pub fn card_decision(&self, delivery_id: &str) -> anyhow::Result<Option<StoredDecision>> {
        self.with(|c| decision_in(c, delivery_id))
    }

    /// Mica answered the notice of the decision on `delivery_id`: store the answer and queue the
    /// redraw that shows it on the card, in one transaction.
    pub fn decision_answered(&self, delivery_id: &str, answer: &MicaAnswer) -> anyhow::Result<()> {
        self.with(|c| {
            let mut tx = super::write_transaction(c)?;
            let now = now_ms();
            let (stage, reason) = match answer {
                MicaAnswer::Applied => (APPLIED, None),
                MicaAnswer::Refused(why) => (REFUSED, Some(why.as_str())),
            };
            let changed = tx.execute(
                "UPDATE card_decisions SET stage = ?2, reason = ?3, updated_at = ?4
                 WHERE delivery_id = ?1 AND stage = ?5",
                params![delivery_id, stage, reason, now, RECORDED],
            )?;
            if changed == 1
                && let Some(decision) = decision_in(&mut tx, delivery_id)?
            {
                let settlement = serde_json::to_string(&Settlement::Deciding {
                    progress: decision.progress,
                })?;
                tx.execute(
                    "INSERT INTO deliveries (id, event_id, seq, kind, class, recipient_email,
                        recipient, status, attempts, next_attempt_at, created_at, updated_at, redraws,
                        settlement, settled_at_ms)
                     SELECT ?1, o.event_id,
                        (SELECT COALESCE(MAX(seq), -1) + 1 FROM deliveries WHERE event_id = o.event_id),
                        ?2, ?3, o.recipient_email, o.recipient, 'pending', 0, ?4, ?4, ?4, o.id, ?5, ?4
                     FROM deliveries o WHERE o.id = ?6
                 ON CONFLICT DO NOTHING",
                    params![
                        redraw_id(delivery_id, &format!("decision-{stage}")),
                        Kind::CardUpdate.as_str(),
                        Class::of(Kind::CardUpdate, "pr_submitted").rank(),
                        now,
                        settlement,
                        delivery_id
                    ],
                )?;
            }
            tx.commit()?;
            Ok(())
        })
    }
}

fn decision_in(c: &mut Conn, delivery_id: &str) -> anyhow::Result<Option<StoredDecision>> {
    c.query_row(
        "SELECT decision, comment, decider_email, decider_name, open_id, stage, reason, decided_at
         FROM card_decisions WHERE delivery_id = ?1",
        [delivery_id],
        |r| {
            let taken = Taken {
                result: decision_from(&r.get::<String>(0)?),
                comment: r.get(1)?,
                decider: Person {
                    email: r.get(2)?,
                    name: r.get(3)?,
                },
                decided_at: rfc3339(r.get(7)?),
            };
            let stage: String = r.get(5)?;
            let reason: Option<String> = r.get(6)?;
            Ok(StoredDecision {
                open_id: r.get(4)?,
                progress: match stage.as_str() {
                    APPLIED => Progress::Applied(taken),
                    REFUSED => Progress::Refused {
                        taken,
                        reason: reason.unwrap_or_default(),
                    },
                    _ => Progress::Recorded(taken),
                },
            })
        },
    )
    .optional()
}
