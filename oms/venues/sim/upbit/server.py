"""Upbit simulator room: `UpbitSim` — the kit's server skeleton with Upbit's REST and WS (ws.py) wire:
JWT authorisation (HS256/HS512; `access_key`, a never-reused `nonce`, `query_hash` of the unescaped
query), `{"error": {"name", "message"}}` errors with Upbit's statuses, `Remaining-Req: group=...;
min=...; sec=...` on every answer and 429 `too_many_requests` over a group's per-second budget.

Touches nothing outside this simulator; binds loopback only. Public contract: `UpbitSim(seed=0,
config=None, flow=None)`, `await start()/stop()`, `.url`, `.ws_url`, `add_api_key(access, secret)`,
`revoke_api_key(access)`, `.faults`, `.core` (one KRW market core), `.flow`.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

from oms.venues.sim.kit.accounts import Account, Accounts, ApiKey
from oms.venues.sim.kit.errors import SimError
from oms.venues.sim.kit.flow import Flow
from oms.venues.sim.kit.matching import MarketCore
from oms.venues.sim.kit.orders import Order, Print
from oms.venues.sim.kit.ratelimit import RateLimiter, Window
from oms.venues.sim.kit.server import SimServer
from oms.venues.sim.kit.spec import SymbolSpec
from oms.venues.sim.upbit import config, rest, rules
from oms.venues.sim.upbit.config import UpbitConfig, default_config
from oms.venues.sim.upbit.rules import err, num
from oms.venues.sim.upbit.ws import UpbitHub

ZERO = Decimal(0)


class _Limited:
    """The kit limiter's answers in Upbit's words (429 too_many_requests; a ban is 418)."""

    def banned(self, ip: str, until_ms: int, retry_s: int) -> SimError:
        return err("too_many_requests", f"IP {ip} is blocked for {retry_s}s after repeated 429s", 418)

    def too_much_weight(self, ip: str, window: Window, retry_s: int) -> SimError:
        return err("too_many_requests")

    def too_many_orders(self, window: Window, retry_s: int, counts: dict[str, int]) -> SimError:
        return err("too_many_requests")


class KrwFlow(Flow):
    """The kit's flow with quotes on the KRW band grid and sized in KRW."""

    def __init__(self, core: MarketCore, accounts: Accounts, rng: Any, levels: int, krw: Decimal) -> None:
        self.krw = float(krw)
        super().__init__([core], accounts, rng, levels)

    def _unit(self, core: MarketCore, sym: str, mid: int) -> int:
        spec = core.specs[sym]
        return max(1, int(config.krw_tick(spec.tick * mid) / spec.tick))

    def _spacing(self, core: MarketCore, sym: str, mid: int) -> int:
        unit = self._unit(core, sym, mid)
        return max(1, mid // 20000 // unit) * unit

    def _lots(self, core: MarketCore, sym: str, mid: int) -> int:
        spec = core.specs[sym]
        notional = self.krw * (0.5 + self.rng.random())
        return max(1, int(notional / float(spec.tick * mid) / float(spec.step)))

    def _requote(self, core: MarketCore, sym: str) -> None:
        key = (core.market, sym)
        unit = self._unit(core, sym, self.mid[key])
        self.mid[key] -= self.mid[key] % unit
        super()._requote(core, sym)


class UpbitSim(SimServer):
    venue = "upbit"

    def __init__(self, seed: int = 0, config: UpbitConfig | None = None, *, flow: bool | None = None) -> None:
        super().__init__(seed)
        self.cfg = config or default_config()
        if flow is not None:
            self.cfg.flow = flow
        self.accounts = Accounts(self.cfg.balances, {})
        self.core = MarketCore(
            "krw",
            self.cfg.symbols,
            self.accounts,
            self.now,
            derivatives=False,
            errors=rules.ERRORS,
            maker_fee=self.cfg.fee,
            taker_fee=self.cfg.fee,
        )
        self.core.order_class = rules.Order
        self.uuid_of: dict[int, str] = {}
        self.id_of: dict[str, int] = {}
        self.identifiers: set[tuple[int, str]] = set()
        self.by_ident: dict[tuple[int, str], Order] = {}
        self.nonces: dict[str, set[str]] = {}
        cfg, errs = self.cfg, _Limited()
        self.limits = {
            g: RateLimiter(Window("sec", 1000, n), [], errs, 60, 1)
            for g, n in (
                ("order", cfg.order_per_s),
                ("order-cancel", cfg.order_per_s),
                ("default", cfg.default_per_s),
            )
        }
        for g in ("market", "orderbook", "ticker", "trade"):
            self.limits[g] = RateLimiter(Window("sec", 1000, cfg.public_per_s), [], errs, 60, 1)
        self.minute = RateLimiter(Window("min", 60_000, cfg.per_min), [], errs, 60, 60)
        self.hub = UpbitHub(self)
        self.faults._drop_hook = self.hub.drop_all
        self.flow = KrwFlow(self.core, self.accounts, self.rng, cfg.book_levels, cfg.maker_krw)
        self.faults._on_change.append(self._faults_changed)

    # ------------------------------------------------------------ keys
    def add_api_key(self, access: str, secret: str, ips: tuple[str, ...] = ()) -> ApiKey:
        if not access or not secret:
            raise ValueError("an Upbit API key needs an access key and a secret key")
        return self.accounts.add_key(access, secret, ("ORDER", "ACCOUNTS"), ips)

    def revoke_api_key(self, access: str) -> None:
        k = self.accounts.keys.get(access)
        if k is None:
            raise KeyError(f"no API key {access!r} in the simulator")
        k.revoked = True

    def key_for(self, access: str) -> ApiKey | None:
        k = self.accounts.keys.get(access)
        return None if k is None or k.revoked else k

    def authenticate(self, auth: str, candidates: list[str]) -> ApiKey:
        claims, key = rules.jwt_claims(auth, self.key_for)
        nonce = str(claims["nonce"])
        used = self.nonces.setdefault(key.key, set())
        if nonce in used:
            raise err("nonce_used")
        rules.check_query_hash(claims, candidates)
        used.add(nonce)
        return key

    def _faults_changed(self, f: Any) -> None:
        for s, spec in self.core.specs.items():
            self.core.status[s] = "BREAK" if f.maintenance else spec.status
        if f.maintenance:
            self.hub.drop_all()

    # ------------------------------------------------------------ wire rows
    def uuid(self, o: Order) -> str:
        u = self.uuid_of.get(o.order_id)
        if u is None:
            u = str(uuid.UUID(int=self.rng.getrandbits(128), version=4))
            self.uuid_of[o.order_id] = u
            self.id_of[u] = o.order_id
        return u

    def fills_of(self, o: Order) -> list[Any]:
        return [f for f in self.core.fills.get(o.account.uid, ()) if f.order_id == o.order_id]

    def order_row(self, o: Order, trades: bool = False) -> dict[str, Any]:
        spec = o.spec
        fills = self.fills_of(o)
        market_buy = o.type == "price"
        row: dict[str, Any] = {
            "uuid": self.uuid(o),
            "side": "bid" if o.side > 0 else "ask",
            "ord_type": o.type,
            "price": num(o.quote_order_qty if market_buy else spec.tick * o.price)
            if (o.price or market_buy)
            else None,
            "state": rules.state(o),
            "market": spec.symbol,
            "created_at": rules.kst(o.time),
            "volume": None if market_buy else num(spec.step * o.qty),
            "remaining_volume": None if market_buy else num(spec.step * o.leaves),
            "reserved_fee": num(
                self.cfg.fee * (o.quote_order_qty or spec.tick * o.price * spec.step * o.qty)
            ),
            "remaining_fee": "0",
            "paid_fee": num(rules.paid_fee(o, fills)),
            "locked": num(o.locked),
            "executed_volume": num(spec.step * o.executed),
            "executed_funds": num(o.cum_quote),
            "trades_count": len(fills),
        }
        tif = getattr(o, "upbit_tif", None)  # the flow's own orders are kit orders
        if tif:
            row["time_in_force"] = tif
        if o.client_id:
            row["identifier"] = o.client_id
        if trades:
            row["trades"] = [
                {
                    "market": spec.symbol,
                    "uuid": str(uuid.UUID(int=f.trade_id, version=4)),
                    "price": num(spec.tick * f.price),
                    "volume": num(spec.step * f.lots),
                    "funds": num(f.quote),
                    "trend": "up" if f.side > 0 else "down",
                    "created_at": rules.kst(f.time),
                    "side": row["side"],
                }
                for f in fills
            ]
        return row

    def account_rows(self, acct: Account) -> list[dict[str, Any]]:
        return [
            {
                "currency": cur,
                "balance": num(free),
                "locked": num(locked),
                "avg_buy_price": "0",
                "avg_buy_price_modified": False,
                "unit_currency": "KRW",
            }
            for cur, (free, locked) in sorted(acct.spot.items(), key=lambda kv: kv[0] != "KRW")
            if free or locked or cur == "KRW"
        ]

    def book_row(self, spec: SymbolSpec, now: int, depth: int = 15) -> dict[str, Any]:
        book = self.core.books[spec.symbol]
        bids, asks = book.levels(1, depth), book.levels(-1, depth)
        units = []
        for i in range(max(len(bids), len(asks))):
            a = asks[i] if i < len(asks) else (0, 0)
            b = bids[i] if i < len(bids) else (0, 0)
            units.append(
                {
                    "ask_price": float(spec.tick * a[0]),
                    "bid_price": float(spec.tick * b[0]),
                    "ask_size": float(spec.step * a[1]),
                    "bid_size": float(spec.step * b[1]),
                }
            )
        return {
            "market": spec.symbol,
            "timestamp": now,
            "total_ask_size": float(sum((spec.step * q for _, q in asks), ZERO)),
            "total_bid_size": float(sum((spec.step * q for _, q in bids), ZERO)),
            "orderbook_units": units,
            "level": 0,
        }

    def ticker_row(self, spec: SymbolSpec, now: int) -> dict[str, Any]:
        core = self.core
        last = core.last_px.get(spec.symbol)
        price = spec.tick * last if last else core.ref_price(spec.symbol)
        start = spec.start_price
        return {
            "market": spec.symbol,
            "trade_price": float(price),
            "opening_price": float(start),
            "prev_closing_price": float(start),
            "change": "EVEN" if price == start else ("RISE" if price > start else "FALL"),
            "change_price": float(abs(price - start)),
            "signed_change_price": float(price - start),
            "timestamp": now,
        }

    def trade_row(self, spec: SymbolSpec, p: Print) -> dict[str, Any]:
        return {
            "market": spec.symbol,
            "trade_date_utc": rules.kst(p.time)[:10],
            "timestamp": p.time,
            "trade_price": float(spec.tick * p.price),
            "trade_volume": float(spec.step * p.lots),
            "prev_closing_price": float(spec.start_price),
            "ask_bid": "BID" if not p.buyer_maker else "ASK",
            "sequential_id": p.trade_id,
        }

    # ------------------------------------------------------------ REST
    @staticmethod
    def _params(method: str, raw_query: str, body: str, ctype: str) -> tuple[dict[str, Any], list[str]]:
        """Parameters from the query, a JSON body or a form body; and the strings query_hash may cover."""
        params: dict[str, Any] = {}
        cands = [raw_query]
        for k, v in parse_qsl(raw_query, keep_blank_values=True):
            params.setdefault(k, []).append(v)
        if body and "json" in ctype:
            try:
                data = json.loads(body)
            except ValueError:
                raise err("validation_error", "the body must be a JSON object") from None
            if not isinstance(data, dict):
                raise err("validation_error", "the body must be a JSON object")
            cands.append("&".join(f"{k}={v}" for k, v in data.items() if not isinstance(v, list)))
            return {**{k: v[0] if len(v) == 1 else v for k, v in params.items()}, **data}, cands
        if body:
            cands.append(body)
            for k, v in parse_qsl(body, keep_blank_values=True):
                params.setdefault(k, []).append(v)
        out = {k: (v if k.endswith("[]") or len(v) > 1 else v[0]) for k, v in params.items()}
        return out, cands

    async def _rest(self, request: web.Request) -> web.Response:
        method, path = request.method, request.path
        entry = rest.ENDPOINTS.get((method, path))
        raw_query = request.raw_path.partition("?")[2]
        body = (await request.read()).decode("utf-8", "replace")
        ip = request.remote or "127.0.0.1"
        headers: dict[str, str] = {}
        try:
            await self.latency()
            now = self.now()
            if entry is None:
                raise err("validation_error", f"no endpoint {method} {path}", 404)
            security, group, handler = entry
            ban = self.faults.take_ban()
            if ban:
                self.minute.ban(ip, now, ban)
            lose_now, lose_after = self.lose_answer(method in ("POST", "DELETE"))
            if lose_now:
                return web.Response(text="upstream error", status=self.faults.error_status)
            params, cands = self._params(method, raw_query, body, request.content_type)
            req = rest.Req(params, now, self)
            who = ip
            if security == rest.PRIVATE:
                req.key = self.authenticate(request.headers.get("Authorization", ""), cands)
                who = str(req.account.uid)
            lim = self.limits[group]
            if who != ip:
                self.minute.charge(ip, 0, now)  # an IP block (the `ban_seconds` fault) covers every key
            try:
                self.minute.charge(who, 1, now)
                lim.charge(f"{who}|{group}", 1, now)
            finally:
                sec = max(0, lim.weight_window.limit - lim.used_weight(f"{who}|{group}", now))
                mins = max(0, self.cfg.per_min - self.minute.used_weight(who, now))
                headers["Remaining-Req"] = f"group={group}; min={mins}; sec={sec}"
            out = handler(req)
            if lose_after:
                return web.Response(text="upstream error", status=self.faults.error_status)
            status, answer = out if isinstance(out, tuple) else (200, out)
        except SimError as e:
            status, answer = e.status, rules.body(e)
        return web.Response(
            text=json.dumps(answer), status=status, headers=headers, content_type="application/json"
        )

    # ------------------------------------------------------------ admin, lifecycle
    def admin(self, what: str, method: str, data: dict[str, Any]) -> Any:
        if what == "keys" and method == "POST":
            self.add_api_key(data["key"], data["secret"])
            return {"ok": True}
        if what == "revoke" and method == "POST":
            self.revoke_api_key(data["key"])
            return {"ok": True}
        return None

    def state(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "faults": self.faults.as_dict(),
            "flow_steps": self.flow.steps,
            "markets": {
                s: {
                    "best_bid": str(self.core.specs[s].tick * (b.best_bid() or 0)),
                    "best_ask": str(self.core.specs[s].tick * (b.best_ask() or 0)),
                }
                for s, b in self.core.books.items()
            },
        }

    def routes(self, app: web.Application) -> None:
        app.router.add_get("/websocket/v1", self.hub.handle)
        app.router.add_get("/websocket/v1/private", self.hub.handle)
        app.router.add_route("*", "/v1/{tail:.*}", self._rest)

    def ticks(self) -> list[tuple[int, Callable[[], None]]]:
        out = [(self.cfg.book_interval_ms, self.hub.flush_books)]
        if self.cfg.flow:
            out.append((self.cfg.flow_interval_ms, self.flow.step))
        return out

    def on_stop(self) -> None:
        self.hub.drop_all()

    async def __aenter__(self) -> UpbitSim:
        await self.start()
        return self
