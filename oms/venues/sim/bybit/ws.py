"""Bybit simulator room: v5 WebSocket — public `/v5/public/{spot,linear}` (`orderbook.{depth}.{symbol}`
snapshot then deltas with `u`/`seq`, size "0" deletes; `publicTrade.{symbol}`) and private `/v5/private`
(`op: auth` with HMAC of "GET/realtime" + expires, then `order`, `execution`, `position`, `wallet`);
`op: ping` answered as Bybit does. The kit core's events become these pushes (`BybitEvents`).

Touches nothing outside this simulator.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import uuid
from collections.abc import Callable
from typing import Any

from aiohttp import web

from oms.venues.sim.bybit import rules
from oms.venues.sim.kit.accounts import Account, Accounts
from oms.venues.sim.kit.faults import Faults
from oms.venues.sim.kit.matching import MarketCore
from oms.venues.sim.kit.orders import Fill, Order, Print
from oms.venues.sim.kit.ws import Conn, WsHubBase

DEPTHS = {"spot": (1, 50, 200), "linear": (1, 50, 200, 500)}
PRIVATE_TOPICS = ("order", "execution", "position", "wallet")


class BybitHub(WsHubBase):
    def __init__(
        self,
        cores: dict[str, MarketCore],
        accounts: Accounts,
        faults: Faults,
        clock: Callable[[], int],
        wallet: Callable[[Account], dict[str, Any]],
    ) -> None:
        super().__init__(faults, clock)
        self.cores = cores
        self.accounts = accounts
        self.wallet = wallet  # the UNIFIED wallet row for an account (the REST handler's)
        self.shown: dict[str, dict[tuple[int, int], int]] = {}  # orderbook topic -> levels last pushed
        self.update_id: dict[str, int] = {}
        self.seq = itertools.count(1)
        self.dcp: dict[int, dict[str, int]] = {}  # account uid -> {product: seconds} (disconnect-cancel)
        self.dcp_fired = 0
        self.tpsl: Any = None  # the server's PositionTpsl (linear)
        for cat, core in cores.items():
            core.events = BybitEvents(self, cat)

    # ------------------------------------------------------------ connections
    async def handle(self, request: web.Request) -> web.StreamResponse:
        if self.faults.maintenance:
            return web.json_response(
                {"retCode": 10016, "retMsg": "Service unavailable (maintenance)."}, status=503
            )
        path = request.path.rstrip("/")
        if path == "/v5/private":
            market = "private"
        else:
            market = path.rsplit("/", 1)[-1]
            if not path.startswith("/v5/public/") or market not in self.cores:
                raise web.HTTPNotFound(
                    text=f"no WebSocket at {path}; use /v5/public/spot|linear or /v5/private"
                )
        conn_id = str(uuid.uuid4())

        def make(ws: web.WebSocketResponse) -> Conn:
            c = Conn(ws, market)
            c.authed = {"conn_id": conn_id}
            return c

        return await self.serve(request, make, self._on_text)

    def _on_text(self, conn: Conn, text: str) -> dict[str, Any] | None:
        cid = conn.authed["conn_id"]
        try:
            msg = json.loads(text)
            op = msg["op"]
        except (ValueError, KeyError, TypeError):
            return {"success": False, "ret_msg": "Invalid JSON: expected an object with 'op'", "conn_id": cid}
        rid = msg.get("req_id", "")
        args = msg.get("args") or []
        if op == "ping":
            if conn.market == "private":
                return {"req_id": rid, "op": "pong", "args": [str(self.clock())], "conn_id": cid}
            return {"success": True, "ret_msg": "pong", "conn_id": cid, "req_id": rid, "op": "ping"}
        if op == "auth":
            return self._auth(conn, args, rid)
        if op in ("subscribe", "unsubscribe"):
            bad = [a for a in args if not self._topic_ok(conn, str(a))]
            if bad:
                return {
                    "success": False,
                    "ret_msg": f"Invalid topic {bad[0]!r}",
                    "conn_id": cid,
                    "req_id": rid,
                    "op": op,
                }
            for a in map(str, args):
                if op == "subscribe":
                    conn.streams.add(a)
                    if a.startswith("orderbook."):
                        conn.put(self._book_snapshot(conn.market, a))
                else:
                    conn.streams.discard(a)
            return {"success": True, "ret_msg": "", "conn_id": cid, "req_id": rid, "op": op}
        return {"success": False, "ret_msg": f"Invalid op {op!r}", "conn_id": cid, "req_id": rid, "op": op}

    def _auth(self, conn: Conn, args: list[Any], rid: str) -> dict[str, Any]:
        cid = conn.authed["conn_id"]

        def fail(why: str) -> dict[str, Any]:
            return {"success": False, "ret_msg": why, "op": "auth", "conn_id": cid, "req_id": rid}

        if conn.market != "private" or len(args) != 3:
            return fail("Params Error")
        key = self.accounts.keys.get(str(args[0]))
        if key is None or key.revoked:
            return fail("Invalid apikey")
        try:
            expires = int(args[1])
        except (TypeError, ValueError):
            return fail("Params Error")
        if expires <= self.clock():
            return fail("Request expired")
        want = hmac.new(key.secret.encode(), f"GET/realtime{expires}".encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(want, str(args[2]).lower()):
            return fail("Error sign, please check your signature generation algorithm.")
        conn.user = (key.account.uid, "private")
        return {"success": True, "ret_msg": "", "op": "auth", "conn_id": cid, "req_id": rid}

    def _topic_ok(self, conn: Conn, topic: str) -> bool:
        if conn.market == "private":
            return conn.user is not None and topic in PRIVATE_TOPICS
        core = self.cores[conn.market]
        parts = topic.split(".")
        if parts[0] == "orderbook" and len(parts) == 3:
            return parts[1].isdigit() and int(parts[1]) in DEPTHS[conn.market] and parts[2] in core.specs
        if parts[0] == "publicTrade" and len(parts) == 2:
            return parts[1] in core.specs
        return False

    # ------------------------------------------------------------ order books
    def _levels(self, cat: str, symbol: str, depth: int) -> dict[tuple[int, int], int]:
        book = self.cores[cat].books[symbol]
        out = {(1, p): q for p, q in book.levels(1, depth)}
        out.update({(-1, p): q for p, q in book.levels(-1, depth)})
        return out

    def _rows(self, spec: Any, levels: dict[tuple[int, int], int], side: int) -> list[list[str]]:
        rows = sorted(((p, q) for (s, p), q in levels.items() if s == side), reverse=side > 0)
        return [[rules.px(spec, p), rules.qty(spec, q)] for p, q in rows]

    def _book_snapshot(self, cat: str, topic: str) -> dict[str, Any]:
        _, depth, symbol = topic.split(".")
        key = f"{cat}:{topic}"
        levels = self._levels(cat, symbol, int(depth))
        if key not in self.shown:  # the topic's first subscriber starts its update ids
            self.shown[key] = levels
            self.update_id[key] = 1
        spec = self.cores[cat].specs[symbol]
        now = self.clock()
        data = {
            "s": symbol,
            "b": self._rows(spec, levels, 1),
            "a": self._rows(spec, levels, -1),
            "u": self.update_id[key],
            "seq": next(self.seq),
        }
        return {"topic": topic, "type": "snapshot", "ts": now, "data": data, "cts": now}

    def flush_books(self) -> None:
        """Push one delta per subscribed order-book topic whose top levels changed since the last push."""
        topics = {
            (c.market, t)
            for c in self.conns
            if c.market != "private"
            for t in c.streams
            if t.startswith("orderbook.")
        }
        for cat, topic in topics:
            key = f"{cat}:{topic}"
            if key not in self.shown:
                continue
            _, depth, symbol = topic.split(".")
            now_levels = self._levels(cat, symbol, int(depth))
            before = self.shown[key]
            changed = {k: q for k, q in now_levels.items() if before.get(k) != q}
            changed.update({k: 0 for k in before if k not in now_levels})
            if not changed:
                continue
            self.shown[key] = now_levels
            self.update_id[key] += 1
            if self.faults.take_depth_gap():  # the delta is lost: the client sees `u` jump
                continue
            spec = self.cores[cat].specs[symbol]
            now = self.clock()
            data = {
                "s": symbol,
                "b": self._rows(spec, changed, 1),
                "a": self._rows(spec, changed, -1),
                "u": self.update_id[key],
                "seq": next(self.seq),
            }
            self._send(cat, topic, {"topic": topic, "type": "delta", "ts": now, "data": data, "cts": now})

    # ------------------------------------------------------------ disconnect-cancel (DCP)
    def on_close(self, conn: Conn) -> None:
        if conn.user is None or not self.dcp.get(conn.user[0]):
            return
        uid = conn.user[0]
        loop = asyncio.get_running_loop()
        for product, seconds in self.dcp[uid].items():
            loop.call_later(seconds, self._dcp_fire, uid, product)

    def _dcp_fire(self, uid: int, product: str) -> None:
        """The window passed: with no private connection back, cancel the product's open orders."""
        if any(c.user == (uid, "private") and not c.closed for c in self.conns):
            return
        account = self.accounts.accounts.get(uid)
        cat = {"SPOT": "spot", "DERIVATIVES": "linear"}.get(product)
        if account is None or cat is None or cat not in self.cores:
            return
        core = self.cores[cat]
        for o in core.open_orders(account):
            core.cancel(o)
        self.dcp_fired += 1

    # ------------------------------------------------------------ private pushes
    def push_private(self, account: Account, topic: str, data: list[dict[str, Any]]) -> None:
        key = (account.uid, "private")
        frame = {"id": str(uuid.uuid4()), "topic": topic, "creationTime": self.clock(), "data": data}
        for c in list(self.conns):
            if c.user == key and topic in c.streams:
                c.put(frame)


