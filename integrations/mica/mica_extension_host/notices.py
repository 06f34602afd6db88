"""`POST /integrations/extension-host/notices`: the host's signed notices, applied once, in order.

A notice is applied only when
1. `X-Mica-Timestamp` is within `max_skew_seconds` of now (a captured request cannot be replayed
   later) and `X-Mica-Signature` is the HMAC-SHA256 of `"<timestamp>.<body>"` under the shared
   secret (`MICA_CALLBACK_SECRET` on the host), compared in constant time;
2. its `X-Mica-Notice-Id` was not seen before (the host retries with the same id);
3. its `operate_time` is not older than the status already applied to that payment.
Then Mica's `on_approval_update(payment_id, status, instance_code, operate_time)` is called, in the
same transaction as the records of 2 and 3: if it raises, nothing is recorded and the host's retry
applies the notice later. Should the commit fail after Mica's function ran, the retry calls it
again with the same values, so it must be idempotent (setting a status is).

A `pr.decision` notice (an approver's press on a Feishu card) goes to `decisions.apply_decision`
with the `DecisionPort` Mica passes as `decisions`, and Mica's answer goes back to the host.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import json
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import Column, DateTime, String, func, select
from sqlalchemy import Table as _Table
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from . import decisions as card_decisions
from .outbox import metadata

log = logging.getLogger("mica_extension_host.notices")


class ApprovalStatus(enum.StrEnum):
    """Feishu's eight approval instance statuses, as the host reports them."""

    PENDING = "PENDING"
    APPROVED = "APPROVED"
    REJECTED = "REJECTED"
    CANCELED = "CANCELED"
    DELETED = "DELETED"
    REVERTED = "REVERTED"
    OVERTIME_CLOSE = "OVERTIME_CLOSE"
    OVERTIME_RECOVER = "OVERTIME_RECOVER"


