"""Binance simulator room: the simulated order and its wire renderings (REST JSON, user-stream events).

Touches nothing outside this simulator. Field names and spellings are Binance's own (including
`cummulativeQuoteQty`); spot renders decimals with 8 places, USD-M with the symbol's precision.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from oms.venues.sim.binance.config import SymbolSpec

ZERO = Decimal(0)


@dataclass(eq=False)
class Order:
    order_id: int
    market: str  # "spot" | "usdm"
    spec: SymbolSpec
    account: Any  # accounts.Account
    client_id: str
    side: int  # +1 BUY, -1 SELL
    type: str
    tif: str
    price: int  # ticks; 0 for market orders
    qty: int  # lots
    time: int
    stop_price: int = 0
    reduce_only: bool = False
    position_side: str = "BOTH"
    quote_order_qty: Decimal = ZERO
    working_type: str = "CONTRACT_PRICE"
    close_position: bool = False
    stp_mode: str = "NONE"
    executed: int = 0
    cum_quote: Decimal = ZERO
    status: str = "NEW"
    update_time: int = 0
    working_time: int = -1
    is_working: bool = True
    locked: Decimal = ZERO  # spot: balance still locked for this order
    lock_asset: str = ""
    orig_type: str = ""
    algo_id: int = 0
    fills: list[dict] = field(default_factory=list)
    reject_reason: str = "NONE"
    realized_pnl: Decimal = ZERO

    @property
    def leaves(self) -> int:
        return self.qty - self.executed

    @property
    def side_name(self) -> str:
        return "BUY" if self.side > 0 else "SELL"

    @property
    def is_open(self) -> bool:
        return self.status in ("NEW", "PARTIALLY_FILLED")

    def px(self, ticks: int) -> Decimal:
        return self.spec.tick * ticks

    def lots(self, lots: int) -> Decimal:
        return self.spec.step * lots


def fmt(market: str, value: Decimal, places: int | None = None) -> str:
    """Spot: 8 decimals everywhere. USD-M: the given places (symbol precision)."""
    if market == "spot" or places is None:
        return f"{value:.8f}"
    return f"{value:.{places}f}"


def avg_price(o: Order) -> Decimal:
    if o.executed == 0:
        return ZERO
    return o.cum_quote / o.lots(o.executed)


# ---------------------------------------------------------------- spot REST
def spot_ack(o: Order) -> dict:
    return {
        "symbol": o.spec.symbol,
        "orderId": o.order_id,
        "orderListId": -1,
        "clientOrderId": o.client_id,
        "transactTime": o.time,
    }


def spot_result(o: Order) -> dict:
    out = spot_ack(o)
    out.update(
        {
            "price": fmt("spot", o.px(o.price)),
            "origQty": fmt("spot", o.lots(o.qty)),
            "executedQty": fmt("spot", o.lots(o.executed)),
            "origQuoteOrderQty": fmt("spot", o.quote_order_qty),
            "cummulativeQuoteQty": fmt("spot", o.cum_quote),
            "status": o.status,
            "timeInForce": o.tif,
            "type": o.type,
            "side": o.side_name,
            "workingTime": o.working_time,
            "selfTradePreventionMode": o.stp_mode,
        }
    )
    if o.stop_price:
        out["stopPrice"] = fmt("spot", o.px(o.stop_price))
    return out


def spot_full(o: Order) -> dict:
    out = spot_result(o)
    out["fills"] = list(o.fills)
    return out


def spot_query(o: Order) -> dict:
    return {
        "symbol": o.spec.symbol,
        "orderId": o.order_id,
        "orderListId": -1,
        "clientOrderId": o.client_id,
        "price": fmt("spot", o.px(o.price)),
        "origQty": fmt("spot", o.lots(o.qty)),
        "executedQty": fmt("spot", o.lots(o.executed)),
        "cummulativeQuoteQty": fmt("spot", o.cum_quote),
        "status": o.status,
        "timeInForce": o.tif,
        "type": o.type,
        "side": o.side_name,
        "stopPrice": fmt("spot", o.px(o.stop_price)),
        "icebergQty": "0.00000000",
        "time": o.time,
        "updateTime": o.update_time,
        "isWorking": o.is_working,
        "workingTime": o.working_time,
        "origQuoteOrderQty": fmt("spot", o.quote_order_qty),
        "selfTradePreventionMode": o.stp_mode,
    }


def spot_cancel(o: Order, orig_client_id: str, new_client_id: str) -> dict:
    out = {
        "symbol": o.spec.symbol,
        "origClientOrderId": orig_client_id,
        "orderId": o.order_id,
        "orderListId": -1,
        "clientOrderId": new_client_id,
        "transactTime": o.update_time,
    }
    q = spot_query(o)
    for k in (
        "price",
        "origQty",
        "executedQty",
        "cummulativeQuoteQty",
        "status",
        "timeInForce",
        "type",
        "side",
        "origQuoteOrderQty",
        "selfTradePreventionMode",
    ):
        out[k] = q[k]
    return out


# ---------------------------------------------------------------- futures REST
def futures_order(o: Order) -> dict:
    pp, qp = o.spec.price_precision, o.spec.qty_precision
    return {
        "orderId": o.order_id,
        "symbol": o.spec.symbol,
        "status": o.status,
        "clientOrderId": o.client_id,
        "price": fmt("usdm", o.px(o.price), pp),
        "avgPrice": fmt("usdm", avg_price(o), max(pp, 5)),
        "origQty": fmt("usdm", o.lots(o.qty), qp),
        "executedQty": fmt("usdm", o.lots(o.executed), qp),
        "cumQty": fmt("usdm", o.lots(o.executed), qp),
        "cumQuote": fmt("usdm", o.cum_quote, max(pp, 5)),
        "timeInForce": o.tif,
        "type": o.type,
        "reduceOnly": o.reduce_only,
        "closePosition": o.close_position,
        "side": o.side_name,
        "positionSide": o.position_side,
        "stopPrice": fmt("usdm", o.px(o.stop_price), pp),
        "workingType": o.working_type,
        "priceProtect": False,
        "origType": o.orig_type or o.type,
        "priceMatch": "NONE",
        "selfTradePreventionMode": o.stp_mode,
        "goodTillDate": 0,
        "time": o.time,
        "updateTime": o.update_time,
    }


# ---------------------------------------------------------------- user-stream events
def execution_report(o: Order, exec_type: str, now: int, last: dict | None, exec_id: int) -> dict:
    """Spot `executionReport` for one state change (last = the fill, when exec_type is TRADE)."""
    last_qty = last["qty"] if last else "0.00000000"
    last_px = last["price"] if last else "0.00000000"
    return {
        "e": "executionReport",
        "E": now,
        "s": o.spec.symbol,
        "c": o.client_id,
        "S": o.side_name,
        "o": o.type,
        "f": o.tif,
        "q": fmt("spot", o.lots(o.qty)),
        "p": fmt("spot", o.px(o.price)),
        "P": fmt("spot", o.px(o.stop_price)),
        "F": "0.00000000",
        "g": -1,
        "C": "",
        "x": exec_type,
        "X": o.status,
        "r": o.reject_reason,
        "i": o.order_id,
        "l": last_qty,
        "z": fmt("spot", o.lots(o.executed)),
        "L": last_px,
        "n": last["commission"] if last else "0",
        "N": last["commissionAsset"] if last else None,
        "T": now,
        "t": last["tradeId"] if last else -1,
        "v": 0,
        "I": exec_id,
        "w": o.is_open and o.is_working,
        "m": bool(last and last.get("maker")),
        "M": False,
        "O": o.time,
        "Z": fmt("spot", o.cum_quote),
        "Y": fmt("spot", Decimal(last_qty) * Decimal(last_px)),
        "Q": fmt("spot", o.quote_order_qty),
        "W": o.working_time,
        "V": o.stp_mode,
    }


def order_trade_update(o: Order, exec_type: str, now: int, last: dict | None) -> dict:
    pp, qp = o.spec.price_precision, o.spec.qty_precision
    return {
        "e": "ORDER_TRADE_UPDATE",
        "E": now,
        "T": now,
        "o": {
            "s": o.spec.symbol,
            "c": o.client_id,
            "S": o.side_name,
            "o": o.type,
            "f": o.tif,
            "q": fmt("usdm", o.lots(o.qty), qp),
            "p": fmt("usdm", o.px(o.price), pp),
            "ap": fmt("usdm", avg_price(o), max(pp, 5)),
            "sp": fmt("usdm", o.px(o.stop_price), pp),
            "x": exec_type,
            "X": o.status,
            "i": o.order_id,
            "l": last["qty"] if last else "0",
            "z": fmt("usdm", o.lots(o.executed), qp),
            "L": last["price"] if last else "0",
            "N": "USDT" if last else None,
            "n": last["commission"] if last else "0",
            "T": now,
            "t": last["tradeId"] if last else 0,
            "b": "0",
            "a": "0",
            "m": bool(last and last.get("maker")),
            "R": o.reduce_only,
            "wt": o.working_type,
            "ot": o.orig_type or o.type,
            "ps": o.position_side,
            "cp": o.close_position,
            "rp": last["realizedPnl"] if last else "0",
            "pP": False,
            "si": 0,
            "ss": 0,
            "V": o.stp_mode,
            "pm": "NONE",
            "gtd": 0,
        },
    }
