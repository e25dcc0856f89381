"""OKX simulator room: `OkxSim` — the kit's server skeleton with OKX v5's REST and WS (ws.py) wire: the
`OK-ACCESS-*` signature (base64 HMAC-SHA256 of timestamp + METHOD + requestPath + body) with the
passphrase and the 30 s timestamp window (50102), the `{code, msg, data}` envelope with per-item
`sCode` / `sMsg`, per-account per-endpoint limits (50011, HTTP 429), the demo-trading header, and
cancel-all-after (OKX's dead-man switch).

Touches nothing outside this simulator; binds loopback only. Public contract: `OkxSim(seed=0,
config=None, flow=None)`, `await start()/stop()`, `.url`, `.ws_url`, `add_api_key(key, secret,
passphrase, demo=None)`, `revoke_api_key(key)`, `corrupt_books(n)`, `.faults`, `.cores["SPOT"|"SWAP"]`.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

from oms.venues.sim.kit.accounts import Account, Accounts, ApiKey
from oms.venues.sim.kit.errors import SimError
from oms.venues.sim.kit.flow import Flow
from oms.venues.sim.kit.matching import MarketCore
from oms.venues.sim.kit.orders import AlgoOrder
from oms.venues.sim.kit.ratelimit import RateLimiter, Window
from oms.venues.sim.kit.server import SimServer
from oms.venues.sim.kit.spec import SymbolSpec
from oms.venues.sim.okx import account as account_api
from oms.venues.sim.okx import algo, rest
from oms.venues.sim.okx.config import MARKETS, OkxConfig, default_config
from oms.venues.sim.okx.endpoints import ENDPOINTS, PER_ITEM
from oms.venues.sim.okx.rules import ERRORS, Order
from oms.venues.sim.okx.ws import OkxHub

SKEW_MS = 30_000
RATE_MSG = "Rate limit reached. Please refer to API documentation and throttle requests accordingly."


class _LimitErrors:
    def banned(self, ip: str, until_ms: int, retry_s: int) -> SimError:
        return SimError(50011, RATE_MSG, 429)

    def too_much_weight(self, ip: str, window: Window, retry_s: int) -> SimError:
        return SimError(50011, RATE_MSG, 429)

    def too_many_orders(self, window: Window, retry_s: int, counts: dict[str, int]) -> SimError:
        return SimError(50011, RATE_MSG, 429)


def _auth_error(code: int, msg: str) -> SimError:
    return SimError(code, msg, 401)


class OkxSim(SimServer):
    venue = "okx"

    def __init__(self, seed: int = 0, config: OkxConfig | None = None, *, flow: bool | None = None) -> None:
        super().__init__(seed)
        self.cfg = config or default_config()
        if flow is not None:
            self.cfg.flow = flow
        cfg = self.cfg
        self.accounts = Accounts(cfg.spot_balances, cfg.swap_wallet)
        self.cores: dict[str, MarketCore] = {}
        for m in MARKETS:
            spot = m == "SPOT"
            core = MarketCore(
                m,
                cfg.symbols,
                self.accounts,
                self.now,
                derivatives=not spot,
                errors=ERRORS,
                maker_fee=cfg.spot_maker_fee if spot else cfg.swap_maker_fee,
                taker_fee=cfg.spot_taker_fee if spot else cfg.swap_taker_fee,
                default_leverage=cfg.default_leverage,
                first_id=600_000_000_000 if spot else 700_000_000_000,
                reject_status=200,
            )
            core.order_class = Order
            self._wrap_fire(core)
            self.cores[m] = core
        self.cores_by_inst = {s: c for c in self.cores.values() for s in c.specs}
        self.passphrases: dict[str, str] = {}
        self.demo: dict[str, bool | None] = {}
        self.margin_mode: dict[tuple[int, str], str] = {}
        self.algo_groups: dict[int, tuple[MarketCore, list[AlgoOrder], Any]] = {}
        self.dead_man: dict[int, asyncio.TimerHandle] = {}
        self.dead_man_fired = 0
        self.limits = {
            rest.TRADE: RateLimiter(Window("2S", 2000, cfg.trade_per_2s), [], _LimitErrors(), 0, 1),
            rest.READ: RateLimiter(Window("2S", 2000, cfg.read_per_2s), [], _LimitErrors(), 0, 1),
        }
        self.hub = OkxHub(self, self.accounts, self.faults, self.now)
        self.faults._drop_hook = self.hub.drop_all
        self.flow = Flow(list(self.cores.values()), self.accounts, self.rng, cfg.book_levels)
        for core in self.cores.values():
            core.update_marks()
        self.faults._on_change.append(self._faults_changed)

    # ------------------------------------------------------------ venue helpers
    def ct_val(self, spec: SymbolSpec) -> Decimal:
        """A SWAP's contract value in base units (0 for SPOT: sizes are base units)."""
        return self.cfg.ct_val.get(spec.symbol, Decimal(0)) if spec.market == "SWAP" else Decimal(0)

    def _wrap_fire(self, core: MarketCore) -> None:
        """An OCO's legs: when one fires the other is cancelled."""
        fire = core.fire_algo

        def fire_oco(a: AlgoOrder) -> Any:
            group = self.algo_groups.get(a.algo_id) or next(
                (g for g in self.algo_groups.values() if a in g[1]), None
            )
            if group is not None:
                for g in group[1]:
                    if g is not a and g.status == "NEW":
                        g.status = "CANCELED"
                        core.algos.pop(g.algo_id, None)
            out = fire(a)
            if group is not None:
                self.push_algo(group[1][0].algo_id)
            return out

        core.fire_algo = fire_oco  # type: ignore[method-assign]

    def push_algo(self, algo_id: int) -> None:
        """The `orders-algo` push (business socket) for an algo order whose state changed."""
        core, group, td = self.algo_groups[algo_id]
        row = algo.algo_row(self, algo_id, group, td)
        self.hub.push_private(group[0].account, "orders-algo", core.market, [row])

    def dead_man_fire(self, account: Account) -> None:
        self.dead_man.pop(account.uid, None)
        for core in self.cores.values():
            for o in core.open_orders(account):
                core.cancel(o)
        self.dead_man_fired += 1

    def balance_rows(self, account: Account) -> list[dict[str, Any]]:
        key = next(k for k in self.accounts.keys.values() if k.account is account)
        return account_api.balance(rest.Req({}, self.now(), self, key, self.cores))

    def position_row(self, core: MarketCore, spec: SymbolSpec, account: Account) -> dict[str, Any]:
        return account_api.position_row(self, core, spec, account, self.now())

    def ticker_row(self, core: MarketCore, symbol: str) -> dict[str, Any]:
        return rest.ticker_row(self, core, core.specs[symbol], self.now())

    def corrupt_books(self, n: int = 1) -> None:
        """The next `n` `books` updates carry a size the book does not have (the checksum disagrees)."""
        self.hub.corrupt += n

    # ------------------------------------------------------------ keys
    def add_api_key(self, key: str, secret: str, passphrase: str, demo: bool | None = None) -> ApiKey:
        """`demo` True: the key works only with `x-simulated-trading: 1`, False only without; None: both."""
        if not secret or not passphrase:
            raise ValueError(f"API key {key!r}: needs a secret and a passphrase")
        k = self.accounts.add_key(key, secret, ("TRADE", "READ"), ())
        self.passphrases[key] = passphrase
        self.demo[key] = demo
        return k

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

    # ------------------------------------------------------------ REST
    def _authenticate(self, request: web.Request, body: str, now: int) -> ApiKey:
        h = request.headers
        for name in ("OK-ACCESS-KEY", "OK-ACCESS-SIGN", "OK-ACCESS-TIMESTAMP", "OK-ACCESS-PASSPHRASE"):
            if not h.get(name):
                raise _auth_error(
                    50103
                    if name == "OK-ACCESS-KEY"
                    else 50104
                    if name == "OK-ACCESS-PASSPHRASE"
                    else 50106
                    if name == "OK-ACCESS-SIGN"
                    else 50107,
                    f'Request header "{name}" cannot be empty.',
                )
        api_key = h["OK-ACCESS-KEY"]
        key = self.accounts.keys.get(api_key)
        if key is None or key.revoked:
            raise _auth_error(50111, "Invalid OK-ACCESS-KEY")
        demo = self.demo.get(api_key)
        flag = h.get("x-simulated-trading", "0") == "1"
        if demo is not None and demo != flag:
            raise _auth_error(50101, "APIKey does not match current environment")
        ts = h["OK-ACCESS-TIMESTAMP"]
        try:
            when = datetime.fromisoformat(ts.replace("Z", "+00:00"))
            if when.tzinfo is None:
                raise ValueError(ts)
        except ValueError:
            raise _auth_error(
                50112, "Invalid OK-ACCESS-TIMESTAMP (ISO 8601 UTC, e.g. 2020-12-08T09:08:57.715Z)."
            ) from None
        if abs(when.timestamp() * 1000 - now) > SKEW_MS:
            raise _auth_error(50102, "Timestamp request expired")
        if not hmac.compare_digest(self.passphrases.get(api_key, ""), h["OK-ACCESS-PASSPHRASE"]):
            raise _auth_error(50105, 'Request header "OK-ACCESS-PASSPHRASE" incorrect')
        prehash = f"{ts}{request.method.upper()}{request.raw_path}{body}"
        want = base64.b64encode(
            hmac.new(key.secret.encode(), prehash.encode(), hashlib.sha256).digest()
        ).decode()
        if not hmac.compare_digest(want, h["OK-ACCESS-SIGN"]):
            raise _auth_error(50113, "Invalid Sign")
        return key

    async def _rest(self, request: web.Request) -> web.Response:
        method, path = request.method, request.path
        entry = ENDPOINTS.get((method, path))
        body = (await request.read()).decode("utf-8", "replace")
        data: Any = []
        status = 200
        try:
            await self.latency()
            now = self.now()
            if entry is None:
                raise SimError(50014, f"Parameter path error: no endpoint {method} {path}", 404)
            security, group, handler = entry
            lose_now, lose_after = self.lose_answer(method == "POST")
            if lose_now:
                return web.Response(text="upstream error", status=self.faults.error_status)
            params = self._params(method, request.raw_path.partition("?")[2], body)
            req = rest.Req(params, now, self, None, self.cores)
            if security == rest.PRIVATE:
                req.key = self._authenticate(request, body if method == "POST" else "", now)
                # OKX counts trade calls per account and instrument, reads per account
                inst = params.get("instId", "") if group == rest.TRADE else ""
                self.limits[group].charge(f"{req.key.account.uid}|{path}|{inst}", 1, now)
            data = handler(req)
            if lose_after:
                return web.Response(text="upstream error", status=self.faults.error_status)
            code, msg = "0", ""
            if handler in PER_ITEM:
                bad = sum(1 for d in data if d.get("sCode") != "0")
                if bad == len(data):
                    code, msg = "1", "All operations failed"
                elif bad:
                    code, msg = "2", "Bulk operation partially succeeded"
        except SimError as e:
            code, msg, status, data = str(e.code), e.msg, e.status, []
        return web.json_response({"code": code, "msg": msg, "data": data}, status=status)

    @staticmethod
    def _params(method: str, raw_query: str, body: str) -> dict[str, Any]:
        if method == "GET":
            return dict(parse_qsl(raw_query, keep_blank_values=True))
        if not body:
            return {}
        try:
            data = json.loads(body)
        except ValueError:
            raise SimError(50002, "Illegal JSON data", 400) from None
        if isinstance(data, list):
            return {"_list": data}
        if not isinstance(data, dict):
            raise SimError(50002, "Illegal JSON data", 400)
        return data

    # ------------------------------------------------------------ admin, lifecycle
    def admin(self, what: str, method: str, data: dict[str, Any]) -> Any:
        if what == "keys" and method == "POST":
            self.add_api_key(data["key"], data["secret"], data["passphrase"], data.get("demo"))
            return {"ok": True}
        if what == "revoke" and method == "POST":
            self.revoke_api_key(data["key"])
            return {"ok": True}
        if what == "corrupt_books" and method == "POST":
            self.corrupt_books(int(data.get("n", 1)))
            return {"ok": True}
        return None

    def state(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "faults": self.faults.as_dict(),
            "flow_steps": self.flow.steps,
            "dead_man_fired": self.dead_man_fired,
            "markets": {
                m: {
                    s: {
                        "best_bid": str(core.specs[s].tick * (b.best_bid() or 0)),
                        "best_ask": str(core.specs[s].tick * (b.best_ask() or 0)),
                    }
                    for s, b in core.books.items()
                }
                for m, core in self.cores.items()
            },
        }

    def routes(self, app: web.Application) -> None:
        app.router.add_get("/ws/v5/{kind}", self.hub.handle)
        app.router.add_route("*", "/api/v5/{tail:.*}", self._rest)

    def ticks(self) -> list[tuple[int, Callable[[], None]]]:
        out = [(self.cfg.book_interval_ms, self.hub.flush_books), (200, self.hub.close_idle)]
        if self.cfg.flow:
            out.append((self.cfg.flow_interval_ms, self.flow.step))
        return out

    def on_stop(self) -> None:
        for h in self.dead_man.values():
            h.cancel()
        self.dead_man.clear()
        self.hub.drop_all()

    async def __aenter__(self) -> OkxSim:
        await self.start()
        return self
