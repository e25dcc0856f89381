"""OKX simulator room: v5 WebSocket — `/ws/v5/public` (`books`: snapshot then updates with
`seqId` / `prevSeqId` and the CRC32 checksum of the top 25 levels; `trades`; `tickers`) and
`/ws/v5/private` (`op: login` with base64 HMAC of timestamp + "GET/users/self/verify", then `orders`,
`positions`, `account`); text `ping` → `pong`. The kit core's events become these pushes (`OkxEvents`).

Touches nothing outside this simulator.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from oms.venues.sim.kit.accounts import Account, Accounts
from oms.venues.sim.kit.faults import Faults
from oms.venues.sim.kit.matching import MarketCore
from oms.venues.sim.kit.orders import Fill, Order, Print
from oms.venues.sim.kit.ws import Conn, WsHubBase
from oms.venues.sim.okx import rules


@dataclass(eq=False)
class OkxConn(Conn):
    """A connection that remembers when anything last went out (OKX's 30 s idle rule)."""

    last_push: float = 0.0

    def put(self, frame: Any) -> None:
        self.last_push = time.monotonic()
        super().put(frame)


PUBLIC_CHANNELS = ("books", "trades", "tickers")
PRIVATE_CHANNELS = ("orders", "positions", "account")
BUSINESS_CHANNELS = ("orders-algo",)
SKEW_S = 30


class OkxHub(WsHubBase):
    def __init__(self, svc: Any, accounts: Accounts, faults: Faults, clock: Callable[[], int]) -> None:
        super().__init__(faults, clock)
        self.svc = svc
        self.cores: dict[str, MarketCore] = svc.cores
        self.accounts = accounts
        self.shown: dict[str, dict[tuple[int, int], int]] = {}  # instId -> levels last pushed
        self.seq: dict[str, int] = {}
        self.corrupt = 0  # the next N book updates carry a wrong size (checksum fault)
        for market, core in self.cores.items():
            core.events = OkxEvents(self, market)

    def _core(self, inst: str) -> MarketCore | None:
        return next((c for c in self.cores.values() if inst in c.specs), None)

    # ------------------------------------------------------------ connections
    async def handle(self, request: web.Request) -> web.StreamResponse:
        if self.faults.maintenance:
            return web.json_response({"code": "50001", "msg": "Service temporarily unavailable"}, status=503)
        kind = request.path.rstrip("/").rsplit("/", 1)[-1]
        if kind not in ("public", "private", "business"):
            raise web.HTTPNotFound(
                text="no WebSocket here; use /ws/v5/public, /ws/v5/private or /ws/v5/business"
            )
        conn_id = uuid.uuid4().hex[:8]

        def make(ws: web.WebSocketResponse) -> Conn:
            c = OkxConn(ws, kind, last_push=time.monotonic())
            c.authed = {"connId": conn_id}
            return c

        return await self.serve(request, make, self._on_text, heartbeat=30.0)

    def _err(self, conn: Conn, code: int, msg: str) -> dict[str, Any]:
        return {"event": "error", "code": str(code), "msg": msg, "connId": conn.authed["connId"]}

    def _on_text(self, conn: Conn, text: str) -> Any:
        if text == "ping":
            return "pong"
        try:
            msg = json.loads(text)
            op = msg["op"]
            args = msg.get("args") or []
        except (ValueError, KeyError, TypeError):
            return self._err(conn, 60012, f"Invalid request: {text[:100]}")
        if op == "login":
            return self._login(conn, args)
        if op not in ("subscribe", "unsubscribe") or not isinstance(args, list):
            return self._err(conn, 60012, f"Invalid request: {text[:100]}")
        for arg in args:
            if not isinstance(arg, dict):
                return self._err(conn, 60012, f"Invalid request: {text[:100]}")
            ch = arg.get("channel")
            if conn.market in ("private", "business"):
                if ch not in (PRIVATE_CHANNELS if conn.market == "private" else BUSINESS_CHANNELS):
                    return self._err(
                        conn, 60018, f"Wrong URL or channel:{ch}, instId or instType doesn't exist."
                    )
                if conn.user is None:
                    return self._err(conn, 60011, "Please log in")
                stream = f"{ch}:{arg.get('instType', 'ANY')}"
            else:
                inst = str(arg.get("instId", ""))
                if ch not in PUBLIC_CHANNELS or self._core(inst) is None:
                    return self._err(conn, 60018, f"Wrong URL or channel:{ch},instId:{inst} doesn't exist.")
                stream = f"{ch}:{inst}"
            if op == "subscribe":
                conn.streams.add(stream)
            else:
                conn.streams.discard(stream)
            conn.put({"event": op, "arg": arg, "connId": conn.authed["connId"]})
            if op == "subscribe" and ch == "books":
                conn.put(self._snapshot(arg))
            elif op == "subscribe" and conn.user is not None and ch in ("account", "positions"):
                conn.put({"arg": {**arg, "uid": str(conn.user[0])}, "data": self._initial(ch, conn.user[0])})
        return None

    def _initial(self, channel: str, uid: int) -> list[dict[str, Any]]:
        """What OKX pushes right after subscribing `account` / `positions`: the current state."""
        account = self.accounts.accounts[uid]
        if channel == "account":
            return list(self.svc.balance_rows(account))
        core = self.cores["SWAP"]
        return [
            self.svc.position_row(core, spec, account)
            for spec in core.specs.values()
            if account.position(spec.symbol, core.default_leverage).amt
        ]

    def _login(self, conn: Conn, args: list[Any]) -> dict[str, Any]:
        if conn.market not in ("private", "business") or len(args) != 1 or not isinstance(args[0], dict):
            return self._err(
                conn, 60012, "Invalid request: login goes to /ws/v5/private or /business, one arg"
            )
        a = args[0]
        key = self.accounts.keys.get(str(a.get("apiKey", "")))
        if key is None or key.revoked:
            return self._err(conn, 60005, "Invalid OK-ACCESS-KEY")
        if self.svc.passphrases.get(key.key) != a.get("passphrase"):
            return self._err(conn, 60024, "Wrong passphrase")
        ts = str(a.get("timestamp", ""))
        try:
            skew = abs(float(ts) - self.clock() / 1000)
        except ValueError:
            return self._err(conn, 60004, f"Invalid timestamp {ts!r}: unix seconds")
        if skew > SKEW_S:
            return self._err(conn, 60004, "Invalid timestamp")
        want = base64.b64encode(
            hmac.new(key.secret.encode(), f"{ts}GET/users/self/verify".encode(), hashlib.sha256).digest()
        ).decode()
        if not hmac.compare_digest(want, str(a.get("sign", ""))):
            return self._err(conn, 60007, "Invalid sign")
        conn.user = (key.account.uid, "private")
        return {"event": "login", "code": "0", "msg": "", "connId": conn.authed["connId"]}

    def close_idle(self) -> None:
        """OKX closes a connection that has had nothing pushed (not even a `pong`) for `ws_idle_s`."""
        cutoff = time.monotonic() - self.svc.cfg.ws_idle_s
        for c in list(self.conns):
            if isinstance(c, OkxConn) and not c.closed and c.last_push < cutoff:
                c.closed = True
                with contextlib.suppress(asyncio.QueueFull):
                    c.queue.put_nowait(None)

    # ------------------------------------------------------------ books
    def _levels(self, inst: str) -> dict[tuple[int, int], int]:
        book = self.svc.cores_by_inst[inst].books[inst]
        depth = self.svc.cfg.book_depth
        out = {(1, p): q for p, q in book.levels(1, depth)}
        out.update({(-1, p): q for p, q in book.levels(-1, depth)})
        return out

    def _rows(self, inst: str, levels: dict[tuple[int, int], int], side: int) -> list[list[str]]:
        core = self.svc.cores_by_inst[inst]
        spec, book = core.specs[inst], core.books[inst]
        queues = book.bids if side > 0 else book.asks
        ct = self.svc.ct_val(spec)
        rows = sorted(((p, q) for (s, p), q in levels.items() if s == side), reverse=side > 0)
        return [
            [rules.px(spec, p), rules.contracts(spec, ct, q), "0", str(len(queues.get(p, ())) if q else 0)]
            for p, q in rows
        ]

    def _snapshot(self, arg: dict[str, Any]) -> dict[str, Any]:
        inst = arg["instId"]
        levels = self._levels(inst)
        self.shown.setdefault(inst, levels)
        if inst not in self.seq:
            self.seq[inst] = 1000
        levels = self.shown[inst]
        bids, asks = self._rows(inst, levels, 1), self._rows(inst, levels, -1)
        data = {
            "asks": asks,
            "bids": bids,
            "ts": str(self.clock()),
            "checksum": rules.checksum(bids, asks),
            "prevSeqId": -1,
            "seqId": self.seq[inst],
        }
        return {"arg": arg, "action": "snapshot", "data": [data]}

    def flush_books(self) -> None:
        """One update per subscribed `books` instrument whose levels changed since the last push."""
        insts = {s.split(":", 1)[1] for c in self.conns for s in c.streams if s.startswith("books:")}
        for inst in insts:
            if inst not in self.shown:
                continue
            now_levels = self._levels(inst)
            before = self.shown[inst]
            changed = {k: q for k, q in now_levels.items() if before.get(k) != q}
            changed.update({k: 0 for k in before if k not in now_levels})
            if not changed:
                continue
            self.shown[inst] = now_levels
            prev = self.seq[inst]
            self.seq[inst] = prev + 1
            if self.faults.take_depth_gap():  # the update is lost: the client sees prevSeqId jump
                continue
            bids_all, asks_all = self._rows(inst, now_levels, 1), self._rows(inst, now_levels, -1)
            bids, asks = self._rows(inst, changed, 1), self._rows(inst, changed, -1)
            if self.corrupt and (bids or asks):  # a size the book does not have: the checksum fails
                self.corrupt -= 1
                row = (bids or asks)[0]
                row[1] = rules.plain(rules.Decimal(row[1]) + rules.Decimal(1))
            data = {
                "asks": asks,
                "bids": bids,
                "ts": str(self.clock()),
                "checksum": rules.checksum(bids_all, asks_all),
                "prevSeqId": prev,
                "seqId": self.seq[inst],
            }
            self._send_public(
                f"books:{inst}",
                {"arg": {"channel": "books", "instId": inst}, "action": "update", "data": [data]},
            )

    def _send_public(self, stream: str, frame: dict[str, Any]) -> None:
        for c in list(self.conns):
            if c.market == "public" and stream in c.streams:
                c.put(frame)

    # ------------------------------------------------------------ private
    def push_private(
        self, account: Account, channel: str, inst_type: str, data: list[dict[str, Any]]
    ) -> None:
        key = (account.uid, "private")
        for c in list(self.conns):
            if c.user != key:
                continue
            for want in (inst_type, "ANY"):
                if f"{channel}:{want}" in c.streams:
                    arg = {"channel": channel, "instType": want, "uid": str(account.uid)}
                    c.put({"arg": arg, "data": data})
                    break


class OkxEvents:
    """The kit's `CoreEvents` for one market (SPOT or SWAP), as OKX's pushes."""

    def __init__(self, hub: OkxHub, market: str) -> None:
        self.hub = hub
        self.market = market
        self.core = hub.cores[market]

    def order(self, o: Order, exec_type: str, fill: Fill | None) -> None:
        row = rules.order_row(o, self.hub.svc.ct_val(o.spec), self.core.default_leverage)
        if fill is None:  # a push without a fill carries no fill fields
            row.update({"fillPx": "", "fillSz": "0", "fillTime": "", "tradeId": "", "fillFee": "0"})
        self.hub.push_private(o.account, "orders", self.market, [row])

    def balances(self, account: Account, assets: set[str], symbols: set[str], reason: str) -> None:
        self.hub.push_private(account, "account", "ANY", self.hub.svc.balance_rows(account))
        if self.market == "SWAP" and symbols:
            rows = [
                self.hub.svc.position_row(self.core, self.core.specs[s], account) for s in sorted(symbols)
            ]
            self.hub.push_private(account, "positions", "SWAP", rows)

    def bbo(self, symbol: str, bid: tuple[int, int], ask: tuple[int, int], update_id: int) -> None:
        self.hub._send_public(
            f"tickers:{symbol}",
            {
                "arg": {"channel": "tickers", "instId": symbol},
                "data": [self.hub.svc.ticker_row(self.core, symbol)],
            },
        )

    def trade(self, symbol: str, p: Print) -> None:
        spec = self.core.specs[symbol]
        data = [
            {
                "instId": symbol,
                "tradeId": str(p.trade_id),
                "px": rules.px(spec, p.price),
                "sz": rules.contracts(spec, self.hub.svc.ct_val(spec), p.lots),
                "side": "sell" if p.buyer_maker else "buy",
                "count": "1",
                "ts": str(p.time),
            }
        ]
        self.hub._send_public(
            f"trades:{symbol}", {"arg": {"channel": "trades", "instId": symbol}, "data": data}
        )
