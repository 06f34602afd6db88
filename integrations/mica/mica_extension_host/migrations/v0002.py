"""Decisions taken on Feishu cards, one row per notice with Mica's answer (bridge schema 2)."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


def upgrade() -> None:
    op.create_table(
        "extension_host_decisions",
        sa.Column("notice_id", sa.String(100), primary_key=True),
        sa.Column("pr_id", sa.String(200), nullable=False),
        sa.Column("delivery_id", sa.String(200), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text()),
        sa.Column(
            "received_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
    )


def downgrade() -> None:
    op.drop_table("extension_host_decisions")
