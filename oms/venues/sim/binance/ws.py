"""Binance simulator room: WebSocket side — market streams, user-data streams and the WS API.

Touches nothing outside this simulator. Paths (all on the simulator's one port):
- spot streams `/ws`, `/ws/<s1>/<s2>`, `/stream?streams=a/b` (combined frames `{"stream","data"}`),
  with SUBSCRIBE / UNSUBSCRIBE / LIST_SUBSCRIPTIONS; a listenKey in place of a stream gives user data;
- USD-M streams the same under `/fstream/`, also with the `/public`, `/market` and `/private` routes
  (`/fstream/private/ws?listenKey=K`);
- spot WS API `/ws-api/v3`: `userDataStream.subscribe.signature` / `.unsubscribe`, `ping`, `time`.
Each connection has a bounded queue and one writer task, so a slow client never blocks the engine.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from oms.venues.sim.binance import rest_futures, rest_spot
from oms.venues.sim.binance.events import BinanceEvents
from oms.venues.sim.binance.rest_common import Req, hmac_hex
from oms.venues.sim.kit.accounts import Account, Accounts
from oms.venues.sim.kit.errors import SimError
from oms.venues.sim.kit.faults import Faults
from oms.venues.sim.kit.matching import MarketCore
from oms.venues.sim.kit.ws import Conn, WsHubBase

# spot WS API method -> rest_spot handler name (the WS API answers what the REST endpoint answers)
WS_API_SIGNED: dict[str, Callable[[Req], Any]] = {
    "order.place": rest_spot.new_order,
    "order.test": rest_spot.test_order,
    "order.status": rest_spot.query_order,
    "order.cancel": rest_spot.cancel_order,
    "order.cancelReplace": rest_spot.cancel_replace,
    "openOrders.status": rest_spot.open_orders,
    "openOrders.cancelAll": rest_spot.cancel_all,
    "allOrders": rest_spot.all_orders,
    "account.status": rest_spot.account,
    "myTrades": rest_spot.my_trades,
    "account.commission": rest_spot.commission,
}
WS_FAPI_SIGNED: dict[str, Callable[[Req], Any]] = {
    "order.place": rest_futures.new_order,
    "order.modify": rest_futures.modify_order,
    "order.cancel": rest_futures.cancel_order,
    "order.status": rest_futures.query_order,
    "algoOrder.place": rest_futures.new_algo,
    "algoOrder.cancel": rest_futures.cancel_algo,
    "account.status": rest_futures.account_v2,
    "v2/account.status": rest_futures.account_v2,
    "account.balance": rest_futures.balance,
    "v2/account.balance": rest_futures.balance,
    "account.position": rest_futures.position_risk_v2,
    "v2/account.position": rest_futures.position_risk_v3,
}
WS_FAPI_PUBLIC: dict[str, Callable[[Req], Any]] = {
    "depth": rest_futures.depth,
    "ticker.price": rest_futures.ticker_price,
    "ticker.book": rest_futures.book_ticker,
}
WS_API_PUBLIC: dict[str, Callable[[Req], Any]] = {
    "depth": rest_spot.depth,
    "exchangeInfo": rest_spot.exchange_info,
    "ticker.book": rest_spot.book_ticker,
    "ticker.price": rest_spot.ticker_price,
    "trades.recent": rest_spot.trades,
}


class WsHub(WsHubBase):
    def __init__(
        self, cores: dict[str, MarketCore], accounts: Accounts, faults: Faults, clock: Callable[[], int]
    ) -> None:
        super().__init__(faults, clock)
        self.cores = cores
        self.accounts = accounts
        self.listen: dict[str, tuple[Account, str, int]] = {}  # key -> (account, market, expires ms)
        self.ttl_ms = 3_600_000
        self._next_sub = 0
        self.prev_u: dict[tuple[str, str], int] = {}
        self.svc: Any = None  # the server (snapshot, rate_limits, listen keys), set by BinanceSim
        for m, core in cores.items():
            core.events = BinanceEvents(core, self._market_sink(m), self._user_sink(m))
            for s, book in core.books.items():
                self.prev_u[(m, s)] = book.update_id

    # ------------------------------------------------------------ fan-out
    def _market_sink(self, market: str) -> Callable[[str, str, dict], None]:
        def sink(symbol: str, kind: str, payload: dict) -> None:
            self._send(market, f"{symbol.lower()}@{kind}", payload)

        return sink

    def _user_sink(self, market: str) -> Callable[[Account, dict], None]:
        def sink(account: Account, payload: dict) -> None:
            key = (account.uid, market)
            for c in list(self.conns):
                if c.user == key:
                    c.put({"stream": "user", "data": payload} if c.combined else payload)
                for sid, sub in c.ws_api_subs.items():
                    if sub == key:
                        c.put({"subscriptionId": sid, "event": payload})

        return sink

    def flush_depth(self, market: str, symbol: str) -> None:
        """Emit pending level changes of one book as a depthUpdate (also partial-depth streams)."""
        core = self.cores[market]
        book = core.books[symbol]
        diff = book.take_diff()
        now = self.clock()
        low = symbol.lower()
        if diff is not None:
            spec = core.specs[symbol]
            payload: dict[str, Any] = {
                "e": "depthUpdate",
                "E": now,
                "s": symbol,
                "U": diff.first_id,
                "u": diff.last_id,
                "b": [[core.fmt_px(spec, p), core.fmt_qty(spec, q)] for p, q in diff.bids],
                "a": [[core.fmt_px(spec, p), core.fmt_qty(spec, q)] for p, q in diff.asks],
            }
            if market != "spot":
                payload = {
                    "e": "depthUpdate",
                    "E": now,
                    "T": now,
                    "s": symbol,
                    "U": diff.first_id,
                    "u": diff.last_id,
                    "pu": self.prev_u[(market, symbol)],
                    "b": payload["b"],
                    "a": payload["a"],
                }
            self.prev_u[(market, symbol)] = diff.last_id
            if not self.faults.take_depth_gap():
                self._send(market, f"{low}@depth", payload)
                self._send(market, f"{low}@depth@100ms", payload)
                self._send(market, f"{low}@depth@500ms", payload)
                self._send(market, f"{low}@depth@250ms", payload)
        for n in (5, 10, 20):
            names = [
                f"{low}@depth{n}",
                f"{low}@depth{n}@100ms",
                f"{low}@depth{n}@500ms",
                f"{low}@depth{n}@250ms",
            ]
            if not any(nm in c.streams for c in self.conns for nm in names):
                continue
            snap = self.snapshot(market, symbol, n, flush=False)
            if market != "spot":
                snap = {
                    "e": "depthUpdate",
                    "E": now,
                    "T": now,
                    "s": symbol,
                    "U": snap["lastUpdateId"],
                    "u": snap["lastUpdateId"],
                    "pu": self.prev_u[(market, symbol)],
                    "b": snap["bids"],
                    "a": snap["asks"],
                }
            for nm in names:
                self._send(market, nm, snap)

    def snapshot(self, market: str, symbol: str, limit: int, flush: bool = True) -> dict[str, Any]:
        if flush:
            self.flush_depth(market, symbol)
        core = self.cores[market]
        spec = core.specs[symbol]
        book = core.books[symbol]
        out: dict[str, Any] = {"lastUpdateId": book.update_id}
        if market != "spot":
            now = self.clock()
            out.update({"E": now, "T": now})
        out["bids"] = [[core.fmt_px(spec, p), core.fmt_qty(spec, q)] for p, q in book.levels(1, limit)]
        out["asks"] = [[core.fmt_px(spec, p), core.fmt_qty(spec, q)] for p, q in book.levels(-1, limit)]
        return out

    def expire_listen_keys(self) -> int:
        """Send `listenKeyExpired` on, and close, streams whose key was not kept alive; returns how many."""
        now = self.clock()
        expired = [(k, row) for k, row in self.listen.items() if row[2] < now]
        for key, (account, market, _) in expired:
            del self.listen[key]
            for c in list(self.conns):
                if c.user == (account.uid, market):
                    c.put({"e": "listenKeyExpired", "E": now, "listenKey": key})
                    with contextlib.suppress(asyncio.QueueFull):
                        c.queue.put_nowait(None)
        return len(expired)

    def emit_marks(self) -> None:
        self.expire_listen_keys()
        core = self.cores.get("usdm")
        if core is None:
            return
        now = self.clock()
        for sym, mark in core.mark.items():
            spec = core.specs[sym]
            p = {
                "e": "markPriceUpdate",
                "E": now,
                "s": sym,
                "p": f"{mark:.{spec.price_precision}f}",
                "ap": f"{mark:.{spec.price_precision}f}",
                "i": f"{mark:.8f}",
                "P": f"{mark:.8f}",
                "r": "0.00010000",
                "T": (now // 28_800_000 + 1) * 28_800_000,
            }
            self._send("usdm", f"{sym.lower()}@markPrice", p)
            self._send("usdm", f"{sym.lower()}@markPrice@1s", p)

    # ------------------------------------------------------------ listen keys
    def listen_new(self, account: Account, market: str) -> str:
        now = self.clock()
        for k, (a, m, _) in self.listen.items():
            if a is account and m == market:
                self.listen[k] = (a, m, now + self.ttl_ms)
                return k
        key = secrets.token_urlsafe(45)[:60]
        self.listen[key] = (account, market, now + self.ttl_ms)
        return key

    def listen_for(self, account: Account, market: str) -> str:
        for k, (a, m, _) in self.listen.items():
            if a is account and m == market:
                return k
        raise SimError(-1125, "This listenKey does not exist.")

    def _live(self, key: str) -> tuple[Account, str, int]:
        row = self.listen.get(key)
        if row is None or row[2] < self.clock():
            raise SimError(-1125, "This listenKey does not exist.")
        return row

    def listen_keep(self, key: str) -> None:
        a, m, _ = self._live(key)
        self.listen[key] = (a, m, self.clock() + self.ttl_ms)

    def listen_close(self, key: str) -> None:
        self._live(key)
        a, m, _ = self.listen.pop(key)
        for c in list(self.conns):
            if c.user == (a.uid, m):
                c.closed = True

    # ------------------------------------------------------------ connections
    def _apply_streams(self, conn: Conn, names: list[str]) -> None:
        for n in names:
            if not n:
                continue
            row = self.listen.get(n)
            if row is not None and row[1] == conn.market:
                conn.user = (row[0].uid, conn.market)
            else:
                conn.streams.add(n if "@" not in n else n.split("@", 1)[0].lower() + "@" + n.split("@", 1)[1])

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if self.faults.maintenance:
            return web.json_response({"code": -1001, "msg": "Service unavailable (maintenance)."}, status=503)
        path = request.path
        market = "spot"
        if path.startswith("/fstream/"):
            market = "usdm"
            path = path[len("/fstream") :]
            for cat in ("/public", "/market", "/private"):
                if path.startswith(cat + "/"):
                    path = path[len(cat) :]
        if path.startswith("/ws-api/"):
            return await self._ws_api(request, "spot")
        if path.startswith("/ws-fapi/"):
            return await self._ws_api(request, "usdm")
        combined = path.startswith("/stream")
        names: list[str] = []
        if combined:
            names = request.query.get("streams", "").split("/")
        elif path.startswith("/ws"):
            names = [n for n in path[len("/ws") :].split("/") if n]
            lk = request.query.get("listenKey")
            if lk:
                names.append(lk)
        else:
            raise web.HTTPNotFound()
        lk_names = [n for n in names if "@" not in n and n]
        for n in lk_names:
            row = self.listen.get(n)
            if row is None or row[1] != market or row[2] < self.clock():
                return web.json_response({"code": -1125, "msg": "This listenKey does not exist."}, status=400)

        def conn(ws: web.WebSocketResponse) -> Conn:
            c = Conn(ws, market, combined)
            self._apply_streams(c, names)
            return c

        return await self.serve(request, conn, self._control)

    def _control(self, conn: Conn, text: str) -> dict[str, Any] | None:
        try:
            req = json.loads(text)
            method, rid = req["method"], req.get("id")
        except (ValueError, KeyError, TypeError):
            return {"error": {"code": 3, "msg": "Invalid JSON: expected an object with 'method'"}, "id": None}
        params = req.get("params") or []
        if method == "SUBSCRIBE":
            self._apply_streams(conn, [str(p) for p in params])
            return {"result": None, "id": rid}
        if method == "UNSUBSCRIBE":
            for p in params:
                conn.streams.discard(str(p))
            return {"result": None, "id": rid}
        if method == "LIST_SUBSCRIPTIONS":
            return {"result": sorted(conn.streams), "id": rid}
        return {"error": {"code": 2, "msg": f"Invalid request: unknown method {method!r}"}, "id": rid}

    # ------------------------------------------------------------ WS API (spot)
    async def _ws_api(self, request: web.Request, market: str) -> web.StreamResponse:
        return await self.serve(request, lambda ws: Conn(ws, market), self._ws_api_call)

    def _ws_api_call(self, conn: Conn, text: str) -> dict[str, Any]:
        rid: Any = None
        try:
            req = json.loads(text)
            rid = req.get("id")
            method = req["method"]
            params = dict(req.get("params") or {})
            result = self._ws_api_method(conn, method, params)
            return {"id": rid, "status": 200, "result": result, "rateLimits": []}
        except SimError as e:
            return {"id": rid, "status": e.status, "error": {"code": e.code, "msg": e.msg}}
        except (ValueError, KeyError, TypeError) as e:
            return {"id": rid, "status": 400, "error": {"code": -1102, "msg": f"Malformed request: {e}"}}

    def _ws_api_method(self, conn: Conn, method: str, params: dict[str, Any]) -> Any:
        if method == "ping":
            return {}
        if method == "time":
            return {"serverTime": self.clock()}
        signed, public = (
            (WS_API_SIGNED, WS_API_PUBLIC) if conn.market == "spot" else (WS_FAPI_SIGNED, WS_FAPI_PUBLIC)
        )
        if method in signed or method in public:
            return self._ws_api_rest(conn.market, method, params, signed, public)
        if method == "userDataStream.subscribe.signature" and conn.market == "spot":
            account = self._ws_api_auth(params, "SPOT")
            self._next_sub += 1
            conn.ws_api_subs[self._next_sub] = (account.uid, "spot")
            return {"subscriptionId": self._next_sub}
        if method == "userDataStream.unsubscribe":
            sid = params.get("subscriptionId")
            if sid is None:
                conn.ws_api_subs.clear()
            elif conn.ws_api_subs.pop(int(sid), None) is None:
                raise SimError(-2036, "User Data Stream subscription not active.")
            return {}
        raise SimError(-1102, f"Unknown method '{method}'.")

    def _ws_api_rest(
        self, market: str, method: str, params: dict[str, Any], signed: dict, public: dict
    ) -> Any:
        """WS API methods that mirror a REST endpoint: same handler, same checks, same answers."""
        core = self.cores[market]
        key = None
        if method in signed:
            self._ws_api_auth(dict(params), "SPOT" if market == "spot" else "FUTURES")
            key = self.accounts.keys[str(params["apiKey"])]
        clean = {k: str(v) for k, v in params.items() if k not in ("apiKey", "signature")}
        req = Req("WS", method, clean, core, self.clock(), "127.0.0.1", self.svc, key)
        handler = signed.get(method) or public[method]
        result = handler(req)
        if isinstance(result, tuple):
            status, body = result
            if status != 200:
                raise SimError(body["code"], body["msg"], status)
            return body
        return result

    def _ws_api_auth(self, params: dict[str, Any], permission: str) -> Account:
        api_key = params.get("apiKey")
        sig = params.pop("signature", None)
        key = self.accounts.keys.get(str(api_key)) if api_key else None
        if key is None or key.revoked:
            raise SimError(-2015, "Invalid API-key, IP, or permissions for action.", 401)
        ts = params.get("timestamp")
        if ts is None:
            raise SimError(
                -1102, "Mandatory parameter 'timestamp' was not sent, was empty/null, or malformed."
            )
        now = self.clock()
        window = int(params.get("recvWindow", 5000))
        if int(ts) >= now + 1000 or now - int(ts) > window:
            raise SimError(-1021, "Timestamp for this request is outside of the recvWindow.")
        if not sig:
            raise SimError(
                -1102, "Mandatory parameter 'signature' was not sent, was empty/null, or malformed."
            )
        payload = urlencode(sorted((k, str(v)) for k, v in params.items()))
        if key.ed25519_public is not None:
            import base64

            try:
                key.ed25519_public.verify(base64.b64decode(sig), payload.encode())  # type: ignore[attr-defined]
            except Exception:
                raise SimError(-1022, "Signature for this request is not valid.") from None
        elif hmac_hex(key.secret, payload) != str(sig).lower():
            raise SimError(-1022, "Signature for this request is not valid.")
        if permission not in key.permissions:
            raise SimError(-2015, "Invalid API-key, IP, or permissions for action.", 401)
        return key.account
