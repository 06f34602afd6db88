"""Posts the outbox to the host: pending rows, oldest due first, until the host accepts them.
Events go to `POST /api/v1/events`; a `payment_cancelled` row to the payment's cancel endpoint.

Safe in every Mica worker at once: each batch is claimed with `FOR UPDATE SKIP LOCKED` and held
until its outcome is written, so two drainers never post the same row at the same time, and a
worker that dies mid-batch releases its rows (its connection closes) for the next drainer. A post
whose answer was lost is posted again; the host creates nothing twice for one event id.
"""

from __future__ import annotations

import asyncio
import enum
import json
import logging
import random
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from .events import CANCEL_TYPE
from .host_client import HostClient
from .outbox import OutboxStatus, outbox

log = logging.getLogger("mica_extension_host.drainer")

# A 4xx about the event itself: posting it again cannot succeed. Anything else (401/403 while a
# token is being fixed, 404 while a proxy is misrouted, 429, 5xx, no answer) is retried.
_REFUSED_FOR_GOOD = {400, 413, 415, 422}


class Outcome(enum.Enum):
    DELIVERED = "delivered"
    REFUSED = "refused"
    RETRY = "retry"


@dataclass(frozen=True)
class PostResult:
    outcome: Outcome
    http_status: int | None = None
    error: str | None = None


def classify(response: httpx.Response) -> PostResult:
    """What the host's answer means for the row (a pure function: unit-tested on its own)."""
    status = response.status_code
    if 200 <= status < 300:
        return PostResult(Outcome.DELIVERED, status)
    detail = ""
    try:
        body = response.json()
        if isinstance(body, dict) and isinstance(body.get("detail"), str):
            detail = body["detail"]
    except ValueError:
        detail = response.text[:200]
    error = f"HTTP {status}: {detail}" if detail else f"HTTP {status}"
    if status in _REFUSED_FOR_GOOD:
        return PostResult(Outcome.REFUSED, status, error)
    return PostResult(Outcome.RETRY, status, error)


def classify_cancel(response: httpx.Response) -> PostResult:
    """A cancel request: done when queued (202), and also when there is nothing to cancel (404:
    the payment never had an approval; 409: it is already decided or cancelled)."""
    if response.status_code in (404, 409):
        detail = classify(response).error
        return PostResult(Outcome.DELIVERED, response.status_code, f"nothing to cancel ({detail})")
    return classify(response)


def backoff_seconds(attempts: int, base: float, cap: float) -> float:
    """base, 2 x base, 4 x base ... up to cap, with +-20 % jitter so workers do not march in step."""
    delay = min(cap, base * (2 ** min(attempts, 20)))
    return delay * random.uniform(0.8, 1.2)


class Drainer:
    """Start it from Mica's FastAPI lifespan: `drainer.start()`, then `await drainer.stop()`."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        host: HostClient,
        *,
        batch_size: int = 20,
        poll_interval: float = 0.5,
        base_backoff: float = 1.0,
        max_backoff: float = 60.0,
    ):
        self._sessionmaker = sessionmaker
        self._host = host
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self.base_backoff = base_backoff
        self.max_backoff = max_backoff
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> asyncio.Task[None]:
        if self._task is None or self._task.done():
            self._stopping.clear()
            self._task = asyncio.create_task(self.run(), name="extension-host-drainer")
        return self._task

    async def stop(self) -> None:
        """Finish the batch in flight (its outcome is recorded), then return."""
        self._stopping.set()
        self._wake.set()
        if self._task is not None:
            await self._task
            self._task = None

    def wake(self) -> None:
        """Look at the outbox now instead of at the next poll (after a commit that emitted)."""
        self._wake.set()

    async def run(self) -> None:
        failures = 0
        while not self._stopping.is_set():
            try:
                taken = await self.drain_once()
                failures = 0
            except Exception:
                # The database is away: keep trying, a little slower each time.
                failures += 1
                log.exception("extension host outbox: could not drain; will try again")
                taken = 0
            if taken >= self.batch_size:
                continue
            pause = self.poll_interval * min(2**failures, 60)
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=pause)
            except TimeoutError:
                pass
            self._wake.clear()

    async def drain_once(self) -> int:
        """Claim one batch of due rows, post them, record each outcome; the number claimed."""
        async with self._sessionmaker() as session, session.begin():
            rows = (
                await session.execute(
                    select(outbox.c.id, outbox.c.event_id, outbox.c.payload, outbox.c.attempts)
                    .where(
                        outbox.c.status == OutboxStatus.PENDING.value,
                        outbox.c.next_attempt_at <= func.now(),
                    )
                    .order_by(outbox.c.next_attempt_at, outbox.c.id)
                    .limit(self.batch_size)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            if not rows:
                return 0
            results = await asyncio.gather(*(self._post(r.payload) for r in rows))
            for row, result in zip(rows, results, strict=True):
                await self._record(session, row.id, row.event_id, row.attempts, result)
        return len(rows)

    async def _post(self, payload: Any) -> PostResult:
        cancel = isinstance(payload, dict) and payload.get("type") == CANCEL_TYPE
        try:
            if cancel:
                response = await self._host.cancel_approval(str(payload.get("payment_id", "")))
            else:
                body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
                response = await self._host.post_event(body)
        except httpx.HTTPError as e:
            return PostResult(Outcome.RETRY, None, f"host unreachable: {type(e).__name__}: {e}")
        return classify_cancel(response) if cancel else classify(response)

    async def _record(
        self,
        session: AsyncSession,
        row_id: int,
        event_id: str,
        attempts: int,
        result: PostResult,
    ) -> None:
        values: dict[str, Any] = {
            "attempts": attempts + 1,
            "last_http_status": result.http_status,
            "last_error": result.error,
        }
        if result.outcome is Outcome.DELIVERED:
            values |= {"status": OutboxStatus.DELIVERED.value, "delivered_at": func.now()}
        elif result.outcome is Outcome.REFUSED:
            values["status"] = OutboxStatus.REFUSED.value
            log.error(
                "extension host refused event %s for good (%s); kept in extension_host_outbox",
                event_id,
                result.error,
            )
        else:
            delay = backoff_seconds(attempts, self.base_backoff, self.max_backoff)
            values["next_attempt_at"] = func.now() + func.make_interval(0, 0, 0, 0, 0, 0, delay)
            log.warning(
                "extension host did not take event %s (attempt %d: %s); retrying in %.1f s",
                event_id,
                attempts + 1,
                result.error,
                delay,
            )
        await session.execute(update(outbox).where(outbox.c.id == row_id).values(**values))
