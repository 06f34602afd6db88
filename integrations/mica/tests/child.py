"""A stand-in for one Mica worker process, to be killed mid-work by the tests.

python child.py emit DB_URL N PREFIX EMAIL_DOMAIN   commit N events, then SIGKILL itself
python child.py drain DB_URL HOST_URL SERVICE_TOKEN drain the outbox until killed
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys

from people import User, po_event
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from mica_extension_host import Drainer, HostClient, HostConfig, emit


async def emit_then_die(url: str, n: int, prefix: str) -> None:
    engine = create_async_engine(url)
    sessions = async_sessionmaker(engine)
    async with sessions() as session, session.begin():
        for i in range(n):
            buyer = User(email=f"{prefix}-{i}@example.com")
            await emit(session, po_event(prefix, i, buyer))
    # Committed. A second transaction is under way when the process dies: it must leave nothing.
    async with sessions() as session:
        await session.begin()
        await emit(session, po_event(prefix, n, User(email=f"{prefix}-uncommitted@example.com")))
        await session.flush()
        print("committed", flush=True)
        os.kill(os.getpid(), signal.SIGKILL)


async def drain_forever(url: str, host_url: str, token: str) -> None:
    engine = create_async_engine(url)
    drainer = Drainer(
        async_sessionmaker(engine),
        HostClient(HostConfig(url=host_url, service_token=token)),
        batch_size=5,
        poll_interval=0.05,
    )
    print("draining", flush=True)
    await drainer.run()


if __name__ == "__main__":
    if sys.argv[1] == "emit":
        asyncio.run(emit_then_die(sys.argv[2], int(sys.argv[3]), sys.argv[4]))
    else:
        asyncio.run(drain_forever(sys.argv[2], sys.argv[3], sys.argv[4]))