class BybitEvents:
    """The kit's `CoreEvents` for one category, as Bybit's pushes."""

    def __init__(self, hub: BybitHub, category: str) -> None:
        self.hub = hub
        self.category = category
        self.core = hub.cores[category]

    def order(self, o: Order, exec_type: str, fill: Fill | None) -> None:
        tp, sl = getattr(o, "take_profit", 0), getattr(o, "stop_loss", 0)
        if fill is not None and (tp or sl) and self.category == "linear" and self.hub.tpsl is not None:
            self.hub.tpsl.set(
                o.account, o.spec.symbol, tp or None, sl or None
            )  # the fill opened the position
        self.hub.push_private(o.account, "order", [{"category": self.category, **rules.order_row(o)}])
        if fill is not None:
            row = rules.execution_row(o.spec, fill, o.client_id, self.category)
            row.update(
                {
                    "category": self.category,
                    "leavesQty": rules.qty(o.spec, o.leaves),
                    "orderType": o.type,
                    "orderQty": rules.qty(o.spec, o.qty),
                    "orderPrice": rules.px(o.spec, o.price) if o.price else "0",
                    "isLeverage": "0" if self.category == "spot" else "",
                }
            )
            self.hub.push_private(o.account, "execution", [row])

    def balances(self, account: Account, assets: set[str], symbols: set[str], reason: str) -> None:
        self.hub.push_private(account, "wallet", [self.hub.wallet(account)])
        if self.category == "linear" and symbols:
            core = self.core
            rows = []
            for s in sorted(symbols):
                p = account.position(s, core.default_leverage)
                tp, sl = 0, 0
                if self.hub.tpsl is not None:
                    self.hub.tpsl.position_changed(account, s)
                    tp, sl = self.hub.tpsl.prices(account, s)
                row = rules.position_row(core.specs[s], p, core.mark[s], self.hub.clock(), tp, sl)
                rows.append({"category": "linear", **row})
            self.hub.push_private(account, "position", rows)

    def bbo(self, symbol: str, bid: tuple[int, int], ask: tuple[int, int], update_id: int) -> None:
        return None  # books go out as orderbook deltas on the flush tick

    def trade(self, symbol: str, p: Print) -> None:
        spec = self.core.specs[symbol]
        data = [
            {
                "T": p.time,
                "s": symbol,
                "S": "Sell" if p.buyer_maker else "Buy",
                "v": rules.qty(spec, p.lots),
                "p": rules.px(spec, p.price),
                "L": "ZeroPlusTick",
                "i": str(p.trade_id),
                "BT": False,
                "seq": next(self.hub.seq),
            }
        ]
        topic = f"publicTrade.{symbol}"
        self.hub._send(self.category, topic, {"topic": topic, "type": "snapshot", "ts": p.time, "data": data})
