"""The transactional outbox in Mica's own database.

`emit(session, event)` adds an event to `extension_host_outbox` inside the caller's transaction, so
the event exists exactly when Mica's change commits: a rollback takes it away, a crash after the
commit cannot lose it. The drainer (`drainer.py`) posts what is pending to the host.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    func,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

# The bridge's own tables, kept apart from Mica's models: `create_all(engine)` or the alembic
# migration in `migrations/` creates exactly these.
metadata = MetaData()


class OutboxStatus(enum.StrEnum):
    PENDING = "pending"
    """Not yet accepted by the host; the drainer posts it when `next_attempt_at` comes."""
    DELIVERED = "delivered"
    """The host answered 2xx: the event and its deliveries are stored there."""
    REFUSED = "refused"
    """The host answered a 4xx that no retry can change; `last_error` says why."""


outbox = Table(
    "extension_host_outbox",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("event_id", String(200), nullable=False, unique=True),
    Column("event_type", String(64), nullable=False),
    Column("payload", JSONB, nullable=False),
    Column("status", String(16), nullable=False, server_default=OutboxStatus.PENDING.value),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("last_error", Text),
    Column("last_http_status", Integer),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("delivered_at", DateTime(timezone=True)),
    # The drainer reads the first due pending rows of this small index, never the whole table.
    Index(
        "ix_extension_host_outbox_due",
        "next_attempt_at",
        postgresql_where=text("status = 'pending'"),
    ),
)

MAX_EVENT_BYTES = 1024 * 1024
"""The host refuses larger request bodies; refusing them here keeps Mica's caller informed."""


class EventError(ValueError):
    """An event that could never be accepted: missing id or type, not JSON, too large."""


def _check(event: Mapping[str, Any]) -> tuple[str, str, str]:
    event_id = event.get("id")
    if not isinstance(event_id, str) or not event_id.strip() or len(event_id) > 200:
        raise EventError("event id: must be a non-empty string of at most 200 characters")
    event_type = event.get("type")
    if not isinstance(event_type, str) or not event_type:
        raise EventError("event type: must be a non-empty string")
    try:
        body = json.dumps(event, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError) as e:
        raise EventError(f"event {event_id}: not JSON-serialisable ({e})") from e
    if len(body.encode()) > MAX_EVENT_BYTES:
        raise EventError(f"event {event_id}: larger than {MAX_EVENT_BYTES} bytes")
    return event_id, event_type, body


async def emit(session: AsyncSession, event: Mapping[str, Any]) -> bool:
    """Queue `event` in the caller's transaction (nothing is committed here).

    Returns False when an event with the same id is already queued: event ids are deterministic,
    so doing the same thing twice sends one card. Raises `EventError` for an event that could
    never be accepted, before anything is written.
    """
    event_id, event_type, body = _check(event)
    result = await session.execute(
        insert(outbox)
        .values(event_id=event_id, event_type=event_type, payload=json.loads(body))
        .on_conflict_do_nothing(index_elements=[outbox.c.event_id])
        .returning(outbox.c.id)
    )
    return result.first() is not None


async def create_all(engine: AsyncEngine) -> None:
    """Create the bridge's tables if they do not exist (the alembic migration does the same)."""
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)


async def refused(session: AsyncSession, limit: int = 100) -> list[dict[str, Any]]:
    """Events the host refused for good, newest first, with the host's reason."""
    rows = await session.execute(
        select(
            outbox.c.event_id,
            outbox.c.event_type,
            outbox.c.last_http_status,
            outbox.c.last_error,
            outbox.c.created_at,
        )
        .where(outbox.c.status == OutboxStatus.REFUSED.value)
        .order_by(outbox.c.id.desc())
        .limit(limit)
    )
    return [dict(r._mapping) for r in rows]


async def counts(session: AsyncSession) -> dict[str, int]:
    """How many events are in each status (for a health page or a metric)."""
    rows = await session.execute(select(outbox.c.status, func.count()).group_by(outbox.c.status))
    found: dict[str, int] = {status: int(n) for status, n in rows.all()}
    return {s.value: int(found.get(s.value, 0)) for s in OutboxStatus}


async def requeue(session: AsyncSession, event_id: str) -> bool:
    """Send a refused event again (after fixing what the host complained about)."""
    result = await session.execute(
        update(outbox)
        .where(outbox.c.event_id == event_id, outbox.c.status == OutboxStatus.REFUSED.value)
        .values(
            status=OutboxStatus.PENDING.value,
            next_attempt_at=datetime.now(UTC),
            attempts=0,
        )
        .returning(outbox.c.id)
    )
    return result.first() is not None
