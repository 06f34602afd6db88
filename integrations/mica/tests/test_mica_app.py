"""A Mica-shaped app wired as the README says, served on loopback, driving the real host:
the Feishu tab's own requests through the admin proxy, a submitted PR becoming a card, and a
payment approved in Feishu coming back through the host's signed notice."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pg
import pytest
import uvicorn
from conftest import (
    APP_SECRET,
    APPROVAL_CODE,
    CALLBACK_SECRET,
    ENCRYPT_KEY,
    VERIFICATION_TOKEN,
    Host,
    Sim,
    cards_to,
    dumps,
    eventually,
)
from mica_app import approval_tasks, build_app, mica_tables, payments, purchase_requisitions
from people import User, someone
from sqlalchemy import select, update

from mica_extension_host import HostConfig
from mica_extension_host.notices import sign

pytestmark = pytest.mark.anyio


# The fields of Mica's FeishuSettingsTab form (its Form.Item names): what it reads from the GET and
# sends back whole with the PUT.
TAB_FIELDS = (
    "enabled",
    "app_id",
    "app_secret",
    "approval_code",
    "notify_on_pr",
    "notify_on_approval",
    "notify_on_po",
    "notify_on_payment",
    "notify_on_contract_expiry",
    "payment_workflow",
)


@dataclass
class Mica:
    url: str
    http: httpx.AsyncClient
    app: Any
    host: Host
    admin: User
    requester: User
    approver: User
    finance: User

    def as_(self, user: User | None) -> dict[str, str]:
        """The headers Mica's web client sends (frontend/src/api/client.ts)."""
        headers = {"Accept-Language": "zh-CN"}
        if user is not None:
            headers["Authorization"] = f"Bearer token-{user.id}"
        return headers


async def serve(app: Any, port: int) -> tuple[uvicorn.Server, asyncio.Task[None]]:
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    task = asyncio.create_task(server.serve())
    async with asyncio.timeout(20):
        while not server.started:
            await asyncio.sleep(0.02)
    return server, task


@pytest.fixture
async def mica(engine, sessionmaker, sim: Sim) -> AsyncIterator[Mica]:
    async with engine.begin() as conn:
        await conn.run_sync(mica_tables.create_all)
    port = pg.free_port()
    host = Host(
        sim, callback_url=f"http://127.0.0.1:{port}/api/v1/integrations/extension-host/notices"
    )
    host.start()
    host.configure()
    admin = someone("admin", role="admin", feishu_open_id=f"ou_{uuid.uuid4().hex[:10]}")
    requester = someone("requester", feishu_open_id=f"ou_{uuid.uuid4().hex[:10]}")
    approver = someone("approver", role="approver", preferred_locale="en-US")
    finance = someone("finance", role="finance")
    users = {f"token-{u.id}": u for u in (admin, requester, approver, finance)}
    app = build_app(
        sessionmaker,
        HostConfig(url=host.url, service_token=host.service_token, admin_token=host.admin_token),
        CALLBACK_SECRET,
        users,
    )
    server, task = await serve(app, port)
    url = f"http://127.0.0.1:{port}"
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        try:
            yield Mica(url, http, app, host, admin, requester, approver, finance)
        finally:
            server.should_exit = True
            await task
            host.stop()


def no_credentials(host: Host, response: httpx.Response) -> None:
    seen = response.text + json.dumps(dict(response.headers))
    for secret in (host.admin_token, host.service_token, APP_SECRET):
        assert secret not in seen, f"a credential reached the browser: {response.request.url}"


