"""Bybit simulator room: `BybitSim` — the kit's server skeleton with Bybit v5's REST and WS (ws.py) wire: the
`X-BAPI-*` signature (HMAC-SHA256 hex of timestamp + apiKey + recvWindow + query | raw JSON body),
the `{retCode, retMsg, result, retExtInfo, time}` envelope with business errors as HTTP 200, per-UID
per-endpoint limits (`X-Bapi-Limit*` headers, 10006) and the per-IP limit (HTTP 403 and a ban).

Touches nothing outside this simulator; binds loopback only. Public contract: `BybitSim(seed=0,
config=None, flow=None)`, `await start()/stop()`, `.url`, `add_api_key(key, secret, permissions=
("SPOT", "CONTRACT"), ips=())`, `revoke_api_key(key)`, `.faults`, `.cores["spot"|"linear"]`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable
from typing import Any

from aiohttp import web

from oms.venues.sim.bybit import rest
from oms.venues.sim.bybit.config import CATEGORIES, BybitConfig, default_config
from oms.venues.sim.bybit.rules import LINEAR_ERRORS, SPOT_ERRORS, Order
from oms.venues.sim.bybit.tpsl import PositionTpsl
from oms.venues.sim.bybit.ws import BybitHub
from oms.venues.sim.kit.accounts import Accounts, ApiKey
from oms.venues.sim.kit.errors import SimError
from oms.venues.sim.kit.flow import Flow
from oms.venues.sim.kit.matching import MarketCore
from oms.venues.sim.kit.ratelimit import RateLimiter, Window
from oms.venues.sim.kit.server import SimServer

PERMISSIONS = ("SPOT", "CONTRACT")


class _UidLimitErrors:
    def banned(self, ip: str, until_ms: int, retry_s: int) -> SimError:
        return SimError(10006, "Too many visits!", 200)

    def too_much_weight(self, ip: str, window: Window, retry_s: int) -> SimError:
        return SimError(10006, "Too many visits!", 200)

    def too_many_orders(self, window: Window, retry_s: int, counts: dict[str, int]) -> SimError:
        return SimError(10006, "Too many visits!", 200)


class _IpLimitErrors(_UidLimitErrors):
    def banned(self, ip: str, until_ms: int, retry_s: int) -> SimError:
        return SimError(10009, f"access too frequent: IP {ip} banned for {retry_s}s", 403)

    def too_much_weight(self, ip: str, window: Window, retry_s: int) -> SimError:
        return self.banned(ip, 0, retry_s)


class BybitSim(SimServer):
    venue = "bybit"

    def __init__(self, seed: int = 0, config: BybitConfig | None = None, *, flow: bool | None = None) -> None:
        super().__init__(seed)
        self.cfg = config or default_config()
        if flow is not None:
            self.cfg.flow = flow
        self.accounts = Accounts(self.cfg.spot_balances, self.cfg.linear_wallet)
        self.cores: dict[str, MarketCore] = {}
        for cat in CATEGORIES:
            spot = cat == "spot"
            core = MarketCore(
                cat,
                self.cfg.symbols,
                self.accounts,
                self.now,
                derivatives=not spot,
                errors=SPOT_ERRORS if spot else LINEAR_ERRORS,
                maker_fee=self.cfg.spot_maker_fee if spot else self.cfg.linear_maker_fee,
                taker_fee=self.cfg.spot_taker_fee if spot else self.cfg.linear_taker_fee,
                default_leverage=self.cfg.default_leverage,
                first_id=1_700_000_000 if spot else 2_900_000_000,
                reject_status=200,
            )
            core.order_class = Order
            self.cores[cat] = core
        cfg = self.cfg
        self.uid_limits = {
            rest.TRADE: RateLimiter(Window("1S", 1000, cfg.trade_per_s), [], _UidLimitErrors(), 0, 1),
            rest.READ: RateLimiter(Window("1S", 1000, cfg.read_per_s), [], _UidLimitErrors(), 0, 1),
        }
        self.ip_limit = RateLimiter(Window("5S", 5000, cfg.ip_per_5s), [], _IpLimitErrors(), cfg.ip_ban_s, 5)
        self.tpsl = PositionTpsl(self.cores["linear"])
        self.hub = BybitHub(self.cores, self.accounts, self.faults, self.now, self._wallet_row)
        self.hub.tpsl = self.tpsl
        self.faults._drop_hook = self.hub.drop_all
        self.flow = Flow(list(self.cores.values()), self.accounts, self.rng, cfg.book_levels)
        for core in self.cores.values():
            core.update_marks()
        self.faults._on_change.append(self._faults_changed)

    # ------------------------------------------------------------ keys
    def add_api_key(
        self, key: str, secret: str, permissions: tuple[str, ...] = PERMISSIONS, ips: tuple[str, ...] = ()
    ) -> ApiKey:
        bad = [p for p in permissions if p.upper() not in PERMISSIONS]
        if bad or not secret:
            raise ValueError(f"API key {key!r}: needs a secret and permissions from {PERMISSIONS}, got {bad}")
        return self.accounts.add_key(key, secret, permissions, ips)

    def revoke_api_key(self, key: str) -> None:
        k = self.accounts.keys.get(key)
        if k is None:
            raise KeyError(f"no API key {key!r} in the simulator")
        k.revoked = True

    def _faults_changed(self, f: Any) -> None:
        for core in self.cores.values():
            for s, spec in core.specs.items():
                core.status[s] = "BREAK" if f.maintenance else spec.status
        if f.maintenance:
            self.hub.drop_all()

    def _wallet_row(self, account: Any) -> dict[str, Any]:
        key = next(k for k in self.accounts.keys.values() if k.account is account)
        req = rest.Req({"accountType": "UNIFIED"}, self.now(), self, key, self.cores)
        return rest.wallet_balance(req)["list"][0]

    # ------------------------------------------------------------ REST
    def _authenticate(self, request: web.Request, payload: str, now: int, ip: str) -> ApiKey:
        h = request.headers
        api_key = h.get("X-BAPI-API-KEY", "")
        key = self.accounts.keys.get(api_key)
        if key is None or key.revoked:
            raise SimError(10003, "API key is invalid.", 200)
        if key.ips and ip not in key.ips:
            raise SimError(10010, "Unmatched IP, please check your API key's bound IP addresses.", 200)
        ts_s, window_s = h.get("X-BAPI-TIMESTAMP", ""), h.get("X-BAPI-RECV-WINDOW", "5000")
        if not ts_s.isdigit() or not window_s.isdigit():
            raise SimError(
                10001, "params error: X-BAPI-TIMESTAMP and X-BAPI-RECV-WINDOW must be integers", 200
            )
        ts, window = int(ts_s), int(window_s)
        if not (now - window <= ts < now + 1000):
            raise SimError(
                10002,
                "invalid request, please check your server timestamp or recv_window param. "
                f"req_timestamp[{ts}],server_timestamp[{now}],recv_window[{window}]",
                200,
            )
        origin = f"{ts}{api_key}{window}{payload}"
        want = hmac.new(key.secret.encode(), origin.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(want, h.get("X-BAPI-SIGN", "").lower()):
            raise SimError(10004, f"error sign! origin_string[{origin}]", 200)
        return key

    async def _rest(self, request: web.Request) -> web.Response:
        method, path = request.method, request.path
        entry = rest.ENDPOINTS.get((method, path))
        raw_query = request.raw_path.partition("?")[2]
        body = (await request.read()).decode("utf-8", "replace")
        ip = request.remote or "127.0.0.1"
        headers: dict[str, str] = {}
        result: Any = {}
        ext: dict[str, Any] = {}
        status = 200
        try:
            await self.latency()
            now = self.now()
            if entry is None:
                raise SimError(10001, f"params error: unknown path {method} {path}", 404)
            security, group, handler = entry
            ban = self.faults.take_ban()
            if ban:
                self.ip_limit.ban(ip, now, ban)
            self.ip_limit.charge(ip, 1, now)
            lose_now, lose_after = self.lose_answer(method == "POST")
            if lose_now:
                return web.Response(text="upstream error", status=self.faults.error_status)
            params = self._params(method, raw_query, body)
            req = rest.Req(params, now, self, None, self.cores)
            if security == rest.PRIVATE:
                req.key = self._authenticate(request, body if method == "POST" else raw_query, now, ip)
                cat = params.get("category")
                perm = "SPOT" if cat == "spot" else "CONTRACT"
                if cat in self.cores and perm not in req.key.permissions:
                    raise SimError(10005, "Permission denied, please check your API key permissions.", 200)
                lim = self.uid_limits[group]
                slot = f"{req.key.account.uid}|{path}"
                try:
                    used = lim.charge(slot, 1, now)
                finally:
                    used = lim.used_weight(slot, now)
                    headers["X-Bapi-Limit"] = str(lim.weight_window.limit)
                    headers["X-Bapi-Limit-Status"] = str(max(0, lim.weight_window.limit - used))
                    headers["X-Bapi-Limit-Reset-Timestamp"] = str((now // 1000 + 1) * 1000)
            out = handler(req)
            if lose_after:
                return web.Response(text="upstream error", status=self.faults.error_status)
            result, ext = out if isinstance(out, tuple) else (out, {})
            code, msg = 0, "OK"
        except SimError as e:
            code, msg, status = e.code, e.msg, e.status
            headers.update(e.headers)
        envelope = {"retCode": code, "retMsg": msg, "result": result, "retExtInfo": ext, "time": self.now()}
        return web.Response(
            text=json.dumps(envelope), status=status, headers=headers, content_type="application/json"
        )

    @staticmethod
    def _params(method: str, raw_query: str, body: str) -> dict[str, Any]:
        if method == "GET":
            from urllib.parse import parse_qsl

            return dict(parse_qsl(raw_query, keep_blank_values=True))
        if not body:
            return {}
        try:
            data = json.loads(body)
        except ValueError:
            raise SimError(10001, "params error: the body must be a JSON object", 200) from None
        if not isinstance(data, dict):
            raise SimError(10001, "params error: the body must be a JSON object", 200)
        return data

    # ------------------------------------------------------------ admin, lifecycle
    def admin(self, what: str, method: str, data: dict[str, Any]) -> Any:
        if what == "keys" and method == "POST":
            self.add_api_key(data["key"], data["secret"], tuple(data.get("permissions", PERMISSIONS)))
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
        }
        out["markets"] = {
            m: {
                s: {
                    "best_bid": str(core.specs[s].tick * (b.best_bid() or 0)),
                    "best_ask": str(core.specs[s].tick * (b.best_ask() or 0)),
                    "update_id": b.update_id,
                }
                for s, b in core.books.items()
            }
            for m, core in self.cores.items()
        }
        return out

    def routes(self, app: web.Application) -> None:
        app.router.add_get("/v5/public/{category}", self.hub.handle)
        app.router.add_get("/v5/private", self.hub.handle)
        app.router.add_route("*", "/v5/{tail:.*}", self._rest)

    def ticks(self) -> list[tuple[int, Callable[[], None]]]:
        out = [(self.cfg.book_interval_ms, self.hub.flush_books)]
        if self.cfg.flow:
            out.append((self.cfg.flow_interval_ms, self.flow.step))
        return out

    def on_stop(self) -> None:
        self.hub.drop_all()

    async def __aenter__(self) -> BybitSim:
        await self.start()
        return self
