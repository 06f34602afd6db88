"""Pure functions of the bridge, without any service (the e2e tests cover the wiring)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import httpx
import pytest
from people import User, someone

from mica_extension_host import events as ev
from mica_extension_host.drainer import Outcome, backoff_seconds, classify, classify_cancel
from mica_extension_host.notices import NoticeRefused, sign, verify


def answer(status: int, body: object = None) -> httpx.Response:
    return httpx.Response(status, json=body) if body is not None else httpx.Response(status)


def test_what_the_hosts_answers_mean_for_a_row():
    assert classify(answer(202, {"event_id": "e"})).outcome is Outcome.DELIVERED
    refused = classify(answer(422, {"detail": "data.url: must be an absolute URL"}))
    assert refused.outcome is Outcome.REFUSED and "data.url" in (refused.error or "")
    for status in (401, 403, 404, 408, 429, 500, 502, 503):
        assert classify(answer(status)).outcome is Outcome.RETRY, status
    assert classify_cancel(answer(409, {"detail": "already APPROVED"})).outcome is Outcome.DELIVERED
    assert classify_cancel(answer(404, {"detail": "no approval"})).outcome is Outcome.DELIVERED
    assert classify_cancel(answer(503)).outcome is Outcome.RETRY


def test_backoff_doubles_to_its_cap_with_jitter():
    first = [backoff_seconds(0, 1.0, 60.0) for _ in range(50)]
    assert all(0.8 <= d <= 1.2 for d in first)
    assert all(48.0 <= backoff_seconds(30, 1.0, 60.0) <= 72.0 for _ in range(50))


def test_money_is_a_decimal_string_never_a_float():
    assert ev.money(Decimal("12500.0000"), "cny") == {"value": "12500.00", "currency": "CNY"}
    assert ev.money(7) == {"value": "7.00", "currency": "CNY"}
    with pytest.raises(TypeError):
        ev.money(1.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        ev.money("NaN")


def test_links_are_absolute_and_ids_deterministic():
    assert ev.link("https://mica.example.com/", "/purchase-orders/7") == (
        "https://mica.example.com/purchase-orders/7"
    )
    with pytest.raises(ValueError, match="base_url"):
        ev.link("mica.example.com", "/x")
    buyer = User(email="b@example.com")

    def po() -> dict:
        return ev.po_created(
            po_id=7,
            po_number="PO-7",
            supplier="s",
            amount="1",
            currency="CNY",
            pr_title=None,
            recipients=[buyer],
            base_url="https://m.example.com",
        )

    assert po()["id"] == po()["id"] == "po_created:7"
    with pytest.raises(ValueError, match="email"):
        ev.recipient(User(email=""))


def test_a_notice_must_be_fresh_and_signed_with_the_secret():
    body = b'{"type":"payment.approval_updated"}'
    headers = {
        "x-mica-timestamp": "1000",
        "x-mica-notice-id": "n1",
        "x-mica-signature": sign("s", "1000", body),
    }
    assert verify("s", headers, body, now=1100, max_skew=300) == "n1"
    for now, secret, the_body in ((1400, "s", body), (1100, "t", body), (1100, "s", body + b" ")):
        with pytest.raises(NoticeRefused) as refused:
            verify(secret, headers, the_body, now=now, max_skew=300)
        assert refused.value.status == 401


def test_notices_and_digests_have_host_categories_and_deterministic_ids():
    user = someone("approver")
    reminder = ev.notice(
        notification_id="n-1",
        category="approval_escalation_submitter",
        title="t",
        body=None,
        link_url="/approvals",
        user=user,
        base_url="https://mica.example.com/",
    )
    assert reminder["id"] == "notice:n-1"
    assert reminder["data"]["category"] == "sla_escalation"
    assert reminder["data"]["severity"] == "urgent"
    assert reminder["data"]["url"] == "https://mica.example.com/approvals"
    other = ev.notice(
        notification_id="n-2",
        category="budget_watch",
        title="t",
        body="b",
        link_url=None,
        user=user,
        base_url="https://mica.example.com",
        fields=[("Stage", "Finance")],
    )
    assert (other["data"]["category"], other["data"]["severity"], other["data"]["url"]) == (
        "budget_watch",
        "info",
        None,
    )
    assert other["data"]["fields"] == [{"label": "Stage", "value": "Finance"}]
    with pytest.raises(ValueError, match="severity"):
        ev.notice(
            notification_id="n-3",
            category="system",
            title="t",
            body=None,
            link_url=None,
            user=user,
            base_url="https://mica.example.com",
            severity="loud",
        )
    day = date(2026, 12, 1)
    first = ev.digest(user=user, day=day, sections=[], base_url="https://mica.example.com")
    again = ev.digest(user=user, day=day, sections=[], base_url="https://mica.example.com")
    assert first["id"] == again["id"] == f"digest:{user.email.lower()}:2026-12-01"
    assert first["data"]["url"] == "https://mica.example.com/dashboard"


def test_a_card_decision_notice_is_read_with_its_decider_and_bad_ones_name_the_field():
    from mica_extension_host.decisions import BadDecision, CardDecision, parse

    notice = {
        "type": "pr.decision",
        "pr_id": "pr-7",
        "decision": "rejected",
        "comment": None,
        "decider": {"email": "wang@example.com", "feishu_open_id": "ou_w", "feishu_union_id": None},
        "delivery_id": "dlv-1",
    }
    d = parse(notice)
    assert (d.pr_id, d.decision, d.decision.action) == ("pr-7", CardDecision.REJECTED, "reject")
    assert (d.decider_email, d.feishu_open_id, d.feishu_union_id) == (
        "wang@example.com",
        "ou_w",
        None,
    )
    for field, broken in (
        ("decision", {**notice, "decision": "returned"}),
        ("pr_id", {**notice, "pr_id": ""}),
        ("decider", {**notice, "decider": "wang"}),
        ("email", {**notice, "decider": {"feishu_open_id": "ou_w"}}),
        ("delivery_id", {k: v for k, v in notice.items() if k != "delivery_id"}),
    ):
        with pytest.raises(BadDecision, match=field):
            parse(broken)