async def test_the_feishu_tab_loads_saves_and_tests_through_the_proxy(mica: Mica, sim: Sim):
    admin = mica.as_(mica.admin)
    # Load (FeishuSettingsTab: client.get('/admin/feishu/settings')).
    r = await mica.http.get("/api/v1/admin/feishu/settings", headers=admin)
    assert r.status_code == 200, r.text
    no_credentials(mica.host, r)
    loaded = r.json()
    assert loaded["enabled"] is True and loaded["app_secret"] == ""
    assert loaded["app_secret_masked"].endswith(APP_SECRET[-4:])
    for field in TAB_FIELDS:
        assert field in loaded, field

    # Save (client.put('/admin/feishu/settings', values)): the form's fields, secret left empty.
    form = {k: loaded[k] for k in TAB_FIELDS}
    form["notify_on_po"] = False
    r = await mica.http.put("/api/v1/admin/feishu/settings", headers=admin, json=form)
    assert r.status_code == 200, r.text
    no_credentials(mica.host, r)
    assert r.json()["notify_on_po"] is False
    assert r.json()["app_secret_masked"] == loaded["app_secret_masked"], (
        "an empty secret keeps the stored one"
    )

    # The host recorded who changed the settings (Mica's admin, not just "the admin token").
    await eventually("the change logged", lambda: f"mica user {mica.admin.id}" in mica.host.log())

    # Test Connection (client.post('/admin/feishu/test'), no body): the card goes to this admin,
    # by the Feishu id Mica has for them.
    r = await mica.http.post("/api/v1/admin/feishu/test", headers=admin)
    assert r.status_code == 200, r.text
    no_credentials(mica.host, r)
    assert r.json()["success"] is True
    assert mica.admin.feishu_open_id
    await eventually("the test card", lambda: cards_to(sim, mica.admin.feishu_open_id))
    assert cards_to(sim, mica.admin.feishu_open_id)[0]["receive_id_type"] == "open_id"
    assert not cards_to(sim, mica.admin.email)

    # A wrong secret: Test Connection fails with a non-2xx and a `detail` string the tab shows,
    # never a 401 (which would log the admin out of Mica).
    r = await mica.http.put(
        "/api/v1/admin/feishu/settings",
        headers=admin,
        json={**form, "app_secret": "not-the-secret"},
    )
    assert r.status_code == 200, r.text
    r = await mica.http.post("/api/v1/admin/feishu/test", headers=admin)
    assert r.status_code == 422, r.text
    assert isinstance(r.json()["detail"], str) and "credentials_valid" in r.json()["detail"]
    no_credentials(mica.host, r)

    # A refused value is named, as the host names it.
    r = await mica.http.put("/api/v1/admin/feishu/settings", headers=admin, json={"app_id": "nope"})
    assert r.status_code == 422 and "app_id" in r.json()["detail"], r.text


async def test_only_an_admin_reaches_the_proxy_and_the_host_is_untouched_otherwise(mica: Mica):
    for user in (mica.requester, mica.approver):
        for method, path, body in (
            ("GET", "/api/v1/admin/feishu/settings", None),
            ("PUT", "/api/v1/admin/feishu/settings", {"enabled": False}),
            ("POST", "/api/v1/admin/feishu/test", None),
        ):
            r = await mica.http.request(method, path, headers=mica.as_(user), json=body)
            assert r.status_code == 403, (user.role, path, r.text)
            no_credentials(mica.host, r)
    r = await mica.http.get("/api/v1/admin/feishu/settings", headers=mica.as_(None))
    assert r.status_code == 401, "Mica's own login check, before anything reaches the host"
    # The non-admin's PUT changed nothing.
    assert mica.host.admin("GET", "/api/v1/admin/feishu/settings").json()["enabled"] is True


async def test_host_trouble_is_a_502_with_a_detail_never_a_401(mica: Mica, sessionmaker):
    wrong = build_app(
        sessionmaker,
        HostConfig(url=mica.host.url, service_token="x", admin_token="not-the-admin-token"),
        CALLBACK_SECRET,
        {f"token-{mica.admin.id}": mica.admin},
    )
    port = pg.free_port()
    server, task = await serve(wrong, port)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            r = await http.get("/api/v1/admin/feishu/settings", headers=mica.as_(mica.admin))
            assert r.status_code == 502, r.text
            assert "refused Mica's admin credential" in r.json()["detail"]
            assert "not-the-admin-token" not in r.text
    finally:
        server.should_exit = True
        await task
    mica.host.stop()
    r = await mica.http.get("/api/v1/admin/feishu/settings", headers=mica.as_(mica.admin))
    assert r.status_code == 502 and "could not be reached" in r.json()["detail"], r.text
    no_credentials(mica.host, r)


