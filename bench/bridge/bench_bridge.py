"""The Mica bridge on PostgreSQL (docs/benchmarks.md, section 7):

1. what `emit` adds to a Mica transaction (p50, p99), against the same transaction without it;
2. the drainer's events per second into the real host (rate limits off, loopback simulator);
3. what Mica's own in-process sending costs the user's request when Feishu is slow: one card
   sent the way Mica v1.49.1 sends it (a new HTTP client, a token fetch and the send, inside the
   request, 15 s timeout), against the same request with `emit` (Feishu's speed no longer matters).

Run by scripts/bench.sh with the bridge's venv; `--smoke` runs tiny sizes.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
from sqlalchemy import Column, Integer, MetaData, String, Table, text, update
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
# The test suite's helpers: its throw-away PostgreSQL cluster and its event builder.
sys.path.insert(0, str(REPO / "integrations" / "mica" / "tests"))
import people  # noqa: E402
import pg  # noqa: E402
from mica_extension_host import (  # noqa: E402
    Drainer,
    HostClient,
    HostConfig,
    counts,
    create_all,
    emit,
)

mica = MetaData()
prs = Table(
    "purchase_requisitions",
    mica,
    Column("id", Integer, primary_key=True),
    Column("status", String(16)),
    Column("title", String(200)),
)
audit = Table(
    "audit_logs",
    mica,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("event", String(64)),
    Column("ref", String(64)),
)


def event(i: int, run: str) -> dict:
    """A PO card to one of 500 people (the tests' own builder)."""
    return people.po_event(run, i, people.User(email=f"u{i % 500}@example.com"))


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, round(p / 100 * (len(values) - 1)))]


async def emit_cost(sessions, n: int) -> None:
    async def one(i: int, with_emit: bool, run: str) -> float:
        start = time.perf_counter()
        async with sessions() as s, s.begin():
            # A Mica write as submit_pr makes it: the row, an audit line, and the event.
            await s.execute(update(prs).where(prs.c.id == i % 100).values(status="submitted"))
            await s.execute(audit.insert().values(event="pr.submitted", ref=str(i)))
            if with_emit:
                await emit(s, event(i, run))
        return (time.perf_counter() - start) * 1000

    # Without, with, without, with: the first pair warms caches and the pool, the second is kept.
    runs: dict[bool, list[float]] = {}
    for with_emit in (False, True, False, True):
        run = uuid.uuid4().hex[:6]
        runs[with_emit] = [await one(i, with_emit, run) for i in range(n)]
    last_without, last_with = runs[False], runs[True]
    p50 = statistics.median(last_with) - statistics.median(last_without)
    p99 = pct(last_with, 99) - pct(last_without, 99)
    print(
        f"transaction without emit: p50 {statistics.median(last_without):.3f} ms, p99 {pct(last_without, 99):.3f} ms"
    )
    print(
        f"transaction with emit:    p50 {statistics.median(last_with):.3f} ms, p99 {pct(last_with, 99):.3f} ms"
    )
    print(f"emit adds: p50 {p50:.3f} ms, p99 {p99:.3f} ms ({n} transactions each)")


