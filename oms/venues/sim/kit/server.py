"""Simulator kit room: the HTTP/WS server skeleton of a simulated venue (aiohttp on loopback only).

Touches nothing outside the simulator; binds 127.0.0.1/::1 only. `SimServer` owns what every venue
simulator shares: the clock (with the `clock_skew_ms` fault), start/stop on a free port, periodic ticks
(depth flush, marks, the seeded flow), the latency / 5xx / ban faults around a REST call, and the
admin API under `/_sim/` (faults, drop_ws, flow, state, plus what the venue adds). A venue subclass
supplies `routes(app)`, `ticks()` and optionally `admin(what, method, data)` and `state()`.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Callable
from typing import Any

from aiohttp import web

from oms import log
from oms.venues.sim.kit.faults import Faults

_log = log.get(__name__)
LOOPBACK = ("127.0.0.1", "::1", "localhost")


class SimServer:
    """Base of every venue simulator: `await start(host, port)`, `await stop()`, `.url`, `.ws_url`."""

    venue = "venue"

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed
        self.rng = random.Random(seed)
        self.faults = Faults(rng=random.Random(seed + 1))
        self._runner: web.AppRunner | None = None
        self._tasks: list[asyncio.Task] = []
        self.host = "127.0.0.1"
        self.port = 0
        self.flow: Any = None  # a kit.flow.Flow when the venue runs synthetic flow

    # ------------------------------------------------------------ clock, addresses
    def now(self) -> int:
        return int(time.time() * 1000) + self.faults.clock_skew_ms

    @property
    def _hostport(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self._hostport}"

    @property
    def ws_url(self) -> str:
        return f"ws://{self._hostport}"

    # ------------------------------------------------------------ what a venue supplies
    def routes(self, app: web.Application) -> None:
        raise NotImplementedError

    def ticks(self) -> list[tuple[int, Callable[[], None]]]:
        """(interval ms, function) pairs the server runs while it is up."""
        return []

    def admin(self, what: str, method: str, data: dict[str, Any]) -> Any:
        """Venue admin calls beyond the kit's; return None when `what` is unknown."""
        return None

    def state(self) -> dict[str, Any]:
        return {"seed": self.seed, "faults": self.faults.as_dict()}

    # ------------------------------------------------------------ faults around a REST call
    async def latency(self) -> None:
        if self.faults.latency_ms:
            await asyncio.sleep(self.faults.latency_ms / 1000)

    def lose_answer(self, mutating: bool) -> tuple[bool, bool]:
        """(answer 5xx now without acting, act then answer 5xx) for this request, from the faults."""
        lose = self.faults.take_5xx()
        if not lose:
            return False, False
        if self.faults.execute_before_5xx and mutating:
            return False, True
        return True, False

    # ------------------------------------------------------------ admin API
    async def _admin(self, request: web.Request) -> web.Response:
        what = request.match_info["what"]
        try:
            data = await request.json() if request.can_read_body else {}
        except ValueError:
            return web.json_response({"error": "body must be a JSON object"}, status=400)
        try:
            if what == "faults":
                if request.method == "POST":
                    self.faults.set(**data)
                return web.json_response(self.faults.as_dict())
            if what == "drop_ws" and request.method == "POST":
                return web.json_response({"dropped": self.faults.drop_ws()})
            if what == "flow" and request.method == "POST" and self.flow is not None:
                for _ in range(int(data.get("steps", 1))):
                    self.flow.step()
                return web.json_response({"steps": self.flow.steps})
            if what == "state":
                return web.json_response(self.state())
            out = self.admin(what, request.method, data)
            if out is not None:
                return web.json_response(out)
        except (ValueError, KeyError, TypeError) as e:
            return web.json_response({"error": str(e)}, status=400)
        return web.json_response(
            {
                "error": f"unknown admin call {request.method} /_sim/{what}; use faults, keys, "
                "revoke, drop_ws, flow, state"
            },
            status=404,
        )

    # ------------------------------------------------------------ lifecycle
    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        if host not in LOOPBACK:
            raise ValueError(f"the simulator binds loopback only; got host {host!r}")
        self.host = host
        app = web.Application()
        app.router.add_route("*", "/_sim/{what}", self._admin)
        self.routes(app)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        sock = site._server.sockets[0]  # type: ignore[union-attr]
        self.port = sock.getsockname()[1]
        self._tasks = [asyncio.create_task(self._every(ms, fn)) for ms, fn in self.ticks()]
        _log.info("%s simulator on %s (seed %d)", self.venue, self.url, self.seed)

    async def _every(self, ms: int, fn: Callable[[], None]) -> None:
        while True:
            await asyncio.sleep(ms / 1000)
            try:
                fn()
            except Exception:  # a bug in one tick must not stop the simulator
                _log.exception("simulator tick %s failed", getattr(fn, "__name__", fn))

    def on_stop(self) -> None:
        """Close what the venue holds open (WebSockets) before the server goes down."""

    async def stop(self) -> None:
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await t
        self._tasks = []
        self.on_stop()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Any:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()
