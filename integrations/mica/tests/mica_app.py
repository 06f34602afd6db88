"""A small stand-in for Mica's backend, wired exactly as the bridge's README tells Mica to:
the outbox emitted in the same transaction as the change, the drainer started from the lifespan,
the admin proxy mounted behind an admin-role check in place of Mica's three Feishu handlers, and
the notice receiver updating a payment's status. Its login is a bearer token looked up in a
table, standing in for Mica's JWT.
"""

# No `from __future__ import annotations` here: FastAPI must see the nested dependencies'
# annotations as objects, not as names to look up in this module.
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Annotated

from fastapi import Depends, FastAPI, HTTPException, Request
from people import User
from sqlalchemy import Column, MetaData, String, Table, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from mica_extension_host import (
    ApprovalStatus,
    DecisionRefused,
    Drainer,
    HostClient,
    HostConfig,
    admin_proxy_router,
    emit,
    notice_router,
)
from mica_extension_host import events as ev

mica_tables = MetaData()
payments = Table(
    "payment_records",
    mica_tables,
    Column("id", String(64), primary_key=True),
    Column("status", String(16), nullable=False),
)
purchase_requisitions = Table(
    "purchase_requisitions",
    mica_tables,
    Column("id", String(64), primary_key=True),
    Column("status", String(16), nullable=False),
)

# Mica's ApprovalTask, reduced to what a card decision touches: one pending task per approver.
approval_tasks = Table(
    "approval_tasks",
    mica_tables,
    Column("pr_id", String(64), primary_key=True),
    Column("assignee_email", String(200), primary_key=True),
    Column("status", String(16), nullable=False),
    Column("comment", String(1000)),
)

# The README's status mapping onto Mica's PaymentStatus (pending, confirmed, cancelled).
PAYMENT_STATUS = {
    ApprovalStatus.APPROVED: "confirmed",
    ApprovalStatus.REJECTED: "cancelled",
    ApprovalStatus.CANCELED: "cancelled",
    ApprovalStatus.DELETED: "cancelled",
    ApprovalStatus.REVERTED: "pending",
}


