"""Mica's side of the extension host (see README.md beside this package)."""

from . import events
from .admin_proxy import admin_proxy_router
from .drainer import Drainer
from .host_client import HostClient, HostConfig
from .notices import ApprovalStatus, approval_of, notice_router
from .outbox import EventError, OutboxStatus, counts, create_all, emit, metadata, refused, requeue

__all__ = [
    "ApprovalStatus",
    "Drainer",
    "EventError",
    "HostClient",
    "HostConfig",
    "OutboxStatus",
    "admin_proxy_router",
    "approval_of",
    "counts",
    "create_all",
    "emit",
    "events",
    "metadata",
    "notice_router",
    "refused",
    "requeue",
]
