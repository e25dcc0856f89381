"""Venues room (binance): the execution client — order requests for spot and USD-M and their answers.

Touches the venue only through the runtime's `RestGate` (budget, clock, error table); no rings, no
journal, no policy. It builds Binance's parameters from an `OrderRef` (prices and quantities already
decimal strings on the instrument's grid) and turns Binance's answers into `OrderAnswer` /
`FillReport`; user-stream payloads go through the fixture-tested parsers of `parse.py`.

Binance rules kept here: spot LIMIT + post-only = LIMIT_MAKER; USD-M post-only = GTX; USD-M STOP /
TAKE_PROFIT live on `/fapi/v1/algoOrder` (`clientAlgoId` = our id, which the fired order keeps) until
they fire; spot modify = `order/cancelReplace` under a new client id, USD-M modify = amend in place;
USD-M plain LIMIT/MARKET submits go out as `batchOrders` of up to 5.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from oms.errors import OmsError, Rejected
from oms.shm import records as R
from oms.venues.binance import futures_controls, parse
from oms.venues.binance.errors import ERRORS
from oms.venues.errors import classify
from oms.venues.interface import (
    AccountUpdate,
    ExecReport,
    FillReport,
    ModifyAnswer,
    OrderAnswer,
    OrderRef,
    RestGate,
    StreamControl,
    UserMessage,
    VenueNotice,
)

E_BAD_TYPE = -1116

_SPOT_TYPES = {
    R.ORD_LIMIT: "LIMIT",
    R.ORD_MARKET: "MARKET",
    R.ORD_STOP_MARKET: "STOP_LOSS",
    R.ORD_STOP_LIMIT: "STOP_LOSS_LIMIT",
    R.ORD_TAKE_PROFIT_MARKET: "TAKE_PROFIT",
    R.ORD_TAKE_PROFIT_LIMIT: "TAKE_PROFIT_LIMIT",
}
_USDM_TYPES = {
    R.ORD_LIMIT: "LIMIT",
    R.ORD_MARKET: "MARKET",
    R.ORD_STOP_MARKET: "STOP_MARKET",
    R.ORD_STOP_LIMIT: "STOP",
    R.ORD_TAKE_PROFIT_MARKET: "TAKE_PROFIT_MARKET",
    R.ORD_TAKE_PROFIT_LIMIT: "TAKE_PROFIT",
}
CONDITIONAL = (R.ORD_STOP_MARKET, R.ORD_STOP_LIMIT, R.ORD_TAKE_PROFIT_MARKET, R.ORD_TAKE_PROFIT_LIMIT)
_TIF = {R.TIF_GTC: "GTC", R.TIF_IOC: "IOC", R.TIF_FOK: "FOK", R.TIF_GTX: "GTX"}
_NEEDS_PRICE = {"LIMIT", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT", "STOP", "TAKE_PROFIT", "LIMIT_MAKER"}
_ORD_CODE = {v: k for k, v in _SPOT_TYPES.items()} | {v: k for k, v in _USDM_TYPES.items()}
_ORD_CODE["LIMIT_MAKER"] = R.ORD_LIMIT


def order_params(o: OrderRef) -> dict[str, Any]:
    """Binance REST parameters for a new order (raises Rejected with -1116 for a type the market lacks)."""
    types = _SPOT_TYPES if o.market == "spot" else _USDM_TYPES
    typ = types.get(o.order_type)
    if typ is None:
        raise Rejected(
            f"order type {o.order_type} is not available on binance {o.market}", code=str(E_BAD_TYPE)
        )
    post_only = bool(o.flags & R.FLAG_POST_ONLY) or o.tif == R.TIF_GTX
    p: dict[str, Any] = {"symbol": o.symbol, "side": "BUY" if o.side == R.SIDE_BUY else "SELL", "type": typ}
    if o.market == "spot" and typ == "LIMIT" and post_only:
        p["type"] = typ = "LIMIT_MAKER"
    if not (o.flags & R.FLAG_CLOSE_POSITION):
        p["quantity"] = o.qty
    if typ in _NEEDS_PRICE:
        p["price"] = o.price
    if typ in ("LIMIT", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT", "STOP", "TAKE_PROFIT"):
        tif = R.TIF_GTX if (post_only and o.market == "usdm") else (o.tif or R.TIF_GTC)
        if o.market == "spot" and tif == R.TIF_GTX:
            raise Rejected("spot has no GTX time in force: use FLAG_POST_ONLY (LIMIT_MAKER)", code="-1115")
        p["timeInForce"] = _TIF.get(tif, "GTC")
    if o.order_type in CONDITIONAL:
        p["stopPrice" if o.market == "spot" else "triggerPrice"] = o.trigger
    if o.market == "usdm":
        if o.flags & R.FLAG_REDUCE_ONLY:
            p["reduceOnly"] = "true"
        if o.flags & R.FLAG_CLOSE_POSITION:
            p["closePosition"] = "true"
        if o.order_type in CONDITIONAL:
            p["algoType"] = "CONDITIONAL"
            p["clientAlgoId"] = o.cid
        else:
            p["newClientOrderId"] = o.cid
            p["newOrderRespType"] = "RESULT"
    else:
        if o.flags & R.FLAG_REDUCE_ONLY:
            raise Rejected("spot has no reduce-only orders", code="-1106")
        p["newClientOrderId"] = o.cid
        p["newOrderRespType"] = "RESULT"
    return p


def answer(res: dict[str, Any]) -> OrderAnswer:
    """A Binance order answer / query (spot, USD-M or USD-M algo order) as an OrderAnswer."""
    if "algoId" in res and "orderId" not in res:  # USD-M conditional order (algo endpoint)
        st = str(res.get("algoStatus", "NEW"))
        fired = int(res.get("actualOrderId") or 0)
        status = {"CANCELED": "canceled", "EXPIRED": "expired", "REJECTED": "rejected"}.get(
            st, "untriggered" if not fired else "new"
        )
        return OrderAnswer(
            cid=str(res.get("clientAlgoId", "")),
            venue_oid=fired or int(res["algoId"]),
            status=status,
            symbol=str(res.get("symbol", "")),
            side=R.SIDE_BUY if res.get("side") == "BUY" else R.SIDE_SELL,
            order_type=_ORD_CODE.get(str(res.get("orderType", res.get("type", ""))), R.ORD_LIMIT),
            price=str(res.get("price") or "0"),
            qty=str(res.get("quantity", res.get("origQty", "0")) or "0"),
            ts_ms=int(res.get("createTime") or res.get("updateTime") or 0),
            conditional=not fired,
        )
    st = str(res.get("status", "NEW"))
    return OrderAnswer(
        cid=str(res.get("clientOrderId", "")),
        venue_oid=int(res.get("orderId") or 0),
        status=parse.STATUS.get(st, "new"),
        symbol=str(res.get("symbol", "")),
        executed=Decimal(str(res.get("executedQty", "0") or "0")),
        side=R.SIDE_BUY if res.get("side") == "BUY" else R.SIDE_SELL,
        order_type=_ORD_CODE.get(str(res.get("type", "")), R.ORD_LIMIT),
        price=str(res.get("price") or "0"),
        qty=str(res.get("origQty") or "0"),
        ts_ms=int(res.get("time") or res.get("transactTime") or res.get("updateTime") or 0),
    )


def _code(e: Exception) -> int:
    try:
        return int(getattr(e, "code", None) or -1000)
    except ValueError:
        return -1000


class BinanceExecution:
    """The execution face of the Binance adapter (spot + USD-M)."""

    def batchable(self, order: OrderRef) -> bool:
        return order.market == "usdm" and order.order_type in (R.ORD_LIMIT, R.ORD_MARKET)

    def is_conditional(self, order: OrderRef) -> bool:
        return order.market == "usdm" and order.order_type in CONDITIONAL

    def modify_cid(self, order: OrderRef, gen: int) -> str:
        # spot replaces (new client id), USD-M amends in place (same id)
        from oms.venues.binance.adapter import client_id

        return client_id(order.oms_id, gen) if order.market == "spot" else order.cid

    async def submit(self, rest: RestGate, order: OrderRef) -> OrderAnswer:
        params = order_params(order)
        if order.market == "spot":
            res = await rest.call("spot", "create_order", weight=1, orders=1, **params)
        elif order.conditional:
            res = await rest.call("usdm", "futures_create_algo_order", weight=0, orders=1, **params)
        else:
            res = await rest.call("usdm", "futures_create_order", weight=1, orders=1, **params)
        return answer(res)

    async def submit_batch(self, rest: RestGate, orders: Sequence[OrderRef]) -> list[OrderAnswer | OmsError]:
        out: list[OrderAnswer | OmsError | None] = [None] * len(orders)
        sent: list[tuple[int, dict[str, Any]]] = []
        for i, o in enumerate(orders):
            try:
                sent.append((i, order_params(o)))
            except Rejected as e:
                out[i] = e
        if sent:
            res = await rest.call(
                "usdm", "batch_orders", weight=5, orders=len(sent), batchOrders=[p for _, p in sent]
            )
            for k, (i, _) in enumerate(sent):
                r = res[k] if k < len(res) else {"code": -1006, "msg": "no answer for this slot"}
                if isinstance(r, dict) and "code" in r and "orderId" not in r:
                    out[i] = classify(ERRORS, 400, r["code"], str(r.get("msg", "")), mutating=True)
                else:
                    out[i] = answer(r)
        return [a for a in out if a is not None]

    async def cancel(self, rest: RestGate, order: OrderRef) -> OrderAnswer:
        if order.market == "spot":
            res = await rest.call(
                "spot", "cancel_order", mutating=True, symbol=order.symbol, origClientOrderId=order.cid
            )
            return answer(res)
        if order.conditional:
            try:
                await rest.call(
                    "usdm",
                    "futures_cancel_algo_order",
                    mutating=True,
                    symbol=order.symbol,
                    clientAlgoId=order.cid,
                )
                return OrderAnswer(
                    cid=order.cid, venue_oid=order.venue_oid, status="canceled", symbol=order.symbol
                )
            except Rejected as e:
                if _code(e) != -2011:  # fired meanwhile: cancel the order it released
                    raise
        res = await rest.call(
            "usdm", "futures_cancel_order", mutating=True, symbol=order.symbol, origClientOrderId=order.cid
        )
        return answer(res)

    async def modify(
        self, rest: RestGate, order: OrderRef, price: str, qty: str, new_cid: str
    ) -> ModifyAnswer:
        side = "BUY" if order.side == R.SIDE_BUY else "SELL"
        if order.market == "usdm":
            res = await rest.call(
                "usdm", "futures_modify_order", orders=1, symbol=order.symbol, origClientOrderId=order.cid,
                side=side, quantity=qty, price=price,
            )  # fmt: skip
            return ModifyAnswer(order.cid, int(res.get("orderId") or order.venue_oid))
        res = await rest.call(
            "spot", "cancel_replace_order", orders=1, symbol=order.symbol, side=side, type="LIMIT",
            timeInForce=_TIF.get(order.tif or R.TIF_GTC, "GTC"), cancelReplaceMode="STOP_ON_FAILURE",
            cancelOrigClientOrderId=order.cid, newClientOrderId=new_cid, quantity=qty, price=price,
            newOrderRespType="RESULT",
        )  # fmt: skip
        new = res.get("newOrderResponse") or {}
        return ModifyAnswer(new_cid, int(new.get("orderId") or 0))

    async def query(self, rest: RestGate, order: OrderRef) -> OrderAnswer | None:
        try:
            if order.market == "spot":
                res = await rest.call(
                    "spot",
                    "get_order",
                    weight=4,
                    signed=True,
                    symbol=order.symbol,
                    origClientOrderId=order.cid,
                )
                return answer(res)
            if order.conditional:
                try:
                    a = await rest.call(
                        "usdm", "futures_get_algo_order", symbol=order.symbol, clientAlgoId=order.cid
                    )
                except Rejected as e:
                    if _code(e) not in (-2013, -2011):
                        raise
                    a = None
                if a is not None and not a.get("actualOrderId"):
                    return answer(a)
            res = await rest.call(
                "usdm", "futures_get_order", symbol=order.symbol, origClientOrderId=order.cid
            )
            return answer(res)
        except Rejected as e:
            if _code(e) in (-2013, -2011):
                return None
            raise

    async def open_orders(self, rest: RestGate, market: str) -> list[OrderAnswer]:
        if market == "spot":
            return [answer(o) for o in await rest.call("spot", "get_open_orders", weight=80)]
        out = [answer(o) for o in await rest.call("usdm", "futures_get_open_orders", weight=40)]
        with contextlib.suppress(OmsError):
            out += [answer(a) for a in await rest.call("usdm", "futures_get_open_algo_orders", weight=40)]
        return out

    async def cancel_foreign(self, rest: RestGate, market: str, order: OrderAnswer) -> None:
        if order.conditional:
            await rest.call(
                "usdm",
                "futures_cancel_algo_order",
                mutating=True,
                symbol=order.symbol,
                algoId=order.venue_oid,
            )
        elif market == "spot":
            await rest.call(
                "spot", "cancel_order", mutating=True, symbol=order.symbol, orderId=order.venue_oid
            )
        else:
            await rest.call(
                "usdm", "futures_cancel_order", mutating=True, symbol=order.symbol, orderId=order.venue_oid
            )

    async def trades(self, rest: RestGate, market: str, symbol: str, start_ms: int) -> list[FillReport]:
        if market == "spot":
            rows = await rest.call(
                "spot", "get_my_trades", weight=20, symbol=symbol, startTime=start_ms, limit=1000
            )
        else:
            rows = await rest.call(
                "usdm", "futures_account_trades", weight=5, symbol=symbol, startTime=start_ms, limit=1000
            )
        return [
            FillReport(
                venue_oid=int(t["orderId"]),
                trade_id=int(t["id"]),
                price=str(t["price"]),
                qty=str(t["qty"]),
                fee=str(t.get("commission", "0")),
                maker=bool(t.get("isMaker", t.get("maker", False))),
                ts_ms=int(t.get("time", 0)),
            )
            for t in rows
        ]

    async def positions(self, rest: RestGate, market: str) -> dict[str, str]:
        if market == "spot":
            return {}
        rows = await rest.call("usdm", "futures_position_information", weight=5)
        return {str(r.get("symbol", "")): str(r.get("positionAmt", "0")) for r in rows}

    async def balances(self, rest: RestGate, market: str) -> dict[str, str]:
        if market != "spot":
            return {}
        acct = await rest.call("spot", "get_account", weight=20)
        return {
            b["asset"]: b["free"]
            for b in acct.get("balances", [])
            if Decimal(b["free"]) or Decimal(b["locked"])
        }

    async def user_stream_url(self, rest: RestGate, market: str, ws_url: str) -> tuple[str, str]:
        if market == "spot":
            key = str(await rest.call("spot", "stream_get_listen_key", weight=2, signed=False))
        else:
            key = str(await rest.call("usdm", "futures_stream_get_listen_key", weight=1, signed=False))
        return f"{ws_url.rstrip('/')}/{key}", key

    async def user_stream_keepalive(self, rest: RestGate, market: str, token: str) -> None:
        if market == "spot":
            await rest.call("spot", "stream_keepalive", weight=2, signed=False, listenKey=token)
        else:
            await rest.call("usdm", "futures_stream_keepalive", weight=1, signed=False, listenKey=token)

    async def control(self, rest: RestGate, cmd: Any, instruments: Any, emit: Any) -> bool:
        if int(cmd["kind"]) not in (R.SET_LEVERAGE, R.SET_MARGIN_MODE):
            return False
        await futures_controls.handle(cmd, rest.call, instruments, emit)
        return True

    async def on_notice(self, rest: RestGate, notice: VenueNotice, instruments: Any, emit: Any) -> None:
        if notice.kind == "account_config":
            await futures_controls.on_config_update(notice.data, rest.call, instruments, emit)

    async def after_connect(
        self, rest: RestGate, market: str, instruments: Any, emit: Any, symbols: set[str] | None
    ) -> None:
        """USD-M: report the venue's leverage, margin type, liquidation price and margin of each served
        symbol, so the engine's margin check uses the venue's leverage after every start and reconnect."""
        if market == futures_controls.MARKET:
            await futures_controls.report_all(rest.call, instruments, emit, symbols)

    def parse_user(self, market: str, msg: dict[str, Any]) -> list[UserMessage]:
        if "data" in msg and isinstance(msg["data"], dict):
            msg = msg["data"]
        if "event" in msg and isinstance(msg["event"], dict):
            msg = msg["event"]
        e = msg.get("e")
        if e == "executionReport":
            return [exec_report(parse.parse_execution_report(msg))]
        if e == "ORDER_TRADE_UPDATE":
            return [exec_report(parse.parse_order_trade_update(msg))]
        if e == "outboundAccountPosition":
            return [AccountUpdate(balances={b["a"]: b["f"] for b in msg.get("B", [])})]
        if e == "ACCOUNT_UPDATE":
            a = msg.get("a", {})
            return [
                AccountUpdate(
                    balances={b["a"]: b["wb"] for b in a.get("B", [])},
                    positions={p["s"]: p["pa"] for p in a.get("P", [])},
                )
            ]
        if e == "ACCOUNT_CONFIG_UPDATE" and isinstance(msg.get("ac"), dict):
            return [VenueNotice("account_config", msg["ac"])]  # leverage changed (here or elsewhere)
        if e == "listenKeyExpired":
            return [StreamControl("listen key expired")]
        return []


_EXEC = {
    "NEW": "new",
    "TRADE": "trade",
    "CANCELED": "canceled",
    "EXPIRED": "expired",
    "EXPIRED_IN_MATCH": "expired",
    "REJECTED": "rejected",
    "REPLACED": "replaced",
    "AMENDMENT": "replaced",
}


def exec_report(u: parse.OrderUpdate) -> ExecReport:
    """A parsed user-stream order update as the runtime's ExecReport."""
    return ExecReport(
        cid=u.client_id,
        venue_oid=u.order_id,
        exec=_EXEC.get(u.exec_type, "other"),
        status=u.status,
        symbol=u.symbol,
        trade_id=u.trade_id,
        last_px=str(u.last_price),
        last_qty=str(u.last_qty),
        fee=str(u.fee),
        maker=u.is_maker,
        ts_ms=u.ts_ms,
        reject_code=-2010 if u.reject_reason not in ("", "NONE") else 0,
    )