def build_app(
    sessionmaker: async_sessionmaker[AsyncSession],
    host: HostConfig,
    notice_secret: str,
    users: dict[str, User],
    base_url: str = "https://mica.example.com",
) -> FastAPI:
    client = HostClient(host)
    drainer = Drainer(sessionmaker, client, poll_interval=0.05)
    applied: list[tuple[str, str, str, datetime]] = []

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        drainer.start()
        yield
        await drainer.stop()
        await client.aclose()

    app = FastAPI(lifespan=lifespan)
    app.state.applied = applied

    async def get_db() -> AsyncIterator[AsyncSession]:
        async with sessionmaker() as session:
            yield session

    async def get_current_user(request: Request) -> User:
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        user = users.get(token)
        if user is None:
            raise HTTPException(401, "auth.invalid_token")
        return user

    def require_roles(*roles: str):
        # As Mica's app.core.security.require_roles: checks the role, returns the user.
        async def check(user: Annotated[User, Depends(get_current_user)]) -> User:
            if user.role not in roles:
                raise HTTPException(403, "insufficient_role")
            return user

        return check

    async def on_approval_update(
        payment_id: str, status: ApprovalStatus, instance_code: str, operate_time: datetime
    ) -> None:
        applied.append((payment_id, status.value, instance_code, operate_time))
        if status in PAYMENT_STATUS:
            async with sessionmaker() as session, session.begin():
                await session.execute(
                    update(payments)
                    .where(payments.c.id == payment_id)
                    .values(status=PAYMENT_STATUS[status])
                )

    class Decisions:
        """The README's `DecisionPort` for Mica v1.49.1, on this stand-in's tables: users by
        Feishu id then email, the pending task, and `act_on_task`'s effect on both."""

        async def find_user(
            self,
            session: AsyncSession,
            *,
            feishu_open_id: str | None,
            feishu_union_id: str | None,
            email: str,
        ) -> User | None:
            for attribute, value in (
                ("feishu_open_id", feishu_open_id),
                ("feishu_union_id", feishu_union_id),
                ("email", email),
            ):
                found = [u for u in users.values() if value and getattr(u, attribute) == value]
                if found:
                    return found[0]
            return None

        async def holds_open_task(self, session: AsyncSession, user: User, pr_id: str) -> bool:
            task = await session.execute(
                select(approval_tasks.c.status).where(
                    approval_tasks.c.pr_id == pr_id,
                    approval_tasks.c.assignee_email == user.email,
                    approval_tasks.c.status == "pending",
                )
            )
            return task.first() is not None

        async def apply(
            self, session: AsyncSession, user: User, pr_id: str, action: str, comment: str | None
        ) -> None:
            pr_status = (
                await session.execute(
                    select(purchase_requisitions.c.status).where(
                        purchase_requisitions.c.id == pr_id
                    )
                )
            ).scalar_one()
            if pr_status == "withdrawn":
                raise DecisionRefused("the requisition was withdrawn by its requester")
            result = "approved" if action == "approve" else "rejected"
            await session.execute(
                update(approval_tasks)
                .where(
                    approval_tasks.c.pr_id == pr_id,
                    approval_tasks.c.assignee_email == user.email,
                )
                .values(status=result, comment=comment)
            )
            await session.execute(
                update(purchase_requisitions)
                .where(purchase_requisitions.c.id == pr_id)
                .values(status=result)
            )
            decided.append((pr_id, user.email, action, comment))

    decided: list[tuple[str, str, str, str | None]] = []
    app.state.decided = decided

    # The README's two mounts.
    app.include_router(admin_proxy_router(client, require_roles("admin")), prefix="/api/v1")
    app.include_router(
        notice_router(
            secret=notice_secret,
            sessionmaker=sessionmaker,
            on_approval_update=on_approval_update,
            decisions=Decisions(),
        ),
        prefix="/api/v1",
    )

    # Mica's submit_pr, with the one added emit() before its commit.
    @app.post("/api/v1/purchase-requisitions/{pr_id}/submit")
    async def submit_pr(
        pr_id: str,
        user: Annotated[User, Depends(get_current_user)],
        db: Annotated[AsyncSession, Depends(get_db)],
    ) -> dict[str, str]:
        await db.execute(
            update(purchase_requisitions)
            .where(purchase_requisitions.c.id == pr_id)
            .values(status="submitted")
        )
        approver = next(u for u in users.values() if u.role == "approver")
        await db.execute(
            approval_tasks.insert().values(
                pr_id=pr_id, assignee_email=approver.email, status="pending"
            )
        )
        await emit(
            db,
            ev.pr_submitted(
                pr_id=pr_id,
                pr_number=f"PR-{pr_id}",
                title="Laptops for design",
                applicant=user,
                department="Design",
                amount="12500.00",
                currency="CNY",
                line_count=3,
                approvers=[approver],
                stage=1,
                approval_instance_id=uuid.uuid5(uuid.NAMESPACE_URL, pr_id),
                base_url=base_url,
            ),
        )
        await db.commit()
        drainer.wake()
        return {"status": "submitted"}

    # Mica's create_payment (flow.py), with the one added emit().
    @app.post("/api/v1/payments/{payment_id}")
    async def create_payment(
        payment_id: str,
        user: Annotated[User, Depends(get_current_user)],
        db: Annotated[AsyncSession, Depends(get_db)],
    ) -> dict[str, str]:
        await db.execute(payments.insert().values(id=payment_id, status="pending"))
        finance = [u for u in users.values() if u.role == "finance"]
        await emit(
            db,
            ev.payment_pending(
                payment_id=payment_id,
                payment_number=f"PO-1-P{payment_id[-2:]}",
                po_number="PO-1",
                supplier="ACME Ltd.",
                amount="6250.00",
                currency="CNY",
                due_date=None,
                description="First instalment",
                submitter=user,
                finance=finance,
                base_url=base_url,
            ),
        )
        await db.commit()
        drainer.wake()
        return {"status": "pending"}

    # Mica's delete_payment (flow.py), with the one added emit() before its commit.
    @app.delete("/api/v1/payments/{payment_id}")
    async def delete_payment(
        payment_id: str,
        user: Annotated[User, Depends(get_current_user)],
        db: Annotated[AsyncSession, Depends(get_db)],
    ) -> dict[str, str]:
        await db.execute(payments.delete().where(payments.c.id == payment_id))
        await emit(db, ev.payment_cancelled(payment_id=payment_id, because="deleted"))
        await db.commit()
        drainer.wake()
        return {"status": "deleted"}

    @app.get("/api/v1/payments/{payment_id}")
    async def get_payment(
        payment_id: str, db: Annotated[AsyncSession, Depends(get_db)]
    ) -> dict[str, str]:
        status = (
            await db.execute(select(payments.c.status).where(payments.c.id == payment_id))
        ).scalar_one()
        return {"status": status}

    return app
