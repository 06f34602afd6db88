"""The real parts the bridge's tests run against: a PostgreSQL cluster (Mica's database), the
Feishu simulator binary and the real `mica-host` binary with the plugin component, all on loopback.
The Rust side must be built first (`scripts/test.sh` does: `cargo test` builds both binaries).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pg
import pytest
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from mica_extension_host import create_all

REPO = Path(__file__).resolve().parents[3]
TARGET = Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))
HOST_BIN = TARGET / "debug" / "mica-host"
SIM_BIN = TARGET / "debug" / "feishu-sim"
PLUGIN = TARGET / "wasm32-wasip2" / "plugin" / "mica_feishu_plugin.wasm"
COMPILE_CACHE = TARGET / "test-compile-cache"

APP_ID = "cli_sim0000000000001"
APP_SECRET = "sim-secret-0000000000000000000001"
CALLBACK_SECRET = "bridge-notice-secret-0123456789"
APPROVAL_CODE = "7C468A54-8745-2245-9675-08B7C63E7A85"
VERIFICATION_TOKEN = "vt-bridge-0123456789"
ENCRYPT_KEY = "encrypt-key-for-bridge-tests"


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def postgres() -> Iterator[pg.Cluster]:
    cluster = pg.start()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
async def engine(postgres: pg.Cluster) -> AsyncIterator[AsyncEngine]:
    """A fresh database per test, with the bridge's tables created by `create_all`."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_async_engine(postgres.url, isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    await admin.dispose()
    engine = create_async_engine(postgres.database_url(name), pool_size=10)
    await create_all(engine)
    try:
        yield engine
    finally:
        await engine.dispose()


@pytest.fixture
def sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


class Sim:
    """The `feishu-sim` binary, inspected and driven through its `/_sim` endpoints."""

    def __init__(self) -> None:
        for binary in (SIM_BIN, HOST_BIN, PLUGIN):
            if not binary.is_file():
                pytest.fail(
                    f"{binary} is missing: run scripts/test.sh (it builds the Rust side first)"
                )
        self.process = subprocess.Popen(
            [str(SIM_BIN), "--listen", "127.0.0.1:0"], stdout=subprocess.PIPE, text=True
        )
        assert self.process.stdout is not None
        first = self.process.stdout.readline()  # "Feishu simulator on http://127.0.0.1:PORT"
        self.url = first.strip().rsplit(" ", 1)[-1]
        assert self.url.startswith("http://127.0.0.1:"), first
        self.http = httpx.Client(base_url=self.url, timeout=10)

    def messages(self) -> list[dict[str, Any]]:
        return self.http.get("/_sim/messages").json()["messages"]

    def instances(self) -> list[dict[str, Any]]:
        return self.http.get("/_sim/instances").json()["instances"]

    def decide(self, instance_code: str, status: str) -> None:
        r = self.http.post(f"/_sim/instances/{instance_code}/decide", json={"status": status})
        assert r.status_code == 200, r.text

    def stop(self) -> None:
        self.http.close()
        self.process.kill()
        self.process.wait()


@pytest.fixture
def sim() -> Iterator[Sim]:
    s = Sim()
    try:
        yield s
    finally:
        s.stop()


class Host:
    """The real `mica-host` binary on a temporary data directory, pointed at the simulator."""

    def __init__(self, sim: Sim, callback_url: str | None = None) -> None:
        self.sim = sim
        self.data = Path(tempfile.mkdtemp(prefix="bridge-host-"))
        self.port = pg.free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.admin_token = f"adm-{uuid.uuid4().hex}"
        self.service_token = f"svc-{uuid.uuid4().hex}"
        self.callback_url = callback_url
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {
            **os.environ,
            "MICA_ADMIN_TOKEN": self.admin_token,
            "MICA_SERVICE_TOKEN": self.service_token,
            "MICA_CACHE_DIR": str(COMPILE_CACHE),
            # Warnings, and the settings changes with who made them.
            "RUST_LOG": "warn,mica_host::api::admin=info",
        }
        if self.callback_url:
            env |= {"MICA_CALLBACK_URL": self.callback_url, "MICA_CALLBACK_SECRET": CALLBACK_SECRET}
        log = open(self.data / "host.log", "ab")
        self.process = subprocess.Popen(
            [
                str(HOST_BIN),
                "--data-dir",
                str(self.data),
                "serve",
                "--listen",
                f"127.0.0.1:{self.port}",
                "--plugin",
                str(PLUGIN),
            ],
            env=env,
            stdout=log,
            stderr=log,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            assert self.process.poll() is None, self.log()
            time.sleep(0.05)
        raise AssertionError(f"the host did not start: {self.log()}")

    def configure(self, **extra: Any) -> None:
        settings = {
            "base_url": self.sim.url,
            "app_id": APP_ID,
            "app_secret": APP_SECRET,
            "enabled": True,
            **extra,
        }
        r = self.admin("PUT", "/api/v1/admin/feishu/settings", settings)
        assert r.status_code == 200, r.text

    def admin(self, method: str, path: str, body: Any = None) -> httpx.Response:
        return httpx.request(
            method,
            f"{self.url}{path}",
            json=body,
            timeout=30,
            headers={"Authorization": f"Bearer {self.admin_token}"},
        )

    def deliveries(self, event_id: str) -> list[dict[str, Any]]:
        r = httpx.get(
            f"{self.url}/api/v1/deliveries",
            params={"event_id": event_id},
            timeout=10,
            headers={"Authorization": f"Bearer {self.service_token}"},
        )
        return r.json().get("deliveries", []) if r.status_code == 200 else []

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def log(self) -> str:
        try:
            return (self.data / "host.log").read_text(errors="replace")[-4000:]
        except OSError:
            return ""


@pytest.fixture
def host(sim: Sim) -> Iterator[Host]:
    h = Host(sim)
    h.start()
    h.configure()
    try:
        yield h
    finally:
        h.stop()


async def eventually(what: str, condition: Any, timeout: float = 30.0) -> Any:
    """Poll `condition()` until it returns something truthy, yielding to the event loop between
    looks (the drainer and the app under test run on it); fail naming `what`."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


def cards_to(sim: Sim, receive_id: str) -> list[dict[str, Any]]:
    return [m for m in sim.messages() if m["receive_id"] == receive_id]


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)
