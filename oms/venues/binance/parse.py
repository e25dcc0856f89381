"""Venues room (binance): pure wire → record functions for Binance payloads.

Touches nothing (no I/O, no clocks: times come from the payload or the caller). Two layers:
1. `parse_*`: a payload (bytes or an already-decoded dict) → a typed record with exact `Decimal`s
   (OrderUpdate, BookDelta, BookTop, TradePrint, MarkPrice, OrderReport);
2. `*_records`: those records → the hot path's numpy rows (MARKET / EVENT dtypes from
   oms/shm/records.py) in the instrument's int64 ticks and lots.
A payload that does not fit the shape raises `Rejected` naming the payload kind and the field.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TypeVar

import msgspec
import numpy as np

from oms.errors import Rejected
from oms.shm import records as R
from oms.venues.binance import schemas as S
from oms.venues.instruments import Instrument
from oms.venues.interface import OrderReport

T = TypeVar("T")
ZERO = Decimal(0)
MS = 1_000_000

STATUS = {
    "NEW": "new",
    "PARTIALLY_FILLED": "partially_filled",
    "FILLED": "filled",
    "CANCELED": "canceled",
    "PENDING_CANCEL": "canceled",
    "REJECTED": "rejected",
    "EXPIRED": "expired",
    "EXPIRED_IN_MATCH": "expired",
    "NEW_INSURANCE": "new",
    "NEW_ADL": "new",
}
ORDER_TYPE = {
    "LIMIT": "limit",
    "LIMIT_MAKER": "limit",
    "MARKET": "market",
    "STOP_LOSS": "stop_market",
    "STOP_LOSS_LIMIT": "stop_limit",
    "TAKE_PROFIT": "take_profit_market",
    "TAKE_PROFIT_LIMIT": "take_profit_limit",
    "STOP": "stop_limit",
    "STOP_MARKET": "stop_market",
    "TAKE_PROFIT_MARKET": "take_profit_market",
    "TRAILING_STOP_MARKET": "trailing_stop_market",
}
ORD_CODE = {
    "limit": R.ORD_LIMIT,
    "market": R.ORD_MARKET,
    "stop_market": R.ORD_STOP_MARKET,
    "stop_limit": R.ORD_STOP_LIMIT,
    "take_profit_market": R.ORD_TAKE_PROFIT_MARKET,
    "take_profit_limit": R.ORD_TAKE_PROFIT_LIMIT,
    "trailing_stop_market": R.ORD_TRAILING_STOP_MARKET,
}
EXEC_KIND = {
    "NEW": R.ORDER_ACCEPTED,
    "TRADE": R.ORDER_FILLED,
    "CANCELED": R.ORDER_CANCELED,
    "EXPIRED": R.ORDER_EXPIRED,
    "REJECTED": R.ORDER_REJECTED,
    "REPLACED": R.ORDER_MODIFIED,
    "AMENDMENT": R.ORDER_MODIFIED,
    "TRADE_PREVENTION": R.ORDER_EXPIRED,
    "CALCULATED": R.ORDER_FILLED,
}
STATUS_CODE = {"new": 1, "partially_filled": 2, "filled": 3, "canceled": 4, "rejected": 5, "expired": 6}


def _decode(payload: bytes | str | dict[str, Any], typ: type[T], what: str) -> T:
    try:
        if isinstance(payload, dict):
            return msgspec.convert(payload, type=typ)
        return msgspec.json.decode(payload, type=typ)
    except msgspec.ValidationError as e:
        raise Rejected(f"Binance {what} payload does not fit its shape: {e}") from None
    except msgspec.DecodeError as e:
        raise Rejected(f"Binance {what} payload is not JSON: {e}") from None


def _side(s: str) -> int:
    return R.SIDE_BUY if s == "BUY" else R.SIDE_SELL


# ------------------------------------------------------------------ typed records
@dataclass(frozen=True)
class OrderUpdate:
    """One order state change from the user stream (spot executionReport or USD-M ORDER_TRADE_UPDATE)."""

    market: str
    symbol: str
    order_id: int
    client_id: str
    exec_type: str  # venue execution type (NEW, TRADE, CANCELED, ...)
    status: str  # unified status
    side: int
    order_type: str
    qty: Decimal
    price: Decimal
    cum_qty: Decimal
    last_qty: Decimal
    last_price: Decimal
    fee: Decimal
    fee_asset: str
    trade_id: int
    is_maker: bool
    ts_ms: int
    reject_reason: str = "NONE"
    reduce_only: bool = False
    realized_pnl: Decimal = ZERO


@dataclass(frozen=True)
class BookDelta:
    symbol: str
    first_id: int
    last_id: int
    prev_last_id: int | None
    bids: list[tuple[Decimal, Decimal]]
    asks: list[tuple[Decimal, Decimal]]
    ts_ms: int


@dataclass(frozen=True)
class BookTop:
    symbol: str
    update_id: int
    bid_price: Decimal
    bid_qty: Decimal
    ask_price: Decimal
    ask_qty: Decimal
    ts_ms: int | None


@dataclass(frozen=True)
class TradePrint:
    symbol: str
    trade_id: int
    price: Decimal
    qty: Decimal
    aggressor: int  # side of the taker
    ts_ms: int


@dataclass(frozen=True)
class MarkPrice:
    symbol: str
    mark: Decimal
    index: Decimal
    funding_rate: Decimal
    next_funding_ms: int
    ts_ms: int


# ------------------------------------------------------------------ user data
def parse_execution_report(payload: bytes | str | dict[str, Any]) -> OrderUpdate:
    e = _decode(payload, S.ExecutionReport, "executionReport")
    client = e.orig_client_id if e.exec_type == "CANCELED" and e.orig_client_id else e.client_id
    return OrderUpdate(
        "spot",
        e.symbol,
        e.order_id,
        client,
        e.exec_type,
        STATUS[e.status],
        _side(e.side),
        ORDER_TYPE.get(e.order_type, e.order_type.lower()),
        Decimal(e.qty),
        Decimal(e.price),
        Decimal(e.cum_qty),
        Decimal(e.last_qty),
        Decimal(e.last_price),
        Decimal(e.commission),
        e.commission_asset or "",
        e.trade_id,
        e.is_maker,
        e.trade_time,
        e.reject_reason,
    )


def parse_order_trade_update(payload: bytes | str | dict[str, Any]) -> OrderUpdate:
    u = _decode(payload, S.OrderTradeUpdate, "ORDER_TRADE_UPDATE")
    o = u.order
    return OrderUpdate(
        "usdm",
        o.symbol,
        o.order_id,
        o.client_id,
        o.exec_type,
        STATUS[o.status],
        _side(o.side),
        ORDER_TYPE.get(o.order_type, o.order_type.lower()),
        Decimal(o.qty),
        Decimal(o.price),
        Decimal(o.cum_qty),
        Decimal(o.last_qty),
        Decimal(o.last_price),
        Decimal(o.commission),
        o.commission_asset or "",
        o.trade_id,
        o.is_maker,
        o.trade_time,
        reduce_only=o.reduce_only,
        realized_pnl=Decimal(o.realized_pnl),
    )


# ------------------------------------------------------------------ market data
def _levels(rows: list[list[str]], what: str) -> list[tuple[Decimal, Decimal]]:
    out = []
    for r in rows:
        if len(r) < 2:
            raise Rejected(f"Binance {what}: a level must be [price, qty], got {r!r}")
        out.append((Decimal(r[0]), Decimal(r[1])))
    return out


def parse_depth_update(payload: bytes | str | dict[str, Any]) -> BookDelta:
    d = _decode(payload, S.DepthUpdate, "depthUpdate")
    return BookDelta(
        d.symbol,
        d.first_id,
        d.last_id,
        d.prev_last_id,
        _levels(d.bids, "depthUpdate"),
        _levels(d.asks, "depthUpdate"),
        d.transaction_time or d.event_time,
    )


def parse_book_ticker(payload: bytes | str | dict[str, Any]) -> BookTop:
    b = _decode(payload, S.BookTicker, "bookTicker")
    return BookTop(
        b.symbol,
        b.update_id,
        Decimal(b.bid_price),
        Decimal(b.bid_qty),
        Decimal(b.ask_price),
        Decimal(b.ask_qty),
        b.event_time,
    )


def parse_agg_trade(payload: bytes | str | dict[str, Any]) -> TradePrint:
    a = _decode(payload, S.AggTrade, "aggTrade")
    aggressor = R.SIDE_SELL if a.buyer_is_maker else R.SIDE_BUY
    return TradePrint(a.symbol, a.agg_id, Decimal(a.price), Decimal(a.qty), aggressor, a.trade_time)


def parse_mark_price(payload: bytes | str | dict[str, Any]) -> MarkPrice:
    m = _decode(payload, S.MarkPriceUpdate, "markPriceUpdate")
    return MarkPrice(
        m.symbol,
        Decimal(m.mark_price),
        Decimal(m.index_price),
        Decimal(m.funding_rate),
        m.next_funding_time,
        m.event_time,
    )


# ------------------------------------------------------------------ REST order responses
def parse_spot_order(payload: bytes | str | dict[str, Any]) -> OrderReport:
    o = _decode(payload, S.SpotOrderResponse, "spot order")
    cum_q, qty = Decimal(o.cummulativeQuoteQty), Decimal(o.executedQty)
    raw = payload if isinstance(payload, dict) else {}
    return OrderReport(
        "binance",
        "spot",
        o.symbol,
        str(o.orderId),
        o.clientOrderId,
        STATUS[o.status],
        _side(o.side),
        ORDER_TYPE.get(o.type, o.type.lower()),
        Decimal(o.origQty),
        qty,
        Decimal(o.price) or None,
        cum_q / qty if qty else None,
        Decimal(o.stopPrice) if o.stopPrice and Decimal(o.stopPrice) else None,
        ts_ms=o.transactTime or o.time or 0,
        raw=raw,
    )


def parse_futures_order(payload: bytes | str | dict[str, Any]) -> OrderReport:
    o = _decode(payload, S.FuturesOrderResponse, "futures order")
    raw = payload if isinstance(payload, dict) else {}
    avg = Decimal(o.avgPrice)
    return OrderReport(
        "binance",
        "usdm",
        o.symbol,
        str(o.orderId),
        o.clientOrderId,
        STATUS[o.status],
        _side(o.side),
        ORDER_TYPE.get(o.type, o.type.lower()),
        Decimal(o.origQty),
        Decimal(o.executedQty),
        Decimal(o.price) or None,
        avg or None,
        Decimal(o.stopPrice) or None,
        o.reduceOnly,
        o.updateTime,
        raw,
    )


# ------------------------------------------------------------------ → hot-path records
def _ticks(inst: Instrument, v: Decimal) -> int:
    return inst.to_ticks(str(v))


def _lots(inst: Instrument, v: Decimal) -> int:
    return inst.to_lots(str(v))


def book_delta_records(d: BookDelta, inst: Instrument, ts_ns: int, clear: bool = False) -> np.ndarray:
    """One MARKET row per level (absolute qty, 0 removes); the last row carries MD_FLAG_LAST."""
    rows = [(R.SIDE_BUY, p, q) for p, q in d.bids] + [(R.SIDE_SELL, p, q) for p, q in d.asks]
    out = np.zeros(max(1, len(rows)), dtype=R.MARKET)
    for i, (side, p, q) in enumerate(rows):
        r = out[i]
        r["kind"], r["side"], r["instrument"] = R.MD_DELTA, side, inst.id
        r["price"], r["qty"] = _ticks(inst, p), _lots(inst, q)
        r["seq"], r["ts_venue_ns"], r["ts_ns"] = d.last_id, d.ts_ms * MS, ts_ns
    if not rows:
        out[0]["kind"], out[0]["instrument"], out[0]["seq"] = R.MD_DELTA, inst.id, d.last_id
        out[0]["ts_venue_ns"], out[0]["ts_ns"] = d.ts_ms * MS, ts_ns
    if clear:
        out[0]["flags"] |= R.MD_FLAG_CLEAR
    out[-1]["flags"] |= R.MD_FLAG_LAST
    return out


def book_top_record(b: BookTop, inst: Instrument, ts_ns: int) -> np.void:
    out = np.zeros(1, dtype=R.MARKET)[0]
    out["kind"], out["instrument"], out["flags"] = R.MD_BBO, inst.id, R.MD_FLAG_LAST
    out["price"], out["qty"] = _ticks(inst, b.bid_price), _lots(inst, b.bid_qty)
    out["ask_price"], out["ask_qty"] = _ticks(inst, b.ask_price), _lots(inst, b.ask_qty)
    out["seq"], out["ts_venue_ns"], out["ts_ns"] = b.update_id, (b.ts_ms or 0) * MS, ts_ns
    return out


def trade_record(t: TradePrint, inst: Instrument, ts_ns: int) -> np.void:
    out = np.zeros(1, dtype=R.MARKET)[0]
    out["kind"], out["side"], out["instrument"], out["flags"] = (
        R.MD_TRADE,
        t.aggressor,
        inst.id,
        R.MD_FLAG_LAST,
    )
    out["price"], out["qty"] = _ticks(inst, t.price), _lots(inst, t.qty)
    out["seq"], out["ts_venue_ns"], out["ts_ns"] = t.trade_id, t.ts_ms * MS, ts_ns
    return out


def mark_record(m: MarkPrice, inst: Instrument, ts_ns: int) -> np.void:
    """Mark prices are not on the tick grid: rounded half-even to the nearest tick."""
    out = np.zeros(1, dtype=R.MARKET)[0]
    out["kind"], out["instrument"], out["flags"] = R.MD_MARK, inst.id, R.MD_FLAG_LAST
    out["price"] = int((m.mark / inst.tick_size).to_integral_value())
    out["ts_venue_ns"], out["ts_ns"] = m.ts_ms * MS, ts_ns
    return out


def order_update_event(
    u: OrderUpdate, inst: Instrument, client_order_id: int, ts_ns: int, fee_asset_id: int = 0
) -> np.void:
    """The EVENT row for one user-stream order update (fill rows carry the last fill's price/qty)."""
    out = np.zeros(1, dtype=R.EVENT)[0]
    out["kind"] = EXEC_KIND.get(u.exec_type, R.ORDER_MODIFIED)
    out["venue"], out["market"], out["instrument"] = 1, 1 if u.market == "spot" else 2, inst.id
    out["client_order_id"], out["venue_order_id"] = client_order_id, u.order_id
    fill = u.exec_type == "TRADE"
    out["price"] = (
        _ticks(inst, u.last_price if fill else u.price) if (u.last_price if fill else u.price) else 0
    )
    out["qty"] = _lots(inst, u.last_qty if fill else u.qty)
    out["cum_qty"] = _lots(inst, u.cum_qty)
    out["leaves_qty"] = (
        0 if u.status in ("filled", "canceled", "expired", "rejected") else _lots(inst, u.qty - u.cum_qty)
    )
    out["fee"] = int(u.fee * R.FEE_SCALE)
    out["fee_asset"] = fee_asset_id
    out["trade_id"] = max(u.trade_id, 0)
    out["ts_venue_ns"], out["ts_ns"] = u.ts_ms * MS, ts_ns
    out["side"] = u.side
    out["liquidity"] = (R.LIQ_MAKER if u.is_maker else R.LIQ_TAKER) if fill else 0
    out["order_type"] = ORD_CODE.get(u.order_type, 0)
    out["status"] = STATUS_CODE.get(u.status, 0)
    if u.reduce_only:
        out["flags"] |= R.FLAG_REDUCE_ONLY
    return out
