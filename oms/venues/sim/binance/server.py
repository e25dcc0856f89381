"""Binance simulator room: `BinanceSim` — the aiohttp server tying REST, WS, flow and faults together.

Touches nothing outside this simulator; binds loopback only. Public contract (others code against it):
`BinanceSim(seed=0, config=None)`, `await start(host="127.0.0.1", port=0)`, `await stop()`, `.url`,
`.ws_url`, `add_api_key(key, secret, permissions=("SPOT","FUTURES"), ips=(), ed25519_public_key=None)`,
`revoke_api_key(key)`, `.faults`, `.flow`. Admin HTTP under `/_sim/` (faults, keys, drop_ws, flow).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
from decimal import Decimal
from typing import Any

from aiohttp import web

from oms import log
from oms.venues.sim.binance import rest_futures, rest_spot
from oms.venues.sim.binance.accounts import Accounts, ApiKey
from oms.venues.sim.binance.config import SimConfig, default_config
from oms.venues.sim.binance.core import MarketCore, SimError
from oms.venues.sim.binance.faults import Faults
from oms.venues.sim.binance.flow import Flow
from oms.venues.sim.binance.rest_common import RateLimiter, Req, authenticate, parse_params
from oms.venues.sim.binance.ws import WsHub

_log = log.get(__name__)
_MUTATING = {"POST", "PUT", "DELETE"}
_5XX_BODY = {"code": -1001, "msg": "Internal error; unable to process your request. Please try again."}


class BinanceSim:
    def __init__(self, seed: int = 0, config: SimConfig | None = None, *, flow: bool | None = None) -> None:
        self.cfg = config or default_config()
        if flow is not None:
            self.cfg.flow = flow
        self.seed = seed
        self.rng = random.Random(seed)
        self.faults = Faults(rng=random.Random(seed + 1))
        self.accounts = Accounts(self.cfg.spot_balances, self.cfg.futures_balances)
        self.cores = {m: MarketCore(m, self.cfg, self.accounts, self.now) for m in ("spot", "usdm")}
        self.hub = WsHub(self.cores, self.accounts, self.faults, self.now)
        self.hub.ttl_ms = self.cfg.listen_key_ttl_s * 1000
        self.hub.svc = self
        self.limiters = {
            "spot": RateLimiter(self.cfg.spot_limits, False),
            "usdm": RateLimiter(self.cfg.futures_limits, True),
        }
        self.flow = Flow(list(self.cores.values()), self.accounts, self.rng, self.cfg.book_levels)
        for core in self.cores.values():
            core.update_marks()
        self.faults._drop_hook = self.hub.drop_all
        self.faults._on_change.append(self._faults_changed)
        self._stale: dict[tuple[str, str, int], tuple[int, dict]] = {}
        self._runner: web.AppRunner | None = None
        self._tasks: list[asyncio.Task] = []
        self.host = "127.0.0.1"
        self.port = 0

    # ------------------------------------------------------------ clock, admin
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

    def add_api_key(
        self,
        key: str,
        secret: str = "",
        permissions: tuple[str, ...] = ("SPOT", "FUTURES"),
        ips: tuple[str, ...] = (),
        ed25519_public_key: bytes | str | None = None,
        share_account_with: str | None = None,
    ) -> ApiKey:
        """Register an API key (HMAC secret, or an Ed25519 public key in PEM/raw bytes)."""
        pub = None
        if ed25519_public_key is not None:
            from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
            from cryptography.hazmat.primitives.serialization import load_pem_public_key

            raw = ed25519_public_key.encode() if isinstance(ed25519_public_key, str) else ed25519_public_key
            pub = (
                load_pem_public_key(raw)
                if raw.startswith(b"-----")
                else Ed25519PublicKey.from_public_bytes(raw)
            )
        elif not secret:
            raise ValueError(f"API key {key!r} needs an HMAC secret or an Ed25519 public key")
        bad = [p for p in permissions if p.upper() not in ("SPOT", "FUTURES")]
        if bad:
            raise ValueError(f"unknown permission(s) {bad} for key {key!r}; use SPOT and/or FUTURES")
        account = self.accounts.keys[share_account_with].account if share_account_with else None
        return self.accounts.add_key(key, secret, permissions, ips, account, pub)

    def revoke_api_key(self, key: str) -> None:
        k = self.accounts.keys.get(key)
        if k is None:
            raise KeyError(f"no API key {key!r} in the simulator")
        k.revoked = True

    def _faults_changed(self, f: Faults) -> None:
        for core in self.cores.values():
            for s, spec in core.specs.items():
                core.status[s] = "BREAK" if f.maintenance else spec.status
        if f.maintenance:
            self.hub.drop_all()

    # ------------------------------------------------------------ services used by handlers
    def snapshot(self, market: str, symbol: str, limit: int) -> dict[str, Any]:
        if self.faults.stale_ms:
            key = (market, symbol, limit)
            hit = self._stale.get(key)
            if hit is not None and self.now() - hit[0] < self.faults.stale_ms:
                return hit[1]
            snap = self.hub.snapshot(market, symbol, limit)
            self._stale[key] = (self.now(), snap)
            return snap
        return self.hub.snapshot(market, symbol, limit)

    def rate_limits(self, market: str) -> list[dict[str, Any]]:
        return self.limiters[market].exchange_info_limits()

    def listen_new(self, account: Any, market: str) -> str:
        return self.hub.listen_new(account, market)

    def listen_keep(self, key: str) -> None:
        self.hub.listen_keep(key)

    def listen_close(self, key: str) -> None:
        self.hub.listen_close(key)

    def listen_for(self, account: Any, market: str) -> str:
        return self.hub.listen_for(account, market)

    # ------------------------------------------------------------ REST
    async def _rest(self, request: web.Request) -> web.Response:
        path, method = request.path, request.method
        market = "spot" if path.startswith("/api/") else "usdm"
        module = rest_spot if market == "spot" else rest_futures
        entry = module.ENDPOINTS.get((method, path))
        raw_query = request.raw_path.partition("?")[2]
        body = (await request.read()).decode("utf-8", "replace")
        limiter = self.limiters[market]
        ip = request.remote or "127.0.0.1"
        headers: dict[str, str] = {}
        status, out = 200, None
        try:
            if self.faults.latency_ms:
                await asyncio.sleep(self.faults.latency_ms / 1000)
            now = self.now()
            if entry is None:
                known = sorted(
                    {p for m, p in module.ENDPOINTS if p.rsplit("/", 1)[0] == path.rsplit("/", 1)[0]}
                )
                return web.json_response(
                    {
                        "code": -5000,
                        "msg": f"Path {method} {path} not found; known nearby: {', '.join(known) or 'none'}",
                    },
                    status=404,
                )
            weight, security, is_order, handler = entry
            params = parse_params(raw_query, body.encode() if method in _MUTATING else b"")
            wfn = module.WEIGHT_FNS.get((method, path))
            used = limiter.charge(ip, wfn(params) if wfn else weight, now)
            headers["X-MBX-USED-WEIGHT-1M"] = str(used)
            headers["X-MBX-USED-WEIGHT"] = str(used)
            lose = self.faults.take_5xx()
            if lose and not (self.faults.execute_before_5xx and method in _MUTATING):
                return web.json_response(_5XX_BODY, status=self.faults.error_status, headers=headers)
            req = Req(method, path, params, self.cores[market], now, ip, self)
            authenticate(
                req,
                security,
                request.headers.get("X-MBX-APIKEY"),
                raw_query,
                body if method in _MUTATING else "",
                self.accounts,
                "SPOT" if market == "spot" else "FUTURES",
            )
            if is_order and req.key is not None:
                headers.update(limiter.order(req.account.uid, now))
            result = handler(req)
            if lose:
                return web.json_response(_5XX_BODY, status=self.faults.error_status, headers=headers)
            status, out = result if isinstance(result, tuple) else (200, result)
        except SimError as e:
            status, out = e.status, {"code": e.code, "msg": e.msg}
            headers.update(e.headers)
        return web.Response(
            text=json.dumps(out), status=status, headers=headers, content_type="application/json"
        )

    # ------------------------------------------------------------ admin
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
            if what == "keys" and request.method == "POST":
                self.add_api_key(
                    data["key"],
                    data.get("secret", ""),
                    tuple(data.get("permissions", ("SPOT", "FUTURES"))),
                    tuple(data.get("ips", ())),
                    data.get("ed25519_public_key"),
                )
                return web.json_response({"ok": True})
            if what == "revoke" and request.method == "POST":
                self.revoke_api_key(data["key"])
                return web.json_response({"ok": True})
            if what == "drop_ws" and request.method == "POST":
                return web.json_response({"dropped": self.faults.drop_ws()})
            if what == "flow" and request.method == "POST":
                for _ in range(int(data.get("steps", 1))):
                    self.flow.step()
                return web.json_response({"steps": self.flow.steps})
            if what == "state":
                return web.json_response(self.state())
        except (ValueError, KeyError, TypeError) as e:
            return web.json_response({"error": str(e)}, status=400)
        return web.json_response(
            {
                "error": f"unknown admin call {request.method} /_sim/{what}; use faults, keys, "
                "revoke, drop_ws, flow, state"
            },
            status=404,
        )

    def state(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "seed": self.seed,
            "faults": self.faults.as_dict(),
            "flow_steps": self.flow.steps,
            "ws_connections": len(self.hub.conns),
            "markets": {},
        }
        for m, core in self.cores.items():
            out["markets"][m] = {
                s: {
                    "best_bid": str(core.specs[s].tick * (b.best_bid() or 0)),
                    "best_ask": str(core.specs[s].tick * (b.best_ask() or 0)),
                    "update_id": b.update_id,
                    "mark": str(core.mark[s]),
                }
                for s, b in core.books.items()
            }
        return out

    # ------------------------------------------------------------ lifecycle
    def _app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/api/{tail:.*}", self._rest)
        app.router.add_route("*", "/fapi/{tail:.*}", self._rest)
        app.router.add_route("*", "/_sim/{what}", self._admin)
        for prefix in ("/ws", "/stream", "/ws-api/v3", "/ws-fapi/v1", "/fstream/{tail:.*}"):
            app.router.add_get(prefix, self.hub.handle)
        app.router.add_get("/ws/{tail:.*}", self.hub.handle)
        return app

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        if host not in ("127.0.0.1", "::1", "localhost"):
            raise ValueError(f"the simulator binds loopback only; got host {host!r}")
        self.host = host
        self._runner = web.AppRunner(self._app(), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        sock = site._server.sockets[0]  # type: ignore[union-attr]
        self.port = sock.getsockname()[1]
        self._tasks = [
            asyncio.create_task(self._every(self.cfg.depth_interval_ms, self.depth_tick)),
            asyncio.create_task(self._every(1000, self.hub.emit_marks)),
        ]
        if self.cfg.flow:
            self._tasks.append(asyncio.create_task(self._every(self.cfg.flow_interval_ms, self.flow.step)))
        _log.info("binance simulator on %s (seed %d)", self.url, self.seed)

    def depth_tick(self) -> None:
        """Emit every book's pending depth diff now (the server does this every depth_interval_ms)."""
        for m, core in self.cores.items():
            for s in core.books:
                self.hub.flush_depth(m, s)

    async def _every(self, ms: int, fn: Any) -> None:
        while True:
            await asyncio.sleep(ms / 1000)
            try:
                fn()
            except Exception:  # a bug in one tick must not stop the simulator
                _log.exception("simulator tick %s failed", getattr(fn, "__name__", fn))

    async def stop(self) -> None:
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await t
        self._tasks = []
        self.hub.drop_all()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> BinanceSim:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def balance(self, key: str, asset: str) -> tuple[Decimal, Decimal]:
        row = self.accounts.keys[key].account.spot.get(asset)
        return (row[0], row[1]) if row else (Decimal(0), Decimal(0))