async def test_a_submitted_pr_becomes_a_card_for_its_approver(mica: Mica, sim: Sim, sessionmaker):
    pr_id = f"pr-{uuid.uuid4().hex[:8]}"
    async with sessionmaker() as session, session.begin():
        await session.execute(purchase_requisitions.insert().values(id=pr_id, status="draft"))
    r = await mica.http.post(
        f"/api/v1/purchase-requisitions/{pr_id}/submit", headers=mica.as_(mica.requester)
    )
    assert r.status_code == 200, r.text
    cards = await eventually("the approver's card", lambda: cards_to(sim, mica.approver.email))
    assert len(cards) == 1
    assert "PR-" + pr_id in json.dumps(cards[0]["card"], ensure_ascii=False)
    assert f"https://mica.example.com/purchase-requisitions/{pr_id}" in json.dumps(cards[0]["card"])


async def approval_workflow_on(mica: Mica, sim: Sim) -> None:
    sim.http.post(f"/_sim/approvals/{APPROVAL_CODE}").raise_for_status()
    sim.http.post(
        "/_sim/callbacks",
        json={
            "url": f"{mica.host.url}/api/v1/feishu/webhook",
            "verification_token": VERIFICATION_TOKEN,
            "encrypt_key": ENCRYPT_KEY,
        },
    ).raise_for_status()
    # The tab's fields through the proxy; the callback secrets through the host's own settings API.
    r = await mica.http.put(
        "/api/v1/admin/feishu/settings",
        headers=mica.as_(mica.admin),
        json={"payment_workflow": True, "approval_code": APPROVAL_CODE},
    )
    assert r.status_code == 200, r.text
    r = mica.host.admin(
        "PUT",
        "/api/v1/admin/feishu/settings",
        {"encrypt_key": ENCRYPT_KEY, "verification_token": VERIFICATION_TOKEN},
    )
    assert r.status_code == 200, r.text


async def test_a_payment_approved_in_feishu_updates_mica_exactly_once(
    mica: Mica, sim: Sim, sessionmaker
):
    await approval_workflow_on(mica, sim)
    payment_id = f"pay-{uuid.uuid4().hex[:8]}"
    r = await mica.http.post(f"/api/v1/payments/{payment_id}", headers=mica.as_(mica.requester))
    assert r.status_code == 200, r.text
    instance = (await eventually("the Feishu approval", sim.instances))[0]
    assert instance["initiator"] == {"type": "open_id", "id": mica.requester.feishu_open_id}
    applied = mica.app.state.applied
    await eventually("PENDING applied", lambda: any(a[1] == "PENDING" for a in applied))
    sim.decide(instance["instance_code"], "APPROVED")
    await eventually("APPROVED applied", lambda: any(a[1] == "APPROVED" for a in applied))
    r = await mica.http.get(f"/api/v1/payments/{payment_id}")
    assert r.json()["status"] == "confirmed"
    await asyncio.sleep(0.5)
    assert [a[1] for a in applied] == ["PENDING", "APPROVED"], applied
    assert all(a[0] == payment_id and a[2] == instance["instance_code"] for a in applied)
    async with sessionmaker() as session:
        from mica_extension_host import approval_of

        state = await approval_of(session, payment_id)
    assert state is not None and state["status"] == "APPROVED"


async def test_a_deleted_payment_cancels_its_open_approval_in_feishu(mica: Mica, sim: Sim):
    await approval_workflow_on(mica, sim)
    payment_id = f"pay-{uuid.uuid4().hex[:8]}"
    r = await mica.http.post(f"/api/v1/payments/{payment_id}", headers=mica.as_(mica.requester))
    assert r.status_code == 200, r.text
    instance = (await eventually("the Feishu approval", sim.instances))[0]
    applied = mica.app.state.applied
    await eventually("PENDING applied", lambda: any(a[1] == "PENDING" for a in applied))
    r = await mica.http.delete(f"/api/v1/payments/{payment_id}", headers=mica.as_(mica.requester))
    assert r.status_code == 200, r.text
    await eventually(
        "the instance cancelled in Feishu",
        lambda: any(
            i["instance_code"] == instance["instance_code"] and i["status"] == "CANCELED"
            for i in sim.instances()
        ),
    )
    await eventually("CANCELED told to Mica", lambda: any(a[1] == "CANCELED" for a in applied))
    # Deleting again (or deleting a payment that never had an approval) is a no-op, not an error.
    r = await mica.http.delete(f"/api/v1/payments/{payment_id}", headers=mica.as_(mica.requester))
    assert r.status_code == 200


