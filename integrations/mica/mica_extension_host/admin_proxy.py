"""Mica's three Feishu admin endpoints, served by forwarding to the host.

Mica mounts this router in place of its own handlers, behind its admin-role dependency. The
browser keeps talking to Mica with Mica's JWT; the host's admin token stays on the server. The
host's answers pass through unchanged (Mica's `FeishuSettingsTab` reads `detail` from errors and
treats any 2xx as success), except that the host refusing Mica's own credential becomes a 502:
passed through as a 401 it would make Mica's web client log the administrator out.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

import httpx
from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from .events import recipient
from .host_client import HostClient

log = logging.getLogger("mica_extension_host.admin_proxy")

PLUGIN = "feishu"


def _actor(admin: Any) -> str:
    """`X-Mica-Actor`: who is acting, for the host's log (never a credential)."""
    return f"mica user {getattr(admin, 'id', '?')} <{getattr(admin, 'email', '') or ''}>"


def _relay(response: httpx.Response) -> JSONResponse:
    if response.status_code in (401, 403):
        return JSONResponse(
            status_code=502,
            content={
                "detail": f"the extension host refused Mica's admin credential (HTTP {response.status_code}): "
                "check the admin token Mica is configured with"
            },
        )
    try:
        content = response.json()
    except ValueError:
        content = {"detail": f"the extension host answered HTTP {response.status_code}"}
    if not isinstance(content, dict):
        content = {"detail": f"the extension host answered HTTP {response.status_code}"}
    return JSONResponse(status_code=response.status_code, content=content)


def _unreachable(host: HostClient, e: httpx.HTTPError) -> JSONResponse:
    # The exception's type only: its text could name more of the request than a browser should see.
    return JSONResponse(
        status_code=502,
        content={
            "detail": f"the extension host at {host.config.url} could not be reached ({type(e).__name__})"
        },
    )


async def _json_object(request: Request) -> dict[str, Any] | JSONResponse:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except ValueError as e:
        return JSONResponse(status_code=400, content={"detail": f"body: not valid JSON ({e})"})
    if not isinstance(body, dict):
        return JSONResponse(status_code=422, content={"detail": "body: must be a JSON object"})
    return body


def admin_proxy_router(host: HostClient, current_admin: Callable[..., Any]) -> APIRouter:
    """`GET`/`PUT /admin/feishu/settings` and `POST /admin/feishu/test`.

    `current_admin` is a dependency that refuses anyone but an administrator and returns the user:
    Mica's own `require_roles("admin")` does both. The user's `id`, `email`, `display_name`,
    `preferred_locale` and Feishu ids are read from it.
    """
    router = APIRouter(prefix="/admin/feishu", tags=["admin"])

    @router.get("/settings")
    async def get_settings(admin: Any = Depends(current_admin)) -> JSONResponse:
        try:
            response = await host.admin("GET", f"/api/v1/admin/{PLUGIN}/settings")
        except httpx.HTTPError as e:
            return _unreachable(host, e)
        return _relay(response)

    async def forward(method: str, path: str, body: dict[str, Any], admin: Any) -> JSONResponse:
        try:
            response = await host.admin(
                method, path, json=body, headers={"X-Mica-Actor": _actor(admin)}
            )
        except httpx.HTTPError as e:
            return _unreachable(host, e)
        return _relay(response)

    @router.put("/settings")
    async def put_settings(request: Request, admin: Any = Depends(current_admin)) -> JSONResponse:
        body = await _json_object(request)
        if isinstance(body, JSONResponse):
            return body
        answer = await forward("PUT", f"/api/v1/admin/{PLUGIN}/settings", body, admin)
        if answer.status_code == 200:
            # Field names only: values may be secrets.
            log.info("Feishu settings changed by %s: %s", _actor(admin), sorted(body))
        return answer

    @router.post("/test")
    async def test_connection(
        request: Request, admin: Any = Depends(current_admin)
    ) -> JSONResponse:
        body = await _json_object(request)
        if isinstance(body, JSONResponse):
            return body
        # Mica's tab posts no body: the test card goes to the administrator who pressed the button,
        # by their Feishu ids when Mica has them (a plugin that predates ids uses the email).
        if "test_recipient" not in body and "test_recipient_email" not in body:
            try:
                body["test_recipient"] = recipient(admin)
            except (AttributeError, ValueError):
                pass  # no email: the host probes the bot without sending a card
        return await forward("POST", f"/api/v1/admin/{PLUGIN}/test", body, admin)

    return router
