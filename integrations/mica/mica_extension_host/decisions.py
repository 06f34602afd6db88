"""`pr.decision` notices: a decision an approver took on a Feishu card, applied in Mica.

The host relays a press of Approve or Reject as a signed notice (verified like every notice, by
`notices.verify`). The bridge then
1. finds the Mica user by the presser's Feishu `open_id`, then `union_id`, then the email the card
   was sent to (`DecisionPort.find_user`);
2. checks that they hold the requisition's open approval task (`DecisionPort.holds_open_task`);
3. applies the decision through Mica's own function (`DecisionPort.apply`; in Mica v1.49.1
   `app.services.approval.act_on_task`), in the same transaction as the record of the notice and
   its outcome;
4. answers `{"outcome": "applied"}` or `{"outcome": "refused", "reason": ...}`, which the host
   shows on the card. A retried notice gets the recorded outcome again, and applies nothing twice.

Anything else Mica's function raises rolls the transaction back and answers 500: the host retries
the notice later, and the card keeps saying the decision is on its way.
"""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import Column, DateTime, String, Text, func, select
from sqlalchemy import Table as _Table
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from .outbox import metadata


class CardDecision(enum.StrEnum):
    """What the approver pressed, in the notice's words."""

    APPROVED = "approved"
    REJECTED = "rejected"

    @property
    def action(self) -> str:
        """Mica's `act_on_task` action for it."""
        return "approve" if self is CardDecision.APPROVED else "reject"


class Outcome(enum.StrEnum):
    APPLIED = "applied"
    REFUSED = "refused"


@dataclass(frozen=True)
class PrDecision:
    pr_id: str
    decision: CardDecision
    comment: str | None
    decider_email: str
    feishu_open_id: str | None
    feishu_union_id: str | None
    delivery_id: str


class DecisionRefused(Exception):
    """Raised by Mica's functions for a decision that must not apply, with the reason the
    approver reads on the card (the requisition was withdrawn, the step has moved on, ...)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class DecisionPort(Protocol):
    """What Mica supplies (the README shows the implementation for Mica v1.49.1)."""

    async def find_user(
        self,
        session: AsyncSession,
        *,
        feishu_open_id: str | None,
        feishu_union_id: str | None,
        email: str,
    ) -> Any | None: ...

    async def holds_open_task(self, session: AsyncSession, user: Any, pr_id: str) -> bool: ...

    async def apply(
        self,
        session: AsyncSession,
        user: Any,
        pr_id: str,
        action: str,
        comment: str | None,
    ) -> None: ...


decisions = _Table(
    "extension_host_decisions",
    metadata,
    Column("notice_id", String(100), primary_key=True),
    Column("pr_id", String(200), nullable=False),
    Column("delivery_id", String(200), nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("reason", Text),
    Column("received_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

NO_USER = "no Mica user has this Feishu account or the card's email"
NOT_AN_APPROVER = "you no longer hold an open approval task for this requisition"


class BadDecision(ValueError):
    """The notice is not a well-formed `pr.decision` (the message names the field)."""


def _text(notice: dict[str, Any], name: str, required: bool) -> str | None:
    value = notice.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or (required and not value.strip()):
        raise BadDecision(f"{name}: required, a non-empty string")
    return value


def parse(notice: dict[str, Any]) -> PrDecision:
    decider = notice.get("decider")
    if not isinstance(decider, dict):
        raise BadDecision("decider: required, an object")
    try:
        decision = CardDecision(notice.get("decision"))
    except ValueError:
        raise BadDecision("decision: must be approved or rejected") from None
    email = _text(decider, "email", True)
    assert email is not None
    pr_id = _text(notice, "pr_id", True)
    delivery_id = _text(notice, "delivery_id", True)
    assert pr_id is not None and delivery_id is not None
    return PrDecision(
        pr_id=pr_id,
        decision=decision,
        comment=_text(notice, "comment", False),
        decider_email=email,
        feishu_open_id=_text(decider, "feishu_open_id", False),
        feishu_union_id=_text(decider, "feishu_union_id", False),
        delivery_id=delivery_id,
    )


def answer(outcome: Outcome, reason: str | None) -> dict[str, str]:
    return {"outcome": outcome.value, **({"reason": reason} if reason else {})}


async def apply_decision(
    session: AsyncSession, notice_id: str, d: PrDecision, port: DecisionPort
) -> dict[str, str]:
    """Steps 1-4 in `session`'s transaction (the caller commits); the answer for the host."""
    seen = (
        await session.execute(select(decisions).where(decisions.c.notice_id == notice_id))
    ).first()
    if seen is not None:
        return answer(Outcome(seen.outcome), seen.reason)
    outcome, reason = Outcome.APPLIED, None
    user = await port.find_user(
        session,
        feishu_open_id=d.feishu_open_id,
        feishu_union_id=d.feishu_union_id,
        email=d.decider_email,
    )
    if user is None:
        outcome, reason = Outcome.REFUSED, NO_USER
    elif not await port.holds_open_task(session, user, d.pr_id):
        outcome, reason = Outcome.REFUSED, NOT_AN_APPROVER
    else:
        try:
            async with session.begin_nested():
                await port.apply(session, user, d.pr_id, d.decision.action, d.comment)
        except DecisionRefused as e:
            outcome, reason = Outcome.REFUSED, e.reason
    await session.execute(
        insert(decisions)
        .values(
            notice_id=notice_id,
            pr_id=d.pr_id,
            delivery_id=d.delivery_id,
            outcome=outcome.value,
            reason=reason,
        )
        .on_conflict_do_nothing(index_elements=[decisions.c.notice_id])
    )
    return answer(outcome, reason)


def decode(body: bytes) -> dict[str, Any]:
    try:
        notice = json.loads(body)
    except ValueError:
        raise BadDecision("body: not JSON") from None
    if not isinstance(notice, dict):
        raise BadDecision("body: not a JSON object")
    return notice
