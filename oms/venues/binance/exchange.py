"""Venues room (binance): `BinanceExchange` — the Exchange Protocol over Binance REST + WebSocket
(spot `/api/v3`, USD-M `/fapi`), on aiohttp, speaking the wire protocol directly.

Touches the network (the configured base URLs only: production, testnet or the local simulator) and
the secret it is given (never logged). Errors are mapped by oms/venues/errors.py: 4xx → Rejected,
429/418/-1021 → Transient, 5xx or a lost answer on order entry → OutcomeUnknown.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import time
from collections.abc import Sequence
from decimal import Decimal
from typing import Any, ClassVar
from urllib.parse import urlencode

import aiohttp

from oms import log
from oms.errors import OmsError, OutcomeUnknown, Rejected, Transient
from oms.venues.binance import parse
from oms.venues.binance.auth import hmac_signature, ws_api_params
from oms.venues.binance.capabilities import CAPABILITIES
from oms.venues.binance.instruments import parse_exchange_info
from oms.venues.errors import classify
from oms.venues.instruments import Instrument
from oms.venues.interface import (
    Balance,
    BatchResult,
    Capabilities,
    EventCallback,
    FeeRates,
    ModifyRequest,
    OrderReport,
    OrderRequest,
    PositionReport,
)

_log = log.get(__name__)
_TYPES = {
    "spot": {
        "limit": "LIMIT",
        "market": "MARKET",
        "stop_market": "STOP_LOSS",
        "stop_limit": "STOP_LOSS_LIMIT",
        "take_profit_market": "TAKE_PROFIT",
        "take_profit_limit": "TAKE_PROFIT_LIMIT",
    },
    "usdm": {
        "limit": "LIMIT",
        "market": "MARKET",
        "stop_market": "STOP_MARKET",
        "stop_limit": "STOP",
        "take_profit_market": "TAKE_PROFIT_MARKET",
        "take_profit_limit": "TAKE_PROFIT",
    },
}
_CONDITIONAL = {
    "stop_market",
    "stop_limit",
    "take_profit_market",
    "take_profit_limit",
    "trailing_stop_market",
}


class _WsSubscription:
    def __init__(self, task: asyncio.Task, ws: aiohttp.ClientWebSocketResponse | None = None) -> None:
        self.task, self.ws = task, ws

    async def close(self) -> None:
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self.task


class BinanceExchange:
    venue: ClassVar[str] = "binance"
    markets: ClassVar[tuple[str, ...]] = ("spot", "usdm")
    CAPABILITIES: ClassVar[dict[str, Capabilities]] = CAPABILITIES
    market: str
    capabilities: Capabilities

    def __init__(
        self,
        market: str,
        *,
        rest_url: str,
        stream_url: str,
        ws_api_url: str = "",
        api_key: str = "",
        secret: str = "",
        recv_window: int = 5000,
        timeout_s: float = 10.0,
    ) -> None:
        if market not in self.markets:
            raise Rejected(
                f"Binance market {market!r} is not supported; use one of {', '.join(self.markets)}"
            )
        self.market = market
        self.capabilities = CAPABILITIES[market]
        self.rest_url = rest_url.rstrip("/")
        self.stream_url = stream_url.rstrip("/")
        self.ws_api_url = ws_api_url
        self._key, self._secret = api_key, secret
        self.recv_window = recv_window
        self.time_offset_ms = 0
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._session: aiohttp.ClientSession | None = None
        self._prefix = "/api/v3" if market == "spot" else "/fapi/v1"

    # ------------------------------------------------------------ transport
    async def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        return self._session

    async def _call(
        self,
        method: str,
        path: str,
        params: dict[str, Any] | None = None,
        *,
        signed: bool = False,
        key_only: bool = False,
    ) -> Any:
        items = [
            (k, v if isinstance(v, str) else json.dumps(v) if isinstance(v, list | dict) else str(v))
            for k, v in (params or {}).items()
            if v is not None
        ]
        headers = {}
        if signed or key_only:
            if not self._key:
                raise Rejected("this Binance call needs an API key; pass api_key= and secret=")
            headers["X-MBX-APIKEY"] = self._key
        if signed:
            items += [
                ("recvWindow", str(self.recv_window)),
                ("timestamp", str(int(time.time() * 1000) + self.time_offset_ms)),
            ]
            query = urlencode(items)
            query += "&signature=" + hmac_signature(self._secret, query)
        else:
            query = urlencode(items)
        url = self.rest_url + path
        mutating = method != "GET"
        session = await self._http()
        try:
            if mutating:
                headers["Content-Type"] = "application/x-www-form-urlencoded"
                resp_cm = session.request(method, url, data=query.encode(), headers=headers)
            else:
                resp_cm = session.request(method, url + ("?" + query if query else ""), headers=headers)
            async with resp_cm as resp:
                text = await resp.text()
                status = resp.status
                retry = resp.headers.get("Retry-After")
        except aiohttp.ClientConnectorError as e:
            raise Transient(f"cannot connect to {self.rest_url}: {e}", venue="binance") from None
        except (TimeoutError, aiohttp.ClientError) as e:
            cls = OutcomeUnknown if mutating else Transient
            raise cls(f"{method} {path}: no answer ({type(e).__name__})", venue="binance") from None
        try:
            body = json.loads(text) if text else {}
        except ValueError:
            body = {"msg": text[:200]}
        if 200 <= status < 300:
            return body
        code = body.get("code") if isinstance(body, dict) else None
        msg = body.get("msg", "") if isinstance(body, dict) else str(body)
        raise classify(
            "binance", status, code, msg, mutating=mutating, retry_after=float(retry) if retry else None
        )

    # ------------------------------------------------------------ instruments, time
    async def instruments(self) -> list[Instrument]:
        return parse_exchange_info(await self._call("GET", self._prefix + "/exchangeInfo"), self.market)

    async def server_time(self) -> int:
        t = int((await self._call("GET", self._prefix + "/time"))["serverTime"])
        self.time_offset_ms = t - int(time.time() * 1000)
        return t

    # ------------------------------------------------------------ orders
    def _order_params(self, req: OrderRequest) -> tuple[str, dict[str, Any]]:
        types = _TYPES[self.market]
        if req.order_type not in types:
            raise Rejected(
                f"order type {req.order_type!r} is not native on Binance {self.market}; "
                f"native: {', '.join(types)}"
            )
        p: dict[str, Any] = {
            "symbol": req.symbol,
            "side": "BUY" if req.side > 0 else "SELL",
            "type": types[req.order_type],
            "quantity": str(req.qty),
        }
        if req.client_id:
            p["newClientOrderId"] = req.client_id
        if req.post_only and self.market == "spot":
            p["type"] = "LIMIT_MAKER"
        elif req.order_type in ("limit", "stop_limit", "take_profit_limit"):
            p["timeInForce"] = "GTX" if req.post_only else req.tif.upper()
        if req.price is not None and req.order_type in ("limit", "stop_limit", "take_profit_limit"):
            p["price"] = str(req.price)
        path = self._prefix + "/order"
        if req.order_type in _CONDITIONAL:
            if req.stop_price is None:
                raise Rejected(f"{req.order_type} order for {req.symbol} needs stop_price")
            if self.market == "usdm":
                path = "/fapi/v1/algoOrder"
                p["algoType"] = "CONDITIONAL"
                p["triggerPrice"] = str(req.stop_price)
                if "newClientOrderId" in p:
                    p["clientAlgoId"] = p.pop("newClientOrderId")
            else:
                p["stopPrice"] = str(req.stop_price)
        if self.market == "usdm":
            if req.reduce_only:
                p["reduceOnly"] = "true"
            if path.endswith("/order"):
                p["newOrderRespType"] = "RESULT"
        elif req.reduce_only:
            raise Rejected("reduce-only has no meaning on Binance spot")
        else:
            p["newOrderRespType"] = "RESULT"
        return path, p

    def _report(self, body: dict[str, Any]) -> OrderReport:
        if "algoId" in body:
            return OrderReport(
                "binance",
                self.market,
                body["symbol"],
                str(body["algoId"]),
                body["clientAlgoId"],
                "pending",
                1 if body["side"] == "BUY" else -1,
                parse.ORDER_TYPE.get(body["orderType"], body["orderType"].lower()),
                Decimal(body["quantity"]),
                Decimal(0),
                Decimal(body["price"]) or None,
                stop_price=Decimal(body["triggerPrice"]),
                reduce_only=bool(body.get("reduceOnly")),
                ts_ms=body.get("createTime", 0),
                raw=body,
            )
        return parse.parse_spot_order(body) if self.market == "spot" else parse.parse_futures_order(body)

    async def submit(self, req: OrderRequest) -> OrderReport:
        path, p = self._order_params(req)
        return self._report(await self._call("POST", path, p, signed=True))

    async def submit_batch(self, reqs: Sequence[OrderRequest]) -> list[BatchResult]:
        if self.market == "spot" or any(r.order_type in _CONDITIONAL for r in reqs):
            out: list[BatchResult] = []
            for r in reqs:
                try:
                    out.append(await self.submit(r))
                except OmsError as e:
                    out.append(e)
            return out
        results: list[BatchResult] = []
        for i in range(0, len(reqs), self.capabilities.max_batch):
            chunk = [self._order_params(r)[1] for r in reqs[i : i + self.capabilities.max_batch]]
            body = await self._call("POST", "/fapi/v1/batchOrders", {"batchOrders": chunk}, signed=True)
            for row in body:
                if "code" in row and "orderId" not in row:
                    results.append(classify("binance", 400, row["code"], row.get("msg", "")))
                else:
                    results.append(self._report(row))
        return results

    async def modify(self, req: ModifyRequest) -> OrderReport:
        ident = {
            "orderId": req.order_id,
            "origClientOrderId": req.client_id if req.order_id is None else None,
        }
        if self.market == "usdm":
            p = {
                "symbol": req.symbol,
                **ident,
                "side": "BUY" if req.side > 0 else "SELL",
                "quantity": str(req.qty),
                "price": str(req.price),
            }
            return self._report(await self._call("PUT", "/fapi/v1/order", p, signed=True))
        p = {
            "symbol": req.symbol,
            "side": "BUY" if req.side > 0 else "SELL",
            "type": "LIMIT",
            "cancelReplaceMode": "STOP_ON_FAILURE",
            "timeInForce": "GTC",
            "quantity": str(req.qty),
            "price": str(req.price),
            "cancelOrderId": req.order_id,
            "cancelOrigClientOrderId": req.client_id if req.order_id is None else None,
            "newOrderRespType": "RESULT",
        }
        body = await self._call("POST", "/api/v3/order/cancelReplace", p, signed=True)
        return self._report(body["newOrderResponse"])

    async def cancel(
        self, symbol: str, *, order_id: str | None = None, client_id: str | None = None
    ) -> OrderReport:
        if order_id is None and client_id is None:
            raise Rejected("cancel needs order_id or client_id")
        p = {
            "symbol": symbol,
            "orderId": order_id,
            "origClientOrderId": client_id if order_id is None else None,
        }
        return self._report(await self._call("DELETE", self._prefix + "/order", p, signed=True))

    async def cancel_all(self, symbol: str) -> list[OrderReport]:
        before = await self.open_orders(symbol)
        if not before:
            return []
        if self.market == "spot":
            return [
                self._report(o)
                for o in await self._call("DELETE", "/api/v3/openOrders", {"symbol": symbol}, signed=True)
            ]
        await self._call("DELETE", "/fapi/v1/allOpenOrders", {"symbol": symbol}, signed=True)
        return [await self.order_status(symbol, order_id=o.order_id) for o in before]

    async def open_orders(self, symbol: str | None = None) -> list[OrderReport]:
        rows = await self._call("GET", self._prefix + "/openOrders", {"symbol": symbol}, signed=True)
        return [self._report(r) for r in rows]

    async def order_status(
        self, symbol: str, *, order_id: str | None = None, client_id: str | None = None
    ) -> OrderReport:
        p = {
            "symbol": symbol,
            "orderId": order_id,
            "origClientOrderId": client_id if order_id is None else None,
        }
        return self._report(await self._call("GET", self._prefix + "/order", p, signed=True))

    # ------------------------------------------------------------ account
    async def balances(self) -> list[Balance]:
        if self.market == "spot":
            body = await self._call("GET", "/api/v3/account", signed=True)
            return [Balance(b["asset"], Decimal(b["free"]), Decimal(b["locked"])) for b in body["balances"]]
        body = await self._call("GET", "/fapi/v2/balance", signed=True)
        return [
            Balance(
                b["asset"],
                Decimal(b["availableBalance"]),
                Decimal(b["balance"]) - Decimal(b["availableBalance"]),
            )
            for b in body
        ]

    async def positions(self) -> list[PositionReport]:
        if self.market == "spot":
            return []
        rows = await self._call("GET", "/fapi/v2/positionRisk", signed=True)
        return [
            PositionReport(
                r["symbol"],
                Decimal(r["positionAmt"]),
                Decimal(r["entryPrice"]),
                Decimal(r["markPrice"]),
                Decimal(r["unRealizedProfit"]),
                int(r["leverage"]),
                r["positionSide"],
            )
            for r in rows
            if Decimal(r["positionAmt"])
        ]

    async def fee_rates(self, symbol: str) -> FeeRates:
        if self.market == "spot":
            b = await self._call("GET", "/api/v3/account/commission", {"symbol": symbol}, signed=True)
            c = b["standardCommission"]
            return FeeRates(symbol, Decimal(c["maker"]), Decimal(c["taker"]))
        b = await self._call("GET", "/fapi/v1/commissionRate", {"symbol": symbol}, signed=True)
        return FeeRates(symbol, Decimal(b["makerCommissionRate"]), Decimal(b["takerCommissionRate"]))

    # ------------------------------------------------------------ streams
    async def _pump(self, ws: aiohttp.ClientWebSocketResponse, on_event: EventCallback, decode: Any) -> None:
        async for msg in ws:
            if msg.type != aiohttp.WSMsgType.TEXT:
                continue
            try:
                rec = decode(json.loads(msg.data))
            except OmsError as e:
                _log.warning("binance %s: dropped a frame that does not parse: %s", self.market, e)
                continue
            if rec is None:
                continue
            res = on_event(rec)
            if inspect.isawaitable(res):
                await res

    @staticmethod
    def _decode_market(frame: dict[str, Any]) -> Any:
        data = frame.get("data", frame)
        if "result" in frame and "id" in frame:
            return None
        kind = data.get("e")
        if kind == "depthUpdate":
            return parse.parse_depth_update(data)
        if kind == "aggTrade":
            return parse.parse_agg_trade(data)
        if kind == "markPriceUpdate":
            return parse.parse_mark_price(data)
        if kind in (None, "bookTicker") and "b" in data and "a" in data:
            return parse.parse_book_ticker(data)
        return None

    @staticmethod
    def _decode_user(frame: dict[str, Any]) -> Any:
        event = frame.get("event", frame)
        kind = event.get("e")
        if kind == "executionReport":
            return parse.parse_execution_report(event)
        if kind == "ORDER_TRADE_UPDATE":
            return parse.parse_order_trade_update(event)
        return event if kind else None

    async def subscribe_market_data(
        self, symbols: Sequence[str], channels: Sequence[str], on_event: EventCallback
    ) -> _WsSubscription:
        """channels: depth, bookTicker, aggTrade, markPrice (USD-M)."""
        allowed = {
            "depth": "depth@100ms",
            "bookTicker": "bookTicker",
            "aggTrade": "aggTrade",
            "markPrice": "markPrice@1s",
        }
        bad = [c for c in channels if c not in allowed]
        if bad:
            raise Rejected(f"unknown market-data channel(s) {bad}; use {', '.join(allowed)}")
        streams = "/".join(f"{s.lower()}@{allowed[c]}" for s in symbols for c in channels)
        base = self.stream_url + ("/public" if self.market == "usdm" else "")
        ws = await (await self._http()).ws_connect(f"{base}/stream?streams={streams}", heartbeat=20)
        return _WsSubscription(asyncio.create_task(self._pump(ws, on_event, self._decode_market)), ws)

    async def subscribe_user_data(self, on_event: EventCallback) -> _WsSubscription:
        session = await self._http()
        if self.market == "spot":
            ws = await session.ws_connect(self.ws_api_url, heartbeat=20)
            params = ws_api_params({}, self._key, self._secret, int(time.time() * 1000) + self.time_offset_ms)
            await ws.send_str(
                json.dumps({"id": "sub", "method": "userDataStream.subscribe.signature", "params": params})
            )
            reply = json.loads((await ws.receive(timeout=10)).data)
            if reply.get("status") != 200:
                err = reply.get("error", {})
                await ws.close()
                raise classify(
                    "binance", reply.get("status", 400), err.get("code"), err.get("msg", ""), mutating=False
                )
        else:
            key = (await self._call("POST", "/fapi/v1/listenKey", key_only=True))["listenKey"]
            ws = await session.ws_connect(f"{self.stream_url}/private/ws?listenKey={key}", heartbeat=20)
        return _WsSubscription(asyncio.create_task(self._pump(ws, on_event, self._decode_user)), ws)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
