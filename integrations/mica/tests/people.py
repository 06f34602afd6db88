"""Mica users as the builders read them (Mica's `User` has these attributes), and the event the
tests emit most."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field


@dataclass
class User:
    email: str
    display_name: str = "Test User"
    preferred_locale: str | None = "zh-CN"
    role: str = "requester"
    feishu_union_id: str | None = None
    feishu_open_id: str | None = None
    feishu_user_id: str | None = None
    id: uuid.UUID = field(default_factory=uuid.uuid4)


def someone(tag: str, **kw: object) -> User:
    """A user with an email unique to this test run."""
    return User(email=f"{tag}-{uuid.uuid4().hex[:8]}@example.com", **kw)  # type: ignore[arg-type]


def po_event(prefix: str, i: int, buyer: User, base_url: str = "https://mica.example.com") -> dict:
    """A `po_created` event for PO `<prefix>-<i>` with one recipient."""
    from mica_extension_host import events

    return events.po_created(
        po_id=f"{prefix}-{i}",
        po_number=f"PO-{prefix}-{i}",
        supplier="ACME Ltd.",
        amount="100.00",
        currency="CNY",
        pr_title="Laptops",
        recipients=[buyer],
        base_url=base_url,
    )
