"""Mica's side of the extension host (see README.md beside this package)."""

from . import events
from .admin_proxy import admin_proxy_router
from .decisions import CardDecision, DecisionPort, DecisionRefused, Outcome
from .drainer import Drainer
from .host_client import HostClient, HostConfig
from .notices import ApprovalStatus, approval_of, notice_router
from .outbox import EventError, OutboxStatus, counts, create_all, emit, metadata, refused, requeue

__all__ = [
    "ApprovalStatus",
    "CardDecision",
    "DecisionPort",
    "DecisionRefused",
    "Drainer",
    "EventError",
    "HostClient",
    "HostConfig",
    "OutboxStatus",
    "Outcome",
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