def notice(payment_id: str, status: str, at: str, instance: str = "inst-1") -> bytes:
    return json.dumps(
        {
            "type": "payment.approval_updated",
            "payment_id": payment_id,
            "instance_code": instance,
            "status": status,
            "operate_time": at,
        }
    ).encode()


def signed(
    body: bytes, notice_id: str, secret: str = CALLBACK_SECRET, ts: int | None = None
) -> dict[str, str]:
    timestamp = str(int(time.time()) if ts is None else ts)
    return {
        "Content-Type": "application/json",
        "X-Mica-Notice-Id": notice_id,
        "X-Mica-Timestamp": timestamp,
        "X-Mica-Signature": sign(secret, timestamp, body),
    }


async def test_forged_replayed_stale_or_out_of_order_notices_change_nothing(
    mica: Mica, sessionmaker
):
    payment_id = f"pay-{uuid.uuid4().hex[:8]}"
    async with sessionmaker() as session, session.begin():
        await session.execute(payments.insert().values(id=payment_id, status="pending"))
    path = "/api/v1/integrations/extension-host/notices"
    applied = mica.app.state.applied

    async def post(body: bytes, headers: dict[str, str]) -> httpx.Response:
        return await mica.http.post(path, content=body, headers=headers)

    approved = notice(payment_id, "APPROVED", "2026-12-01T10:00:00Z")
    forged = await post(approved, signed(approved, "n-1", secret="guessed"))
    assert forged.status_code == 401 and "X-Mica-Signature" in forged.json()["detail"]
    stale = await post(approved, signed(approved, "n-1", ts=int(time.time()) - 3600))
    assert stale.status_code == 401 and "X-Mica-Timestamp" in stale.json()["detail"]
    unsigned = await post(approved, {"Content-Type": "application/json"})
    assert unsigned.status_code == 401
    tampered_headers = signed(approved, "n-1")
    tampered = await post(approved.replace(b"APPROVED", b"REJECTED"), tampered_headers)
    assert tampered.status_code == 401
    assert applied == [], "nothing reached Mica's function"

    ok = await post(approved, signed(approved, "n-1"))
    assert ok.json() == {"applied": True}
    replay = await post(approved, signed(approved, "n-1"))
    assert replay.status_code == 200 and replay.json()["applied"] is False
    older = notice(payment_id, "REJECTED", "2026-12-01T09:00:00Z")
    late = await post(older, signed(older, "n-0"))
    assert late.status_code == 200 and late.json() == {
        "applied": False,
        "reason": "older than the status applied",
    }
    assert [(a[0], a[1]) for a in applied] == [(payment_id, "APPROVED")]
    r = await mica.http.get(f"/api/v1/payments/{payment_id}")
    assert r.json()["status"] == "confirmed"

    unknown = json.dumps({"type": "something.else"}).encode()
    r = await post(unknown, signed(unknown, "n-9"))
    assert r.status_code == 422 and "type" in r.json()["detail"]


def press(sim: Sim, message_id: str, action: str, open_id: str, **kw: Any) -> dict[str, Any]:
    """A person presses `action` on the card `message_id` in Feishu; the host's answer."""
    r = sim.http.post(
        f"/_sim/messages/{message_id}/press",
        json={
            "event_id": f"evt-{uuid.uuid4().hex[:8]}",
            "action": action,
            "open_id": open_id,
            **kw,
        },
    )
    r.raise_for_status()
    return r.json()


