"""Mica users as the builders read them (Mica's `User` has these attributes)."""

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
