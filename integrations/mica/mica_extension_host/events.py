"""Builders for the host's event types, from the values Mica has where each happens.

Each returns the event as `POST /api/v1/events` takes it (the host's README, "Domain events"), with a
deterministic id, so that emitting the same thing twice (a retried request, a re-run scan) queues
one event and sends one card. Links are absolute, from Mica's `app.base_url`. Money is a decimal
string, never a float.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, Protocol

Event = dict[str, Any]


class MicaUser(Protocol):
    """What the builders read of Mica's `User` (app.models.User has all of these)."""

    email: str | None
    display_name: str | None
    preferred_locale: str | None
    feishu_union_id: str | None
    feishu_open_id: str | None
    feishu_user_id: str | None


def recipient(user: MicaUser) -> dict[str, Any]:
    """A recipient object from a Mica user: email, name, locale and the Feishu ids Mica stores."""
    if not user.email:
        raise ValueError("recipient: a Mica user without an email cannot receive a card")
    return {
        "email": user.email,
        "name": user.display_name or "",
        "locale": user.preferred_locale or "zh-CN",
        "feishu_union_id": user.feishu_union_id or None,
        "feishu_open_id": user.feishu_open_id or None,
        "feishu_user_id": user.feishu_user_id or None,
    }


def person(user: MicaUser) -> dict[str, str]:
    """A person named on a card (applicant, decider): name and email."""
    return {"name": user.display_name or "", "email": user.email or ""}


def money(value: Decimal | int | str, currency: str = "CNY") -> dict[str, str]:
    """`{"value": "12500.00", "currency": "CNY"}`; a float is refused (it would round)."""
    if isinstance(value, float):
        raise TypeError("money: pass a Decimal, an int or a decimal string, never a float")
    amount = Decimal(value)
    if not amount.is_finite():
        raise ValueError(f"money: {value!r} is not a finite amount")
    # Mica stores Numeric(18, 4); cards show cents.
    return {"value": f"{amount.quantize(Decimal('0.01')):f}", "currency": currency.upper()}


def link(base_url: str, path: str) -> str:
    """An absolute link into Mica's web app (`app.base_url` + a path such as `/purchase-orders/7`)."""
    base = base_url.strip().rstrip("/")
    if not base.startswith(("https://", "http://")):
        raise ValueError(f"base_url: {base_url!r} must be an absolute http(s) URL (app.base_url)")
    return f"{base}/{path.lstrip('/')}"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _event(
    event_type: str, event_id: str, recipients: Iterable[MicaUser], data: dict[str, Any]
) -> Event:
    return {
        "id": event_id,
        "type": event_type,
        "occurred_at": _now(),
        "recipients": [recipient(u) for u in recipients],
        "data": data,
    }


def pr_submitted(
    *,
    pr_id: Any,
    pr_number: str,
    title: str,
    applicant: MicaUser,
    department: str | None,
    amount: Decimal | int | str,
    currency: str,
    line_count: int,
    approvers: Iterable[MicaUser],
    stage: int | str,
    approval_instance_id: Any,
    base_url: str,
) -> Event:
    """A PR reached an approval stage: one card to each approver of that stage.

    The id names the approval instance and stage, so a PR returned and submitted again (a new
    approval instance) gets new cards, and one stage notified twice does not.
    """
    return _event(
        "pr_submitted",
        f"pr_submitted:{pr_id}:{approval_instance_id}:{stage}",
        approvers,
        {
            "pr_id": str(pr_id),
            "pr_number": pr_number,
            "title": title,
            "applicant": person(applicant),
            "department": department or "",
            "amount": money(amount, currency),
            "line_count": int(line_count),
            "url": link(base_url, f"/purchase-requisitions/{pr_id}"),
        },
    )


def approval_decided(
    *,
    pr_id: Any,
    pr_number: str,
    title: str,
    decider: MicaUser,
    result: str,
    comment: str | None,
    requester: MicaUser,
    approval_instance_id: Any,
    base_url: str,
) -> Event:
    """A PR was approved, rejected or returned: one card to its requester."""
    if result not in ("approved", "rejected", "returned"):
        raise ValueError(f"result: {result!r} is not approved, rejected or returned")
    return _event(
        "approval_decided",
        f"approval_decided:{pr_id}:{approval_instance_id}:{result}",
        [requester],
        {
            "pr_id": str(pr_id),
            "pr_number": pr_number,
            "title": title,
            "decider": person(decider),
            "result": result,
            "comment": comment or None,
            "url": link(base_url, f"/purchase-requisitions/{pr_id}"),
        },
    )


def po_created(
    *,
    po_id: Any,
    po_number: str,
    supplier: str,
    amount: Decimal | int | str,
    currency: str,
    pr_title: str | None,
    recipients: Iterable[MicaUser],
    base_url: str,
) -> Event:
    """A purchase order was created: cards to its buyer and the PR's requester."""
    return _event(
        "po_created",
        f"po_created:{po_id}",
        recipients,
        {
            "po_id": str(po_id),
            "po_number": po_number,
            "supplier": supplier,
            "amount": money(amount, currency),
            "pr_title": pr_title or "",
            "url": link(base_url, f"/purchase-orders/{po_id}"),
        },
    )


