"""Upbit simulator room: WebSocket — public `/websocket/v1` (`orderbook`, `trade`) and private
`/websocket/v1/private` (`myOrder`, `myAsset`; the JWT in the Authorization header of the handshake).
A client sends Upbit's list of tickets (`[{"ticket"}, {"type", "codes"}, {"format"}]`); answers come in
the DEFAULT or SIMPLE (abbreviated keys) format. The kit core's events become these pushes.

Touches nothing outside this simulator. Frames are JSON text (Upbit sends the same JSON as binary).
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from oms.venues.sim.kit.accounts import Account
from oms.venues.sim.kit.errors import SimError
from oms.venues.sim.kit.orders import Fill, Order, Print
from oms.venues.sim.kit.ws import Conn, WsHubBase
from oms.venues.sim.upbit import rules

PUBLIC_TYPES = ("orderbook", "trade")
PRIVATE_TYPES = ("myOrder", "myAsset")
SIMPLE = {  # DEFAULT key -> SIMPLE key (Upbit's abbreviations)
    "type": "ty",
    "code": "cd",
    "timestamp": "tms",
    "stream_type": "st",
    "total_ask_size": "tas",
    "total_bid_size": "tbs",
    "orderbook_units": "obu",
    "ask_price": "ap",
    "bid_price": "bp",
    "ask_size": "as",
    "bid_size": "bs",
    "level": "lv",
    "trade_date": "td",
    "trade_time": "ttm",
    "trade_timestamp": "ttms",
    "trade_price": "tp",
    "trade_volume": "tv",
    "ask_bid": "ab",
    "prev_closing_price": "pcp",
    "change": "c",
    "change_price": "cp",
    "sequential_id": "sid",
    "uuid": "uid",
    "order_type": "ot",
    "state": "s",
    "trade_uuid": "tuid",
    "price": "p",
    "avg_price": "ap",
    "volume": "v",
    "remaining_volume": "rv",
    "executed_volume": "ev",
    "trades_count": "tc",
    "reserved_fee": "rsf",
    "remaining_fee": "rmf",
    "paid_fee": "pf",
    "locked": "l",
    "executed_funds": "ef",
    "time_in_force": "tif",
    "trade_fee": "tf",
    "is_maker": "im",
    "identifier": "id",
    "order_timestamp": "otms",
    "asset_uuid": "astuid",
    "assets": "ast",
    "currency": "cu",
    "balance": "b",
    "asset_timestamp": "asttms",
}


def simple(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {SIMPLE.get(k, k): simple(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [simple(v) for v in obj]
    return obj


def ws_error(name: str, message: str) -> dict[str, Any]:
    return {"error": {"name": name, "message": message}}


class UpbitEvents:
    def __init__(self, hub: UpbitHub) -> None:
        self.hub = hub

    def order(self, o: Order, exec_type: str, fill: Fill | None) -> None:
        self.hub.my_order(o, fill)
        if exec_type == "NEW" and o.locked:  # Upbit pushes the balance an accepted order locks
            self.hub.my_asset(o.account, {o.lock_asset})

    def balances(self, account: Account, assets: set[str], symbols: set[str], reason: str) -> None:
        self.hub.my_asset(account, assets)

    def bbo(self, symbol: str, bid: tuple[int, int], ask: tuple[int, int], update_id: int) -> None:
        self.hub.dirty.add(symbol)

    def trade(self, symbol: str, p: Print) -> None:
        self.hub.dirty.add(symbol)
        self.hub.trade(symbol, p)


class UpbitHub(WsHubBase):
    def __init__(self, sim: Any) -> None:
        super().__init__(sim.faults, sim.now)
        self.sim = sim
        self.dirty: set[str] = set()
        sim.core.events = UpbitEvents(self)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if self.faults.maintenance:
            return web.json_response(ws_error("server_error", "maintenance"), status=503)
        private = request.path.rstrip("/").endswith("/private")
        key = None
        auth = request.headers.get("Authorization", "")
        if private or auth:
            try:
                key = self.sim.authenticate(auth, [])
            except SimError as e:
                return web.json_response(rules.body(e), status=e.status)

        def make(ws: web.WebSocketResponse) -> Conn:
            c = Conn(ws, "private" if private else "public")
            c.authed = {"key": key, "fmt": "DEFAULT", "private": private}
            if key is not None:
                c.user = (key.account.uid, "krw")
            return c

        return await self.serve(request, make, self._on_text)

    def _on_text(self, conn: Conn, text: str) -> Any:
        if text == "PING":
            return json.dumps({"status": "UP"})
        try:
            req = json.loads(text)
        except ValueError:
            return ws_error("WRONG_FORMAT", "the request must be a JSON list of tickets")
        if not isinstance(req, list) or not all(isinstance(x, dict) for x in req):
            return ws_error("WRONG_FORMAT", "the request must be a JSON list of objects")
        if not any("ticket" in x for x in req):
            return ws_error("NO_TICKET", 'the request needs a {"ticket": ...} object')
        fmt = next((str(x["format"]) for x in req if "format" in x), "DEFAULT")
        if fmt not in ("DEFAULT", "SIMPLE"):
            return ws_error("INVALID_PARAM", f"format must be DEFAULT or SIMPLE, got {fmt!r}")
        subs = [x for x in req if "type" in x]
        if not subs:
            return ws_error("NO_TYPE", 'the request needs a {"type": ..., "codes": [...]} object')
        allowed = (
            PRIVATE_TYPES
            if conn.authed["private"]
            else PUBLIC_TYPES + (PRIVATE_TYPES if conn.authed["key"] else ())
        )
        streams: set[str] = set()
        snaps: list[tuple[str, str, dict[str, Any]]] = []
        for s in subs:
            t = s["type"]
            if t not in allowed:
                return ws_error("INVALID_PARAM", f"type {t!r} is not served here; use {', '.join(allowed)}")
            codes = [str(c).upper() for c in s.get("codes") or []]
            if t in PUBLIC_TYPES and not codes:
                return ws_error("NO_CODES", f"type {t} needs codes")
            unknown = [c for c in codes if c not in self.sim.core.specs]
            if unknown:
                return ws_error("INVALID_PARAM", f"unknown codes {unknown}")
            for c in codes or ["*"]:
                streams.add(f"{t}:{c}")
                if t == "orderbook" and not s.get("is_only_realtime"):
                    snaps.append((t, c, self._book(c, "SNAPSHOT")))
        conn.streams = streams
        conn.authed["fmt"] = fmt
        for _, _, frame in snaps:
            conn.put(self._fmt(conn, frame))
        return None

    # ------------------------------------------------------------ pushes
    def _fmt(self, conn: Conn, frame: dict[str, Any]) -> dict[str, Any]:
        return simple(frame) if conn.authed["fmt"] == "SIMPLE" else frame

    def _push(self, stream: str, frame: dict[str, Any], uid: int | None = None) -> None:
        t = stream.partition(":")[0]
        for c in list(self.conns):
            if (stream in c.streams or f"{t}:*" in c.streams) and (
                uid is None or (c.user and c.user[0] == uid)
            ):
                c.put(self._fmt(c, frame))

    def _book(self, code: str, stream_type: str) -> dict[str, Any]:
        spec = self.sim.core.specs[code]
        row = self.sim.book_row(spec, self.clock())
        return {
            "type": "orderbook",
            "code": code,
            **{k: v for k, v in row.items() if k != "market"},
            "stream_type": stream_type,
        }

    def flush_books(self) -> None:
        dirty, self.dirty = self.dirty, set()
        for code in sorted(dirty):
            if self.faults.take_depth_gap():
                continue
            self._push(f"orderbook:{code}", self._book(code, "REALTIME"))

    def trade(self, code: str, p: Print) -> None:
        spec = self.sim.core.specs[code]
        ts = rules.kst(p.time)
        frame = {
            "type": "trade",
            "code": code,
            "timestamp": self.clock(),
            "trade_date": ts[:10],
            "trade_time": ts[11:19],
            "trade_timestamp": p.time,
            "trade_price": float(spec.tick * p.price),
            "trade_volume": float(spec.step * p.lots),
            "ask_bid": "ASK" if p.buyer_maker else "BID",
            "prev_closing_price": float(spec.start_price),
            "change": "EVEN",
            "change_price": 0.0,
            "sequential_id": p.trade_id,
            "stream_type": "REALTIME",
        }
        self._push(f"trade:{code}", frame)

    def my_order(self, o: Order, fill: Fill | None) -> None:
        row = self.sim.order_row(o)
        st = row["state"]
        if fill is not None:
            st = "trade"
        spec = o.spec
        frame = {
            "type": "myOrder",
            "code": spec.symbol,
            "uuid": row["uuid"],
            "ask_bid": "BID" if o.side > 0 else "ASK",
            "order_type": o.type,
            "state": st,
            "trade_uuid": None if fill is None else f"{fill.trade_id}",
            "price": float(spec.tick * (fill.price if fill else o.price)) if (fill or o.price) else None,
            "avg_price": float(o.cum_quote / (spec.step * o.executed)) if o.executed else 0.0,
            "volume": None if fill is None else float(spec.step * fill.lots),
            "remaining_volume": None if o.type == "price" else float(spec.step * o.leaves),
            "executed_volume": float(spec.step * o.executed),
            "trades_count": row["trades_count"],
            "reserved_fee": float(row["reserved_fee"]),
            "remaining_fee": 0.0,
            "paid_fee": float(row["paid_fee"]),
            "locked": float(o.locked),
            "executed_funds": float(o.cum_quote),
            "time_in_force": getattr(o, "upbit_tif", None),
            "trade_fee": None if fill is None else float(rules.paid_fee(o, [fill])),
            "is_maker": None if fill is None else fill.maker,
            "identifier": o.client_id or None,
            "order_timestamp": o.time,
            "trade_timestamp": None if fill is None else fill.time,
            "timestamp": self.clock(),
            "stream_type": "REALTIME",
        }
        self._push(f"myOrder:{spec.symbol}", frame, o.account.uid)

    def my_asset(self, acct: Account, assets: set[str]) -> None:
        now = self.clock()
        rows = [
            {"currency": a, "balance": float(acct.free(a)), "locked": float(acct.spot.get(a, [0, 0])[1])}
            for a in sorted(assets)
        ]
        frame = {
            "type": "myAsset",
            "asset_uuid": f"{acct.uid}-{now}",
            "assets": rows,
            "asset_timestamp": now,
            "timestamp": now,
            "stream_type": "REALTIME",
        }
        self._push("myAsset:*", frame, acct.uid)