class Processes:
    def __init__(self, host_bin: Path, sim_bin: Path, plugin: Path):
        self.sim = subprocess.Popen(
            [str(sim_bin), "--listen", "127.0.0.1:0"], stdout=subprocess.PIPE, text=True
        )
        self.sim_url = self.sim.stdout.readline().strip().rsplit(" ", 1)[-1]
        self.data = tempfile.mkdtemp(prefix="bench-bridge-")
        port = pg.free_port()
        self.url = f"http://127.0.0.1:{port}"
        self.admin, self.service = (
            "bench-admin-" + uuid.uuid4().hex,
            "bench-service-" + uuid.uuid4().hex,
        )
        env = {
            **os.environ,
            "MICA_ADMIN_TOKEN": self.admin,
            "MICA_SERVICE_TOKEN": self.service,
            "RUST_LOG": "warn",
        }
        self.host = subprocess.Popen(
            [
                str(host_bin),
                "--data-dir",
                self.data,
                "serve",
                "--listen",
                f"127.0.0.1:{port}",
                "--plugin",
                str(plugin),
                "--no-rate-limits",
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{self.url}/healthz").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("the host did not start")
            time.sleep(0.05)
        r = httpx.put(
            f"{self.url}/api/v1/admin/feishu/settings",
            headers={"Authorization": f"Bearer {self.admin}"},
            json={
                "base_url": self.sim_url,
                "app_id": "cli_sim0000000000001",
                "app_secret": "sim-secret-0000000000000000000001",
                "enabled": True,
            },
        )
        r.raise_for_status()

    def stop(self) -> None:
        for p in (self.host, self.sim):
            p.kill()
            p.wait()


async def drainer_rate(sessions, procs: Processes, n: int) -> None:
    run = uuid.uuid4().hex[:6]
    async with sessions() as s, s.begin():
        for i in range(n):
            await emit(s, event(i, run))
    client = HostClient(HostConfig(url=procs.url, service_token=procs.service))
    for workers in (1, 2):
        if workers == 2:  # a second batch for two drainers (two Mica workers)
            run = uuid.uuid4().hex[:6]
            async with sessions() as s, s.begin():
                for i in range(n):
                    await emit(s, event(i, run))
        drainers = [
            Drainer(sessions, client, batch_size=50, poll_interval=0.01) for _ in range(workers)
        ]
        start = time.perf_counter()
        for d in drainers:
            d.start()
        while True:
            async with sessions() as s:
                if (await counts(s))["pending"] == 0:
                    break
            await asyncio.sleep(0.01)
        elapsed = time.perf_counter() - start
        for d in drainers:
            await d.stop()
        print(
            f"drainer into the host, {workers} drainer(s): {n} events in {elapsed:.2f} s = {n / elapsed:,.0f} events/s"
        )
    await client.aclose()


async def slow_feishu(delay: float | None) -> tuple[asyncio.AbstractServer, str]:
    """A stand-in for Feishu that answers after `delay` seconds (None: never)."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                await reader.readexactly(length)
                if delay is None:
                    await asyncio.sleep(3600)
                await asyncio.sleep(delay)
                body = (
                    b'{"code":0,"msg":"ok","tenant_access_token":"t-x","expire":7200,'
                    b'"data":{"message_id":"om_1"}}'
                )
                writer.write(
                    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: "
                    + str(len(body)).encode()
                    + b"\r\n\r\n"
                    + body
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass  # the client gave up, or the bench is closing the server
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    return server, f"http://127.0.0.1:{port}"


async def in_process_card(base: str, timeout: float) -> None:
    """One card the way Mica v1.49.1's request path sends it (re-enacted, not its code): a new
    client, a token fetch, the send; any failure is logged and swallowed by Mica."""
    try:
        async with httpx.AsyncClient(base_url=base, timeout=timeout) as c:
            await c.post(
                "/open-apis/auth/v3/tenant_access_token/internal",
                json={"app_id": "a", "app_secret": "s"},
            )
            await c.post(
                "/open-apis/im/v1/messages",
                params={"receive_id_type": "email"},
                json={
                    "receive_id": "u@example.com",
                    "msg_type": "interactive",
                    "content": "{}",
                },
            )
    except httpx.HTTPError:
        pass


async def request_cost(sessions, delays: list[float | None], timeout: float, repeats: int) -> None:
    for delay in delays:
        server, base = await slow_feishu(delay)
        inline, bridged = [], []
        for i in range(repeats):
            start = time.perf_counter()
            async with sessions() as s, s.begin():
                await s.execute(update(prs).where(prs.c.id == 1).values(status="submitted"))
                await in_process_card(base, timeout)
            inline.append(time.perf_counter() - start)
            start = time.perf_counter()
            async with sessions() as s, s.begin():
                await s.execute(update(prs).where(prs.c.id == 1).values(status="submitted"))
                await emit(s, event(i, uuid.uuid4().hex[:6]))
            bridged.append(time.perf_counter() - start)
        server.close()
        label = "no answer" if delay is None else f"{delay:g} s"
        print(
            f"Feishu answering in {label:>9}: request with in-process card {statistics.median(inline) * 1000:9.1f} ms,"
            f" with emit {statistics.median(bridged) * 1000:6.2f} ms (median of {repeats})"
        )


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--host-bin", type=Path, required=True)
    ap.add_argument("--sim-bin", type=Path, required=True)
    ap.add_argument(
        "--plugin",
        type=Path,
        default=REPO / "target/wasm32-wasip2/plugin/mica_feishu_plugin.wasm",
    )
    ap.add_argument("--smoke", action="store_true")
    args = ap.parse_args()
    cluster = pg.start()
    procs = Processes(args.host_bin, args.sim_bin, args.plugin)
    engine = create_async_engine(cluster.url, pool_size=10)
    try:
        await create_all(engine)
        async with engine.begin() as conn:
            await conn.run_sync(mica.create_all)
            await conn.execute(
                prs.insert(),
                [{"id": i, "status": "draft", "title": "t"} for i in range(100)],
            )
            await conn.execute(text("ANALYZE"))
        sessions = async_sessionmaker(engine, expire_on_commit=False)
        print(f"PostgreSQL {cluster.port} (fsync off, loopback), Python {sys.version.split()[0]}")
        await emit_cost(sessions, 50 if args.smoke else 2000)
        await drainer_rate(sessions, procs, 100 if args.smoke else 5000)
        if args.smoke:
            await request_cost(sessions, [0.0, 0.2], timeout=1.0, repeats=2)
        else:
            await request_cost(sessions, [0.0, 1.0, 5.0, None], timeout=15.0, repeats=3)
    finally:
        await engine.dispose()
        procs.stop()
        cluster.stop()


if __name__ == "__main__":
    asyncio.run(main())