seen_notices = _Table(
    "extension_host_notices",
    metadata,
    Column("notice_id", String(100), primary_key=True),
    Column("payment_id", String(200)),
    Column("received_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

approvals = _Table(
    "extension_host_approvals",
    metadata,
    Column("payment_id", String(200), primary_key=True),
    Column("instance_code", String(200), nullable=False),
    Column("status", String(32), nullable=False),
    Column("operate_time", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

OnApprovalUpdate = Callable[[str, ApprovalStatus, str, datetime], Awaitable[None]]


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The `X-Mica-Signature` the host sends for `body` at `timestamp`."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


class NoticeRefused(Exception):
    def __init__(self, status: int, detail: str):
        super().__init__(detail)
        self.status = status
        self.detail = detail


def verify(secret: str, headers: dict[str, str], body: bytes, now: float, max_skew: float) -> str:
    """The notice id of an authentic, fresh request; `NoticeRefused` otherwise."""
    timestamp = headers.get("x-mica-timestamp", "")
    signature = headers.get("x-mica-signature", "")
    notice_id = headers.get("x-mica-notice-id", "").strip()
    if not timestamp or not signature or not notice_id:
        raise NoticeRefused(
            401, "X-Mica-Timestamp, X-Mica-Signature and X-Mica-Notice-Id are required"
        )
    try:
        sent_at = int(timestamp)
    except ValueError:
        raise NoticeRefused(401, "X-Mica-Timestamp: not unix seconds") from None
    if abs(now - sent_at) > max_skew:
        raise NoticeRefused(
            401, "X-Mica-Timestamp: outside the accepted window (replayed or clock skew)"
        )
    if not hmac.compare_digest(sign(secret, timestamp, body), signature):
        raise NoticeRefused(401, "X-Mica-Signature: does not match")
    if len(notice_id) > 100:
        raise NoticeRefused(422, "X-Mica-Notice-Id: longer than 100 characters")
    return notice_id


def _is_decision(body: bytes) -> bool:
    try:
        notice = json.loads(body)
    except ValueError:
        return False
    return isinstance(notice, dict) and notice.get("type") == "pr.decision"


def parse_approval_update(body: bytes) -> tuple[str, ApprovalStatus, str, datetime]:
    try:
        notice = json.loads(body)
    except ValueError:
        raise NoticeRefused(422, "body: not JSON") from None
    if not isinstance(notice, dict) or notice.get("type") != "payment.approval_updated":
        raise NoticeRefused(422, "type: this receiver takes payment.approval_updated notices")
    fields: dict[str, str] = {}
    for name in ("payment_id", "instance_code", "status", "operate_time"):
        value = notice.get(name)
        if not isinstance(value, str) or not value:
            raise NoticeRefused(422, f"{name}: required, a non-empty string")
        fields[name] = value
    try:
        status = ApprovalStatus(fields["status"])
    except ValueError:
        raise NoticeRefused(
            422, f"status: {fields['status']!r} is not a Feishu approval status"
        ) from None
    try:
        operate_time = datetime.fromisoformat(fields["operate_time"].replace("Z", "+00:00"))
    except ValueError:
        raise NoticeRefused(422, "operate_time: not an ISO 8601 date-time") from None
    if operate_time.tzinfo is None:
        raise NoticeRefused(422, "operate_time: needs a time zone")
    return fields["payment_id"], status, fields["instance_code"], operate_time


def notice_router(
    *,
    secret: str,
    sessionmaker: async_sessionmaker[AsyncSession],
    on_approval_update: OnApprovalUpdate,
    decisions: card_decisions.DecisionPort | None = None,
    max_skew_seconds: float = 300,
    clock: Callable[[], float] = time.time,
) -> APIRouter:
    """The receiver; mount it under Mica's `/api/v1` without a login dependency (the host is not
    a Mica user: the signature is the authentication)."""
    if not secret.strip():
        raise ValueError("secret: the notice receiver needs the host's MICA_CALLBACK_SECRET")
    router = APIRouter(prefix="/integrations/extension-host", tags=["extension-host"])

    async def _decision(notice_id: str, body: bytes) -> JSONResponse:
        if decisions is None:
            raise NoticeRefused(
                422, "type: pr.decision notices need notice_router(decisions=...) in Mica"
            )
        try:
            decision = card_decisions.parse(card_decisions.decode(body))
        except card_decisions.BadDecision as e:
            raise NoticeRefused(422, str(e)) from None
        async with sessionmaker() as session, session.begin():
            answer = await card_decisions.apply_decision(session, notice_id, decision, decisions)
        log.info(
            "card decision on %s by %s: %s",
            decision.pr_id,
            decision.decider_email,
            answer["outcome"],
        )
        return JSONResponse(answer)

    @router.post("/notices")
    async def receive(request: Request) -> JSONResponse:
        body = await request.body()
        headers = {k.lower(): v for k, v in request.headers.items()}
        try:
            notice_id = verify(secret, headers, body, clock(), max_skew_seconds)
            if _is_decision(body):
                return await _decision(notice_id, body)
            payment_id, status, instance_code, operate_time = parse_approval_update(body)
        except NoticeRefused as e:
            log.warning("extension host notice refused: %s", e.detail)
            return JSONResponse(status_code=e.status, content={"detail": e.detail})
        async with sessionmaker() as session, session.begin():
            first_time = await session.execute(
                insert(seen_notices)
                .values(notice_id=notice_id, payment_id=payment_id)
                .on_conflict_do_nothing(index_elements=[seen_notices.c.notice_id])
                .returning(seen_notices.c.notice_id)
            )
            if first_time.first() is None:
                return JSONResponse({"applied": False, "reason": "duplicate notice"})
            newer = await session.execute(
                insert(approvals)
                .values(
                    payment_id=payment_id,
                    instance_code=instance_code,
                    status=status.value,
                    operate_time=operate_time,
                )
                .on_conflict_do_update(
                    index_elements=[approvals.c.payment_id],
                    set_={
                        "instance_code": instance_code,
                        "status": status.value,
                        "operate_time": operate_time,
                        "updated_at": func.now(),
                    },
                    where=approvals.c.operate_time <= operate_time,
                )
                .returning(approvals.c.payment_id)
            )
            if newer.first() is None:
                log.info(
                    "notice %s for payment %s is older than the status applied",
                    notice_id,
                    payment_id,
                )
                return JSONResponse({"applied": False, "reason": "older than the status applied"})
            await on_approval_update(payment_id, status, instance_code, operate_time)
        log.info("payment %s approval %s -> %s", payment_id, instance_code, status.value)
        return JSONResponse({"applied": True})

    return router


async def approval_of(session: AsyncSession, payment_id: str) -> dict[str, Any] | None:
    """The last status applied to a payment (what Mica shows beside it), or None."""
    row = (
        await session.execute(select(approvals).where(approvals.c.payment_id == str(payment_id)))
    ).first()
    return dict(row._mapping) if row else None
