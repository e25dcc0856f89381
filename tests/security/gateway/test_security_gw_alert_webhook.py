"""Security (gateway program): a token lockout alert leaves the gateway as an ERROR log line and, when
`[monitor]` names webhooks, as a Slack/Discord message (a real HTTP receiver on loopback here)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from aiohttp import web

from oms.config import load
from oms.procs.gateway import alert_path
from oms.testing import eventually_async
from tests.security.gateway.conftest import ROOT


async def test_lockout_alert_reaches_the_monitor_webhooks(tmp_path: Path) -> None:
    got: list[dict[str, object]] = []

    async def hook(req: web.Request) -> web.Response:
        got.append(await req.json())
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/slack", hook)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        cfg_file = tmp_path / "oms.toml"
        cfg_file.write_text(
            (ROOT / "configs" / "oms.toml").read_text()
            + f'\n[monitor]\nslack_webhook_url = "http://127.0.0.1:{port}/slack"\n'
        )
        alert = alert_path(load(cfg_file))
        alert("token abc (ops) locked for 60 s after 5 wrong TOTP codes in a row from 127.0.0.1:5000")
        await eventually_async(lambda: got, timeout=5)
        assert "locked for 60 s" in str(got[0]["text"]) and str(got[0]["text"]).startswith("OMS gateway")
    finally:
        await asyncio.sleep(0)
        await runner.cleanup()