def payment_pending(
    *,
    payment_id: Any,
    payment_number: str,
    po_number: str,
    supplier: str,
    amount: Decimal | int | str,
    currency: str,
    due_date: date | None,
    description: str | None,
    submitter: MicaUser,
    finance: Iterable[MicaUser],
    base_url: str,
    submission: int | str | None = None,
) -> Event:
    """A payment awaits approval: cards to finance; with the payment workflow on, the host also
    starts a Feishu approval whose initiator is `submitter` (who needs a Feishu open_id or user_id).

    A payment rejected or cancelled in Feishu may be sent again: pass `submission` (2, 3, ...) so
    the new request is a new event; the host then starts a new approval instance.
    """
    suffix = "" if submission is None else f":{submission}"
    return _event(
        "payment_pending",
        f"payment_pending:{payment_id}{suffix}",
        finance,
        {
            "payment_id": str(payment_id),
            "payment_number": payment_number,
            "po_number": po_number,
            "supplier": supplier,
            "amount": money(amount, currency),
            "due_date": due_date.isoformat() if due_date else None,
            "description": description or None,
            "url": link(base_url, "/payments"),
            "submitter": recipient(submitter),
        },
    )


def contract_expiring(
    *,
    contract_id: Any,
    contract_number: str,
    supplier: str,
    expiry_date: date,
    days_remaining: int,
    total_amount: Decimal | int | str,
    used_amount: Decimal | int | str,
    currency: str,
    recipients: Iterable[MicaUser],
    base_url: str,
) -> Event:
    """A contract is about to expire: cards to its owner and their manager.

    The id carries the days remaining, so the daily scan sends one card per threshold Mica
    notifies at (30, 7, 1 days...) and a scan run twice in a day sends nothing new.
    """
    return _event(
        "contract_expiring",
        f"contract_expiring:{contract_id}:{int(days_remaining)}",
        recipients,
        {
            "contract_id": str(contract_id),
            "contract_number": contract_number,
            "supplier": supplier,
            "expiry_date": expiry_date.isoformat(),
            "days_remaining": int(days_remaining),
            "total_amount": money(total_amount, currency),
            "used_amount": money(used_amount, currency),
            "url": link(base_url, f"/contracts/{contract_id}"),
        },
    )


# Mica's notification kinds (`Notification.biz_type`, else `Notification.category`) and what the
# host calls them; any other passes through as its own category.
_NOTICE_CATEGORIES = {
    "approval_reminder": "approval_reminder",
    "approval_escalation": "sla_escalation",
    "approval_escalation_submitter": "sla_escalation",
    "price_anomaly": "price_anomaly",
    "system": "system",
}
_SEVERITIES = {"sla_escalation": "urgent", "price_anomaly": "warning"}


def notice(
    *,
    notification_id: Any,
    category: str,
    title: str,
    body: str | None,
    link_url: str | None,
    user: MicaUser,
    base_url: str,
    severity: str | None = None,
    fields: Iterable[tuple[str, str]] = (),
) -> Event:
    """One of Mica's notifications (reminder, SLA escalation, price anomaly, system notice) as a
    card to its user: pass `notification.biz_type or notification.category.value` as `category`.

    The id is the notification's, so a retried request sends one card. An escalation is urgent
    (red) and a price anomaly a warning (orange) unless `severity` says otherwise.
    """
    kind = _NOTICE_CATEGORIES.get(category, category)
    chosen = severity or _SEVERITIES.get(kind, "info")
    if chosen not in ("info", "warning", "urgent"):
        raise ValueError(f"severity: {chosen!r} is not info, warning or urgent")
    url = None
    if link_url:
        url = link_url if link_url.startswith(("https://", "http://")) else link(base_url, link_url)
    return _event(
        "notice",
        f"notice:{notification_id}",
        [user],
        {
            "category": kind,
            "title": title,
            "body": body or "",
            "url": url,
            "severity": chosen,
            "fields": [{"label": label, "value": value} for label, value in fields],
        },
    )


def digest_section(
    *,
    kind: str,
    title: str,
    count: int,
    base_url: str,
    items: Iterable[tuple[str, str | None]] = (),
) -> dict[str, Any]:
    """One section of a digest: how many there are, and the first few as (title, Mica path)."""
    return {
        "kind": kind,
        "title": title,
        "count": int(count),
        "items": [
            {"title": text, "url": link(base_url, path) if path else None} for text, path in items
        ],
    }


def digest(
    *,
    user: MicaUser,
    day: date,
    sections: Iterable[dict[str, Any]],
    base_url: str,
    dashboard_path: str = "/dashboard",
) -> Event:
    """One person's daily digest card (sections from `digest_section`). One per person per day:
    the scan run twice sends one card."""
    return _event(
        "digest",
        f"digest:{(user.email or '').lower()}:{day.isoformat()}",
        [user],
        {
            "date": day.isoformat(),
            "url": link(base_url, dashboard_path),
            "sections": list(sections),
        },
    )


CANCEL_TYPE = "payment_cancelled"


def payment_cancelled(*, payment_id: Any, because: str) -> Event:
    """Mica deleted or settled a payment: cancel its open approval in Feishu.

    Emitted like an event (in the transaction that deletes or settles the payment), but the
    drainer posts it to the host's `POST /api/v1/approvals/{payment_id}/cancel`. `because` (for
    instance "deleted", "settled") makes the id; a payment with no open approval is a no-op.
    """
    return {
        "id": f"{CANCEL_TYPE}:{payment_id}:{because}",
        "type": CANCEL_TYPE,
        "payment_id": str(payment_id),
    }
