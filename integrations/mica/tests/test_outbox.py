"""The outbox and the drainer against a real PostgreSQL, the real host and the simulator."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid
from collections import Counter
from datetime import date
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from conftest import Host, Sim, eventually
from people import User, po_event, someone
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from mica_extension_host import (
    Drainer,
    EventError,
    HostClient,
    HostConfig,
    OutboxStatus,
    counts,
    emit,
    refused,
    requeue,
)
from mica_extension_host import events as ev
from mica_extension_host.outbox import outbox

pytestmark = pytest.mark.anyio
HERE = Path(__file__).parent
BASE = "https://mica.example.com"


po = po_event


def drainer_for(sessionmaker, host: Host, **kw) -> Drainer:
    client = HostClient(HostConfig(url=host.url, service_token=host.service_token))
    return Drainer(sessionmaker, client, poll_interval=0.05, **kw)


async def all_delivered(sessionmaker) -> bool:
    async with sessionmaker() as session:
        c = await counts(session)
    return c[OutboxStatus.PENDING] == 0


async def drain_until_empty(drainer: Drainer, sessionmaker, timeout: float = 60) -> None:
    drainer.start()
    try:
        async with asyncio.timeout(timeout):
            while not await all_delivered(sessionmaker):
                await asyncio.sleep(0.05)
    finally:
        await drainer.stop()


async def test_an_event_exists_exactly_when_the_transaction_commits(sessionmaker):
    buyer = someone("buyer")
    async with sessionmaker() as session, session.begin():
        assert await emit(session, po("rb", 1, buyer))
    async with sessionmaker() as session:
        await session.begin()
        await emit(session, po("rb", 2, buyer))
        await session.rollback()
    async with sessionmaker() as session:
        ids = (await session.execute(select(outbox.c.event_id))).scalars().all()
    assert ids == ["po_created:rb-1"], "the rolled-back event left nothing"
    async with sessionmaker() as session, session.begin():
        assert not await emit(session, po("rb", 1, buyer)), "same id: nothing new"
    async with sessionmaker() as session:
        n = (await session.execute(select(func.count()).select_from(outbox))).scalar_one()
    assert n == 1
    with pytest.raises(EventError, match="event id"):
        async with sessionmaker() as session, session.begin():
            await emit(session, {"type": "po_created"})


async def test_every_builder_makes_an_event_the_host_turns_into_cards(
    sessionmaker, host: Host, sim: Sim
):
    approver, requester, buyer, finance, owner = (
        someone("approver", preferred_locale="en-US"),
        someone("requester"),
        someone("buyer"),
        someone("finance", feishu_open_id="ou_finance_1"),
        someone("owner", preferred_locale="zh-TW"),
    )
    built = [
        ev.pr_submitted(
            pr_id=uuid.uuid4(),
            pr_number="PR-2026-0042",
            title="Laptops",
            applicant=requester,
            department="Design",
            amount=Decimal("12500.0000"),
            currency="CNY",
            line_count=3,
            approvers=[approver],
            stage=1,
            approval_instance_id=uuid.uuid4(),
            base_url=BASE,
        ),
        ev.approval_decided(
            pr_id=uuid.uuid4(),
            pr_number="PR-2026-0042",
            title="Laptops",
            decider=approver,
            result="approved",
            comment=None,
            requester=requester,
            approval_instance_id=uuid.uuid4(),
            base_url=BASE,
        ),
        ev.po_created(
            po_id=uuid.uuid4(),
            po_number="PO-2026-0077",
            supplier="ACME Ltd.",
            amount=12500,
            currency="cny",
            pr_title="Laptops",
            recipients=[buyer, requester],
            base_url=BASE,
        ),
        ev.payment_pending(
            payment_id=uuid.uuid4(),
            payment_number="PO-2026-0077-P01",
            po_number="PO-2026-0077",
            supplier="ACME Ltd.",
            amount="6250",
            currency="CNY",
            due_date=date(2026, 12, 15),
            description=None,
            submitter=buyer,
            finance=[finance],
            base_url=BASE,
        ),
        ev.contract_expiring(
            contract_id=uuid.uuid4(),
            contract_number="CT-2025-0005",
            supplier="ACME Ltd.",
            expiry_date=date(2026, 12, 31),
            days_remaining=30,
            total_amount="500000",
            used_amount=Decimal("412000.5"),
            currency="CNY",
            recipients=[owner],
            base_url=BASE,
        ),
        ev.notice(
            notification_id=uuid.uuid4(),
            category="approval_escalation",
            title="PR-2026-0042 is overdue",
            body="Waiting 3 days at Finance",
            link_url="/approvals",
            user=approver,
            base_url=BASE,
        ),
        ev.digest(
            user=owner,
            day=date(2026, 12, 1),
            sections=[
                ev.digest_section(
                    kind="pending_approvals",
                    title="Waiting for approval",
                    count=7,
                    items=[("PR-2026-0042 Laptops", "/approvals")],
                    base_url=BASE,
                )
            ],
            base_url=BASE,
        ),
    ]
    async with sessionmaker() as session, session.begin():
        for e in built:
            assert await emit(session, e)
    await drain_until_empty(drainer_for(sessionmaker, host), sessionmaker)
    async with sessionmaker() as session:
        assert (await counts(session))[OutboxStatus.DELIVERED] == 7
    for e in built:
        await eventually(
            f"{e['id']} settled",
            lambda e=e: (
                host.deliveries(e["id"])
                and all(d["status"] in ("sent", "skipped") for d in host.deliveries(e["id"]))
            ),
        )
        notify = [d for d in host.deliveries(e["id"]) if d["kind"] == "notify"]
        assert [d["status"] for d in notify] == ["sent"] * len(e["recipients"]), notify
    received = Counter(m["receive_id"] for m in sim.messages())
    # Each person once per event they are a recipient of; Feishu ids are preferred to email.
    assert received[approver.email] == 2, "PR submitted + the escalation notice"
    assert received[requester.email] == 2, "approval decided + PO created"
    assert received[buyer.email] == 1
    assert received["ou_finance_1"] == 1
    assert received[owner.email] == 2, "contract expiring + the digest"
    escalation = next(d for d in host.deliveries(built[5]["id"]))
    assert escalation["class"] == "update", "an escalation is served ahead of bulk cards"
    links = [m["card"] for m in sim.messages()]
    assert all(BASE in str(card) for card in links), "absolute links into Mica"


async def test_a_mica_process_killed_after_its_commit_loses_nothing(
    engine: AsyncEngine, sessionmaker, host, sim
):
    prefix = f"kill-{uuid.uuid4().hex[:6]}"
    url = engine.url.render_as_string(hide_password=False)
    child = subprocess.run(
        [sys.executable, str(HERE / "child.py"), "emit", url, "5", prefix],
        cwd=HERE,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert child.returncode == -9, child.stderr
    assert "committed" in child.stdout
    await drain_until_empty(drainer_for(sessionmaker, host), sessionmaker)
    await eventually(
        "five cards",
        lambda: len([m for m in sim.messages() if m["receive_id"].startswith(prefix)]) >= 5,
    )
    got = Counter(m["receive_id"] for m in sim.messages() if m["receive_id"].startswith(prefix))
    assert got == {f"{prefix}-{i}@example.com": 1 for i in range(5)}, (
        "the uncommitted one never existed"
    )


async def test_a_drainer_killed_mid_batch_leaves_every_card_sent_exactly_once(
    engine, sessionmaker, host, sim
):
    prefix = f"mid-{uuid.uuid4().hex[:6]}"
    n = 60
    async with sessionmaker() as session, session.begin():
        for i in range(n):
            await emit(session, po(prefix, i, User(email=f"{prefix}-{i}@example.com")))
    url = engine.url.render_as_string(hide_password=False)
    worker = subprocess.Popen(
        [sys.executable, str(HERE / "child.py"), "drain", url, host.url, host.service_token],
        cwd=HERE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        await eventually("some cards out", lambda: len(sim.messages()) >= 10)
    finally:
        worker.kill()
        worker.wait()
    async with sessionmaker() as session:
        left = (await counts(session))[OutboxStatus.PENDING]
    assert 0 < left < n, f"killed mid-drain ({left} of {n} still pending)"
    await drain_until_empty(drainer_for(sessionmaker, host), sessionmaker)
    await eventually("every card", lambda: len(sim.messages()) >= n)
    got = Counter(m["receive_id"] for m in sim.messages())
    assert got == {f"{prefix}-{i}@example.com": 1 for i in range(n)}


async def test_the_host_down_for_a_while_then_every_event_arrives_once(
    sessionmaker, host: Host, sim
):
    host.stop()
    prefix = f"down-{uuid.uuid4().hex[:6]}"
    async with sessionmaker() as session, session.begin():
        for i in range(10):
            await emit(session, po(prefix, i, User(email=f"{prefix}-{i}@example.com")))
    drainer = drainer_for(sessionmaker, host, base_backoff=0.2, max_backoff=1.0)
    drainer.start()
    try:

        async def retried() -> bool:
            async with sessionmaker() as session:
                rows = (await session.execute(select(outbox.c.attempts, outbox.c.last_error))).all()
            return all(r.attempts >= 2 and "unreachable" in (r.last_error or "") for r in rows)

        async with asyncio.timeout(30):
            while not await retried():
                await asyncio.sleep(0.1)
        host.start()
        async with asyncio.timeout(30):
            while not await all_delivered(sessionmaker):
                await asyncio.sleep(0.05)
    finally:
        await drainer.stop()
    await eventually("ten cards", lambda: len(sim.messages()) >= 10)
    got = Counter(m["receive_id"] for m in sim.messages())
    assert got == {f"{prefix}-{i}@example.com": 1 for i in range(10)}


async def test_two_drainers_never_post_a_row_twice(sessionmaker, host: Host, sim):
    prefix = f"two-{uuid.uuid4().hex[:6]}"
    n = 120
    async with sessionmaker() as session, session.begin():
        for i in range(n):
            await emit(session, po(prefix, i, User(email=f"{prefix}-{i}@example.com")))
    posted: Counter[str] = Counter()

    async def count(request: httpx.Request) -> None:
        import json

        posted[json.loads(request.content)["id"]] += 1

    def counted() -> Drainer:
        client = HostClient(HostConfig(url=host.url, service_token=host.service_token))
        client._http.event_hooks["request"].append(count)
        return Drainer(sessionmaker, client, batch_size=7, poll_interval=0.01)

    first, second = counted(), counted()
    first.start()
    second.start()
    try:
        async with asyncio.timeout(60):
            while not await all_delivered(sessionmaker):
                await asyncio.sleep(0.05)
    finally:
        await first.stop()
        await second.stop()
    assert len(posted) == n
    assert max(posted.values()) == 1, [k for k, v in posted.items() if v > 1]
    await eventually("every card", lambda: len(sim.messages()) >= n)
    assert Counter(m["receive_id"] for m in sim.messages()) == {
        f"{prefix}-{i}@example.com": 1 for i in range(n)
    }


async def test_a_refused_event_is_kept_with_the_hosts_reason_and_the_rest_still_flow(
    sessionmaker, host, sim
):
    good = po("ok", 1, someone("buyer"))
    bad = po("bad", 1, someone("buyer"))
    bad["data"]["url"] = "mica/po/1"  # not absolute: the host refuses it with 422
    async with sessionmaker() as session, session.begin():
        await emit(session, bad)
        await emit(session, good)
    await drain_until_empty(drainer_for(sessionmaker, host), sessionmaker)
    async with sessionmaker() as session:
        assert (await counts(session)) == {"pending": 0, "delivered": 1, "refused": 1}
        kept = await refused(session)
    assert [r["event_id"] for r in kept] == ["po_created:bad-1"]
    assert kept[0]["last_http_status"] == 422
    assert "data.url" in kept[0]["last_error"], kept
    await eventually("the good card", lambda: len(sim.messages()) == 1)
    # Mica fixes what the host named, then sends the event again.
    fixed = {**bad, "data": {**bad["data"], "url": f"{BASE}/po/1"}}
    async with sessionmaker() as session, session.begin():
        await session.execute(
            outbox.update().where(outbox.c.event_id == "po_created:bad-1").values(payload=fixed)
        )
        assert await requeue(session, "po_created:bad-1")
    await drain_until_empty(drainer_for(sessionmaker, host), sessionmaker)
    await eventually("the fixed card", lambda: len(sim.messages()) == 2)
