"""Binance simulator room: Binance's reading of the kit's order (type / timeInForce → the kit's flags) and
its wire renderings (REST JSON, history rows, user-stream events).

Touches nothing outside this simulator. Field names and spellings are Binance's own (including
`cummulativeQuoteQty`); spot renders decimals with 8 places, USD-M with the symbol's precision.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from oms.venues.sim.kit.orders import AlgoOrder as KitAlgoOrder
from oms.venues.sim.kit.orders import Fill, Print
from oms.venues.sim.kit.orders import Order as KitOrder
from oms.venues.sim.kit.spec import SymbolSpec

ZERO = Decimal(0)


SPOT_STOP_TYPES = {"STOP_LOSS", "STOP_LOSS_LIMIT", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT"}
LIMIT_TYPES = {"LIMIT", "LIMIT_MAKER", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT"}


def trigger_direction(order_type: str, side: int) -> int:
    """Binance's stop / take-profit rule as the kit's direction: a BUY stop fires on a rise to the
    stop price, a SELL stop on a fall; take-profits the other way round."""
    rise = side > 0 if order_type.startswith("STOP") else side < 0
    return 1 if rise else -1


@dataclass(eq=False)
class Order(KitOrder):
    """A kit order whose neutral flags follow from Binance's `type` and `timeInForce`."""

    def __post_init__(self) -> None:
        self.limit = self.type in LIMIT_TYPES
        self.post_only = self.type == "LIMIT_MAKER" or self.tif == "GTX"
        self.trigger_dir = trigger_direction(self.type, self.side) if self.type in SPOT_STOP_TYPES else 0


@dataclass(eq=False)
class AlgoOrder(KitAlgoOrder):
    """A USD-M algo (conditional) order; trigger direction and kind follow from `order_type`."""

    def __post_init__(self) -> None:
        self.trailing = self.order_type == "TRAILING_STOP_MARKET"
        self.is_market = self.order_type.endswith("MARKET")
        self.trigger_dir = trigger_direction(self.order_type, self.side)


def fmt(market: str, value: Decimal, places: int | None = None) -> str:
    """Spot: 8 decimals everywhere. USD-M: the given places (symbol precision)."""
    if market == "spot" or places is None:
        return f"{value:.8f}"
    return f"{value:.{places}f}"


def avg_price(o: KitOrder) -> Decimal:
    if o.executed == 0:
        return ZERO
    return o.cum_quote / o.lots(o.executed)


# ---------------------------------------------------------------- spot REST
def spot_ack(o: KitOrder) -> dict:
    return {
        "symbol": o.spec.symbol,
        "orderId": o.order_id,
        "orderListId": -1,
        "clientOrderId": o.client_id,
        "transactTime": o.time,
    }


def spot_result(o: KitOrder) -> dict:
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


def spot_fill(o: KitOrder, f: Fill) -> dict:
    return {
        "price": fmt("spot", o.px(f.price)),
        "qty": fmt("spot", o.lots(f.lots)),
        "commission": fmt("spot", f.fee),
        "commissionAsset": f.fee_asset,
        "tradeId": f.trade_id,
    }


def spot_full(o: KitOrder) -> dict:
    out = spot_result(o)
    out["fills"] = [spot_fill(o, f) for f in o.fills]
    return out


def spot_trade_row(spec: SymbolSpec, f: Fill) -> dict:
    """One row of GET /api/v3/myTrades."""
    return {
        "symbol": spec.symbol,
        "id": f.trade_id,
        "orderId": f.order_id,
        "orderListId": -1,
        "price": fmt("spot", spec.tick * f.price),
        "qty": fmt("spot", spec.step * f.lots),
        "quoteQty": fmt("spot", f.quote),
        "commission": fmt("spot", f.fee),
        "commissionAsset": f.fee_asset,
        "time": f.time,
        "isBuyer": f.side > 0,
        "isMaker": f.maker,
        "isBestMatch": True,
    }


def futures_trade_row(spec: SymbolSpec, f: Fill) -> dict:
    """One row of GET /fapi/v1/userTrades."""
    return {
        "symbol": spec.symbol,
        "id": f.trade_id,
        "orderId": f.order_id,
        "side": "BUY" if f.side > 0 else "SELL",
        "price": fmt("usdm", spec.tick * f.price, spec.price_precision),
        "qty": fmt("usdm", spec.step * f.lots, spec.qty_precision),
        "realizedPnl": fmt("usdm", f.realized_pnl, 8),
        "marginAsset": spec.quote,
        "quoteQty": fmt("usdm", f.quote, 8),
        "commission": fmt("usdm", f.fee, 8),
        "commissionAsset": f.fee_asset,
        "time": f.time,
        "positionSide": f.position_side,
        "buyer": f.side > 0,
        "maker": f.maker,
    }


def public_trade_row(market: str, spec: SymbolSpec, p: Print) -> dict:
    """One row of GET /api/v3/trades (and /fapi/v1/trades)."""
    places = None if market == "spot" else spec.price_precision
    return {
        "id": p.trade_id,
        "price": fmt(market, spec.tick * p.price, places),
        "qty": fmt(market, spec.step * p.lots, None if market == "spot" else spec.qty_precision),
        "quoteQty": fmt(market, p.quote, 8),
        "time": p.time,
        "isBuyerMaker": p.buyer_maker,
        "isBestMatch": True,
    }


def spot_query(o: KitOrder) -> dict:
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


def spot_cancel(o: KitOrder, orig_client_id: str, new_client_id: str) -> dict:
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
def futures_order(o: KitOrder) -> dict:
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
def execution_report(o: KitOrder, exec_type: str, now: int, last: Fill | None, exec_id: int) -> dict:
    """Spot `executionReport` for one state change (last = the fill, when exec_type is TRADE)."""
    last_qty = fmt("spot", o.lots(last.lots)) if last else "0.00000000"
    last_px = fmt("spot", o.px(last.price)) if last else "0.00000000"
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
        "n": fmt("spot", last.fee) if last else "0",
        "N": last.fee_asset if last else None,
        "T": now,
        "t": last.trade_id if last else -1,
        "v": 0,
        "I": exec_id,
        "w": o.is_open and o.is_working,
        "m": bool(last and last.maker),
        "M": False,
        "O": o.time,
        "Z": fmt("spot", o.cum_quote),
        "Y": fmt("spot", last.quote if last else ZERO),
        "Q": fmt("spot", o.quote_order_qty),
        "W": o.working_time,
        "V": o.stp_mode,
    }


def order_trade_update(o: KitOrder, exec_type: str, now: int, last: Fill | None) -> dict:
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
            "l": fmt("usdm", o.lots(last.lots), qp) if last else "0",
            "z": fmt("usdm", o.lots(o.executed), qp),
            "L": fmt("usdm", o.px(last.price), pp) if last else "0",
            "N": "USDT" if last else None,
            "n": fmt("usdm", last.fee, 8) if last else "0",
            "T": now,
            "t": last.trade_id if last else 0,
            "b": "0",
            "a": "0",
            "m": bool(last and last.maker),
            "R": o.reduce_only,
            "wt": o.working_type,
            "ot": o.orig_type or o.type,
            "ps": o.position_side,
            "cp": o.close_position,
            "rp": fmt("usdm", last.realized_pnl, 8) if last else "0",
            "pP": False,
            "si": 0,
            "ss": 0,
            "V": o.stp_mode,
            "pm": "NONE",
            "gtd": 0,
        },
    }