def button_value(card: Any, name: str) -> Any:
    """The value of the card's button named `name`, wherever it sits."""
    if isinstance(card, dict):
        if card.get("tag") == "button" and card.get("name") == name:
            return card["behaviors"][0]["value"]
        card = list(card.values())
    if isinstance(card, list):
        for item in card:
            found = button_value(item, name)
            if found is not None:
                return found
    return None


def header_tag(card: dict[str, Any]) -> str:
    return card["header"].get("text_tag_list", [{}])[0].get("text", {}).get("content", "")


async def submitted_with_buttons(mica: Mica, sim: Sim, sessionmaker, pr_id: str) -> dict[str, Any]:
    await approval_workflow_on(mica, sim)
    async with sessionmaker() as session, session.begin():
        await session.execute(purchase_requisitions.insert().values(id=pr_id, status="draft"))
    r = await mica.http.post(
        f"/api/v1/purchase-requisitions/{pr_id}/submit", headers=mica.as_(mica.requester)
    )
    assert r.status_code == 200, r.text
    cards = await eventually(
        "the approver's card",
        lambda: [c for c in cards_to(sim, mica.approver.email) if f"PR-{pr_id}" in dumps(c)],
    )
    assert '"form"' in dumps(cards[0]["card"]), "the card carries the decision buttons"
    return cards[0]


async def test_an_approver_decides_on_the_feishu_card_and_mica_applies_it_once(
    mica: Mica, sim: Sim, sessionmaker
):
    pr_id = f"pr-{uuid.uuid4().hex[:8]}"
    card = await submitted_with_buttons(mica, sim, sessionmaker, pr_id)
    open_id = f"ou_{uuid.uuid4().hex[:10]}"
    answer = press(sim, card["message_id"], "approve", open_id, comment="Fine by me")
    assert answer["status"] == 200, answer
    assert answer["body"]["toast"]["type"] == "success", answer
    decided = mica.app.state.decided
    await eventually("Mica's decision", lambda: decided)
    # Mica's handler saw exactly one decision, by the approver (found by the card's email, as
    # Mica knows no Feishu id for them), with the comment.
    assert decided == [(pr_id, mica.approver.email, "approve", "Fine by me")]
    await eventually(
        "the card redrawn as approved",
        lambda: [
            c for c in cards_to(sim, mica.approver.email) if header_tag(c["card"]) == "Approved"
        ],
    )
    # A press of Reject that raced the card's redraw (its value from the card as first drawn)
    # applies nothing more.
    again = press(
        sim, card["message_id"], "reject", open_id, value=button_value(card["card"], "reject")
    )
    assert again["status"] == 200, again
    async with sessionmaker() as session:
        status = (
            await session.execute(
                select(purchase_requisitions.c.status).where(purchase_requisitions.c.id == pr_id)
            )
        ).scalar_one()
        task = (
            await session.execute(select(approval_tasks).where(approval_tasks.c.pr_id == pr_id))
        ).one()
    assert status == "approved" and task.status == "approved" and task.comment == "Fine by me"
    await asyncio.sleep(0.5)
    assert len(decided) == 1, decided


async def test_a_decision_mica_refuses_shows_its_reason_on_the_card(
    mica: Mica, sim: Sim, sessionmaker
):
    pr_id = f"pr-{uuid.uuid4().hex[:8]}"
    card = await submitted_with_buttons(mica, sim, sessionmaker, pr_id)
    # The requester withdraws the requisition before the approver presses.
    async with sessionmaker() as session, session.begin():
        await session.execute(
            update(purchase_requisitions)
            .where(purchase_requisitions.c.id == pr_id)
            .values(status="withdrawn")
        )
    press(sim, card["message_id"], "reject", f"ou_{uuid.uuid4().hex[:10]}")
    refused = await eventually(
        "the refusal on the card",
        lambda: [
            c for c in cards_to(sim, mica.approver.email) if header_tag(c["card"]) == "Not applied"
        ],
    )
    assert "withdrawn by its requester" in dumps(refused[0]["card"])
    assert mica.app.state.decided == []
    async with sessionmaker() as session:
        task = (
            await session.execute(select(approval_tasks).where(approval_tasks.c.pr_id == pr_id))
        ).one()
    assert task.status == "pending", "a refused decision changed nothing in Mica"
