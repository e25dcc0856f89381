"""Venues room (binance): wire shapes of Binance payloads as msgspec Structs (single-letter keys renamed
to words). Decimal fields stay strings here; parse.py converts them exactly.

Touches nothing.
"""

from __future__ import annotations

import msgspec
from msgspec import field


class ExecutionReport(msgspec.Struct, frozen=True):
    event_time: int = field(name="E")
    symbol: str = field(name="s")
    client_id: str = field(name="c")
    side: str = field(name="S")
    order_type: str = field(name="o")
    tif: str = field(name="f")
    qty: str = field(name="q")
    price: str = field(name="p")
    stop_price: str = field(name="P")
    orig_client_id: str = field(name="C")
    exec_type: str = field(name="x")
    status: str = field(name="X")
    reject_reason: str = field(name="r")
    order_id: int = field(name="i")
    last_qty: str = field(name="l")
    cum_qty: str = field(name="z")
    last_price: str = field(name="L")
    commission: str = field(name="n")
    commission_asset: str | None = field(name="N")
    trade_time: int = field(name="T")
    trade_id: int = field(name="t")
    is_maker: bool = field(name="m")
    cum_quote: str = field(name="Z")
    create_time: int = field(name="O", default=0)


class FuturesOrder(msgspec.Struct, frozen=True):
    symbol: str = field(name="s")
    client_id: str = field(name="c")
    side: str = field(name="S")
    order_type: str = field(name="o")
    tif: str = field(name="f")
    qty: str = field(name="q")
    price: str = field(name="p")
    avg_price: str = field(name="ap")
    stop_price: str = field(name="sp")
    exec_type: str = field(name="x")
    status: str = field(name="X")
    order_id: int = field(name="i")
    last_qty: str = field(name="l")
    cum_qty: str = field(name="z")
    last_price: str = field(name="L")
    trade_time: int = field(name="T")
    trade_id: int = field(name="t")
    is_maker: bool = field(name="m")
    reduce_only: bool = field(name="R")
    position_side: str = field(name="ps")
    commission: str = field(name="n", default="0")
    commission_asset: str | None = field(name="N", default=None)
    realized_pnl: str = field(name="rp", default="0")


class OrderTradeUpdate(msgspec.Struct, frozen=True):
    event_time: int = field(name="E")
    transaction_time: int = field(name="T")
    order: FuturesOrder = field(name="o")


class DepthUpdate(msgspec.Struct, frozen=True):
    event_time: int = field(name="E")
    symbol: str = field(name="s")
    first_id: int = field(name="U")
    last_id: int = field(name="u")
    bids: list[list[str]] = field(name="b")
    asks: list[list[str]] = field(name="a")
    prev_last_id: int | None = field(name="pu", default=None)  # USD-M only
    transaction_time: int | None = field(name="T", default=None)


class BookTicker(msgspec.Struct, frozen=True):
    update_id: int = field(name="u")
    symbol: str = field(name="s")
    bid_price: str = field(name="b")
    bid_qty: str = field(name="B")
    ask_price: str = field(name="a")
    ask_qty: str = field(name="A")
    event_time: int | None = field(name="E", default=None)  # USD-M only


class AggTrade(msgspec.Struct, frozen=True):
    event_time: int = field(name="E")
    symbol: str = field(name="s")
    agg_id: int = field(name="a")
    price: str = field(name="p")
    qty: str = field(name="q")
    first_trade_id: int = field(name="f")
    last_trade_id: int = field(name="l")
    trade_time: int = field(name="T")
    buyer_is_maker: bool = field(name="m")


class MarkPriceUpdate(msgspec.Struct, frozen=True):
    event_time: int = field(name="E")
    symbol: str = field(name="s")
    mark_price: str = field(name="p")
    index_price: str = field(name="i")
    funding_rate: str = field(name="r")
    next_funding_time: int = field(name="T")


class SpotOrderResponse(msgspec.Struct, frozen=True):
    symbol: str
    orderId: int
    clientOrderId: str
    transactTime: int | None = None
    time: int | None = None
    price: str = "0"
    origQty: str = "0"
    executedQty: str = "0"
    cummulativeQuoteQty: str = "0"
    status: str = "NEW"
    type: str = "LIMIT"
    side: str = "BUY"
    stopPrice: str | None = None
    timeInForce: str | None = None


class FuturesOrderResponse(msgspec.Struct, frozen=True):
    symbol: str
    orderId: int
    clientOrderId: str
    status: str
    price: str
    avgPrice: str
    origQty: str
    executedQty: str
    type: str
    side: str
    updateTime: int
    reduceOnly: bool = False
    stopPrice: str = "0"
    timeInForce: str = "GTC"
