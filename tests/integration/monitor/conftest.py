"""Fixtures for the monitor's integration tests: a real nats-server and a local webhook receiver."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiohttp import web

from oms.services.nats import NatsServer


@pytest.fixture
def monitor_nats(tmp_path: Path) -> Iterator[NatsServer]:
    srv = NatsServer(tmp_path / "nats")
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


@dataclass
class WebhookReceiver:
    """A real HTTP server on loopback recording what Slack/Discord webhooks would receive."""

    base_url: str = ""
    received: dict[str, list[dict[str, object]]] = field(default_factory=lambda: {"slack": [], "discord": []})
    status: int = 200


@pytest.fixture
async def webhooks() -> AsyncIterator[WebhookReceiver]:
    rx = WebhookReceiver()

    async def hook(req: web.Request) -> web.Response:
        rx.received[req.match_info["svc"]].append(await req.json())
        return web.Response(status=rx.status, text="ok")

    app = web.Application()
    app.router.add_post("/hooks/{svc}", hook)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    rx.base_url = f"http://127.0.0.1:{port}/hooks"
    try:
        yield rx
    finally:
        await runner.cleanup()
