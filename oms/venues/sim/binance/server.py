"""Binance simulator room: `BinanceSim` — the kit's server skeleton (kit/server.py) with Binance's REST
and WS routes, keys, cores and flow.

Touches nothing outside this simulator; binds loopback only. Public contract (others code against it):
`BinanceSim(seed=0, config=None)`, `await start(host="127.0.0.1", port=0)`, `await stop()`, `.url`,
`.ws_url`, `add_api_key(key, secret, permissions=("SPOT","FUTURES"), ips=(), ed25519_public_key=None)`,
`revoke_api_key(key)`, `.faults`, `.flow`. Admin HTTP under `/_sim/` (faults, keys, drop_ws, flow).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from aiohttp import web

from oms.venues.sim.binance import rest_futures, rest_spot
from oms.venues.sim.binance.config import SimConfig, default_config
from oms.venues.sim.binance.core import make_core
from oms.venues.sim.binance.rest_common import RateLimiter, Req, authenticate, order_headers, parse_params
from oms.venues.sim.binance.ws import WsHub
from oms.venues.sim.kit.accounts import Accounts, ApiKey
from oms.venues.sim.kit.errors import SimError
from oms.venues.sim.kit.faults import Faults
from oms.venues.sim.kit.flow import Flow
from oms.venues.sim.kit.server import SimServer

_MUTATING = {"POST", "PUT", "DELETE"}
_5XX_BODY = {"code": -1001, "msg": "Internal error; unable to process your request. Please try again."}


class BinanceSim(SimServer):
    venue = "binance"

    def __init__(self, seed: int = 0, config: SimConfig | None = None, *, flow: bool | None = None) -> None:
        super().__init__(seed)
        self.cfg = config or default_config()
        if flow is not None:
            self.cfg.flow = flow
        self.accounts = Accounts(self.cfg.spot_balances, self.cfg.futures_balances)
        self.cores = {m: make_core(m, self.cfg, self.accounts, self.now) for m in ("spot", "usdm")}
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

    # ------------------------------------------------------------ keys
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
        mutating = method in _MUTATING
        try:
            await self.latency()
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
            params = parse_params(raw_query, body.encode() if mutating else b"")
            wfn = module.WEIGHT_FNS.get((method, path))
            ban = self.faults.take_ban()
            if ban:
                limiter.ban(ip, now, ban)
            used = limiter.charge(ip, wfn(params) if wfn else weight, now)
            headers["X-MBX-USED-WEIGHT-1M"] = str(used)
            headers["X-MBX-USED-WEIGHT"] = str(used)
            lose_now, lose_after = self.lose_answer(mutating)
            if lose_now:
                return web.json_response(_5XX_BODY, status=self.faults.error_status, headers=headers)
            req = Req(method, path, params, self.cores[market], now, ip, self)
            authenticate(
                req,
                security,
                request.headers.get("X-MBX-APIKEY"),
                raw_query,
                body if mutating else "",
                self.accounts,
                "SPOT" if market == "spot" else "FUTURES",
            )
            if is_order and req.key is not None:
                headers.update(order_headers(limiter.order(req.account.uid, now)))
            result = handler(req)
            if lose_after:
                return web.json_response(_5XX_BODY, status=self.faults.error_status, headers=headers)
            status, out = result if isinstance(result, tuple) else (200, result)
        except SimError as e:
            status, out = e.status, {"code": e.code, "msg": e.msg}
            headers.update(e.headers)
        return web.Response(
            text=json.dumps(out), status=status, headers=headers, content_type="application/json"
        )

    # ------------------------------------------------------------ admin (kit: faults, drop_ws, flow, state)
    def admin(self, what: str, method: str, data: dict[str, Any]) -> Any:
        if what == "keys" and method == "POST":
            self.add_api_key(
                data["key"],
                data.get("secret", ""),
                tuple(data.get("permissions", ("SPOT", "FUTURES"))),
                tuple(data.get("ips", ())),
                data.get("ed25519_public_key"),
            )
            return {"ok": True}
        if what == "revoke" and method == "POST":
            self.revoke_api_key(data["key"])
            return {"ok": True}
        return None

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

    # ------------------------------------------------------------ lifecycle (the kit's start/stop)
    def routes(self, app: web.Application) -> None:
        app.router.add_route("*", "/api/{tail:.*}", self._rest)
        app.router.add_route("*", "/fapi/{tail:.*}", self._rest)
        for prefix in ("/ws", "/stream", "/ws-api/v3", "/ws-fapi/v1", "/fstream/{tail:.*}"):
            app.router.add_get(prefix, self.hub.handle)
        app.router.add_get("/ws/{tail:.*}", self.hub.handle)

    def ticks(self) -> list[tuple[int, Callable[[], None]]]:
        out: list[tuple[int, Callable[[], None]]] = [
            (self.cfg.depth_interval_ms, self.depth_tick),
            (1000, self.hub.emit_marks),
        ]
        if self.cfg.flow:
            out.append((self.cfg.flow_interval_ms, self.flow.step))
        return out

    def depth_tick(self) -> None:
        """Emit every book's pending depth diff now (the server does this every depth_interval_ms)."""
        for m, core in self.cores.items():
            for s in core.books:
                self.hub.flush_depth(m, s)

    def on_stop(self) -> None:
        self.hub.drop_all()

    async def __aenter__(self) -> BinanceSim:
        await self.start()
        return self

    def balance(self, key: str, asset: str) -> tuple[Decimal, Decimal]:
        row = self.accounts.keys[key].account.spot.get(asset)
        return (row[0], row[1]) if row else (Decimal(0), Decimal(0))
