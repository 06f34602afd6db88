"""How Mica's backend reaches the extension host: its URL and the two credentials.

The service token goes with events; the admin token only with the admin proxy's requests. Neither
is ever put in a log line, an exception message or a response to the browser.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx


@dataclass(frozen=True)
class HostConfig:
    """Where the host is (`MICA_EXTENSION_HOST_URL`) and its credentials.

    `service_token` (the host's `MICA_SERVICE_TOKEN`) may post events and read their outcome;
    `admin_token` (the host's `MICA_ADMIN_TOKEN`) is needed only by the admin proxy.
    """

    url: str
    service_token: str = field(repr=False)
    admin_token: str | None = field(default=None, repr=False)
    timeout_seconds: float = 10.0


class HostClient:
    """One pooled HTTP client to the host, shared by the drainer and the proxy."""

    def __init__(self, config: HostConfig, transport: httpx.AsyncBaseTransport | None = None):
        self.config = config
        self._http = httpx.AsyncClient(
            base_url=config.url.rstrip("/"),
            timeout=httpx.Timeout(config.timeout_seconds),
            transport=transport,
            # Retries are the drainer's job, with its backoff; redirects would leak the token.
            follow_redirects=False,
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def post_event(self, body: bytes) -> httpx.Response:
        return await self._http.post(
            "/api/v1/events",
            content=body,
            headers={
                "Authorization": f"Bearer {self.config.service_token}",
                "Content-Type": "application/json",
            },
        )

    async def cancel_approval(self, payment_id: str) -> httpx.Response:
        return await self._http.post(
            f"/api/v1/approvals/{quote(payment_id, safe='')}/cancel",
            headers={"Authorization": f"Bearer {self.config.service_token}"},
        )

    async def admin(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        if not self.config.admin_token:
            raise RuntimeError("HostConfig.admin_token is not set: the admin proxy needs it")
        sent = {"Authorization": f"Bearer {self.config.admin_token}", **(headers or {})}
        return await self._http.request(method, path, json=json, headers=sent)
