"""Bybit simulator room: Bybit's rules for the kit — error tables (kit reason → retCode, retMsg per
category), the order class (orderType / timeInForce / triggerDirection → the kit's flags), the status
words, and the v5 JSON renderings of orders, executions, positions and instruments.

Touches nothing outside this simulator. Codes and messages from Bybit's v5 error docs.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from oms.venues.sim.kit.accounts import Account, Position
from oms.venues.sim.kit.errors import ErrorTable
from oms.venues.sim.kit.orders import Fill
from oms.venues.sim.kit.orders import Order as KitOrder
from oms.venues.sim.kit.spec import SymbolSpec

ZERO = Decimal(0)
LINEAR_ERRORS: ErrorTable = {
    "market_closed": (10001, "params error: symbol is not trading"),
    "duplicate_client_id": (110072, "OrderLinkedID is duplicate"),
    "max_open_orders": (110020, "Not allowed to have more than 500 active orders."),
    "trigger_immediately": (110092, "expect Rising, but trigger_price <= current"),
    "insufficient_balance": (110007, "ab not enough for new order"),
    "reduce_only_rejected": (110017, "Reduce-only rule not satisfied"),
    "margin_insufficient": (110007, "ab not enough for new order"),
    "order_not_found": (110001, "Order does not exist."),
    "order_not_open": (110001, "Order does not exist."),
    "amend_qty_invalid": (10001, "params error: qty invalid"),
    "modify_qty_too_small": (10001, "params error: qty must be above the executed quantity"),
    "modify_unchanged": (34040, "Not modified"),
    # no post_only_would_take / fok_unfillable: Bybit accepts, then cancels
}
SPOT_ERRORS: ErrorTable = {
    **LINEAR_ERRORS,
    "duplicate_client_id": (170141, "Duplicate clientOrderId."),
    "max_open_orders": (170140, "Order count exceeded upper limit."),
    "insufficient_balance": (170131, "Insufficient balance."),
    "order_not_found": (170213, "Order does not exist."),
    "order_not_open": (170213, "Order does not exist."),
}
NAMES = {
    "NEW": "New",
    "PARTIALLY_FILLED": "PartiallyFilled",
    "FILLED": "Filled",
    "CANCELED": "Cancelled",
    "EXPIRED": "Cancelled",
    "EXPIRED_IN_MATCH": "Cancelled",
}


@dataclass(eq=False)
class Order(KitOrder):
    """`type` is Bybit's orderType (Limit / Market), `tif` GTC / IOC / FOK / PostOnly; a conditional
    order carries `stop_price` and Bybit's triggerDirection in `trigger_dir` (+1 rise, -1 fall)."""

    take_profit: int = 0  # ticks; set on the position when this order fills (tpslMode Full)
    stop_loss: int = 0

    def __post_init__(self) -> None:
        if self.type in ("LIMIT", "MARKET"):  # built by the kit (a fired TP/SL): Bybit's spelling
            self.type = self.type.capitalize()
        self.limit = self.type == "Limit"
        self.post_only = self.tif == "PostOnly"


def status(o: KitOrder) -> str:
    if o.trigger_dir and not o.is_working and o.is_open:
        return "Untriggered"
    if o.status in ("CANCELED", "EXPIRED", "EXPIRED_IN_MATCH") and o.executed and o.spec.market == "linear":
        return "PartiallyFilledCanceled"
    return NAMES[o.status]


def dec(v: Decimal, places: int) -> str:
    return f"{v:.{places}f}"


def px(spec: SymbolSpec, ticks: int) -> str:
    return dec(spec.tick * ticks, spec.price_precision)


def qty(spec: SymbolSpec, lots: int) -> str:
    return dec(spec.step * lots, spec.qty_precision)


def order_row(o: KitOrder) -> dict[str, Any]:
    spec = o.spec
    done = o.lots(o.executed)
    avg = o.cum_quote / done if done else ZERO
    fee = sum((f.fee for f in o.fills), ZERO) if o.fills else ZERO
    return {
        "orderId": str(o.order_id),
        "orderLinkId": o.client_id,
        "blockTradeId": "",
        "symbol": spec.symbol,
        "price": px(spec, o.price) if o.price else "0",
        "qty": qty(spec, o.qty),
        "side": "Buy" if o.side > 0 else "Sell",
        "isLeverage": "0" if spec.market == "spot" else "",
        "positionIdx": {"BOTH": 0, "LONG": 1, "SHORT": 2}[o.position_side],
        "orderStatus": status(o),
        "cancelType": "UNKNOWN",
        "rejectReason": "EC_NoError",
        "avgPrice": f"{avg.normalize():f}" if done else "",
        "leavesQty": qty(spec, o.leaves if o.is_open else 0),
        "leavesValue": dec(spec.tick * o.price * spec.step * o.leaves if o.is_open else ZERO, 8),
        "cumExecQty": qty(spec, o.executed),
        "cumExecValue": dec(o.cum_quote, 8),
        "cumExecFee": dec(fee, 8),
        "timeInForce": o.tif,
        "orderType": o.type,
        "stopOrderType": "Stop"
        if o.trigger_dir
        else {"TAKE_PROFIT": "TakeProfit", "STOP_LOSS": "StopLoss"}.get(o.orig_type, ""),
        "orderIv": "",
        "triggerPrice": px(spec, o.stop_price) if o.stop_price else "0.00",
        "takeProfit": px(spec, o.take_profit) if getattr(o, "take_profit", 0) else "0.00",
        "stopLoss": px(spec, o.stop_loss) if getattr(o, "stop_loss", 0) else "0.00",
        "tpTriggerBy": "",
        "slTriggerBy": "",
        "triggerDirection": {1: 1, -1: 2}.get(o.trigger_dir, 0),
        "triggerBy": "LastPrice" if o.trigger_dir else "",
        "lastPriceOnCreated": "",
        "reduceOnly": o.reduce_only,
        "closeOnTrigger": o.close_position,
        "smpType": "None",
        "smpGroup": 0,
        "smpOrderId": "",
        "tpslMode": "",
        "tpLimitPrice": "",
        "slLimitPrice": "",
        "placeType": "",
        "createdTime": str(o.time),
        "updatedTime": str(o.update_time or o.time),
    }


def execution_row(spec: SymbolSpec, f: Fill, link_id: str, category: str) -> dict[str, Any]:
    return {
        "symbol": spec.symbol,
        "orderId": str(f.order_id),
        "orderLinkId": link_id,
        "side": "Buy" if f.side > 0 else "Sell",
        "orderPrice": px(spec, f.price),
        "orderQty": qty(spec, f.lots),
        "leavesQty": "0",
        "orderType": "Limit",
        "stopOrderType": "",
        "execFee": dec(f.fee, 8),
        "feeCurrency": f.fee_asset,
        "execId": f"{f.trade_id}-{f.order_id}",
        "execPrice": px(spec, f.price),
        "execQty": qty(spec, f.lots),
        "execType": "Trade",
        "execValue": dec(f.quote, 8),
        "execTime": str(f.time),
        "isMaker": f.maker,
        "feeRate": dec(f.fee / (f.quote if category == "linear" or f.side < 0 else spec.step * f.lots), 8)
        if f.fee
        else "0",
        "tradeIv": "",
        "markIv": "",
        "markPrice": "",
        "indexPrice": "",
        "underlyingPrice": "",
        "blockTradeId": "",
        "closedSize": "",
        "seq": f.trade_id,
    }


def position_row(
    spec: SymbolSpec, p: Position, mark: Decimal, now: int, tp: int = 0, sl: int = 0
) -> dict[str, Any]:
    size = abs(p.amt)
    value = size * p.entry
    im = size * mark / p.leverage
    return {
        "positionIdx": 0,
        "riskId": 1,
        "riskLimitValue": "2000000",
        "symbol": spec.symbol,
        "side": "" if not p.amt else ("Buy" if p.amt > 0 else "Sell"),
        "size": dec(size, spec.qty_precision),
        "avgPrice": dec(p.entry, 8) if p.amt else "0",
        "positionValue": dec(value, 8) if p.amt else "0",
        "tradeMode": 0,
        "autoAddMargin": 0,
        "positionStatus": "Normal",
        "leverage": str(p.leverage),
        "markPrice": px(spec, int(mark / spec.tick)),
        "liqPrice": "",
        "bustPrice": "",
        "positionIM": dec(im, 8),
        "positionMM": dec(size * mark * Decimal("0.005"), 8),
        "positionBalance": dec(im, 8),
        "tpslMode": "Full",
        "takeProfit": px(spec, tp) if tp else "0",
        "stopLoss": px(spec, sl) if sl else "0",
        "trailingStop": "0",
        "sessionAvgPrice": "",
        "unrealisedPnl": dec(p.upnl(mark), 8),
        "curRealisedPnl": "0",
        "cumRealisedPnl": "0",
        "adlRankIndicator": 0,
        "isReduceOnly": False,
        "mmrSysUpdatedTime": "",
        "leverageSysUpdatedTime": "",
        "createdTime": str(p.update_time or now),
        "updatedTime": str(p.update_time or now),
        "seq": 0,
    }


def instrument_row(spec: SymbolSpec, status: str, max_leverage: int) -> dict[str, Any]:
    live = "Trading" if status == "TRADING" else "Closed"
    if spec.market == "spot":
        return {
            "symbol": spec.symbol,
            "baseCoin": spec.base,
            "quoteCoin": spec.quote,
            "innovation": "0",
            "status": live,
            "marginTrading": "utaOnly",
            "stTag": "0",
            "lotSizeFilter": {
                "basePrecision": f"{spec.step:f}",
                "quotePrecision": "0.00000001",
                "minOrderQty": f"{spec.min_qty:f}",
                "maxOrderQty": f"{spec.max_qty:f}",
                "minOrderAmt": f"{spec.min_notional:f}",
                "maxOrderAmt": f"{spec.max_notional:f}",
            },
            "priceFilter": {"tickSize": f"{spec.tick:f}"},
            "riskParameters": {"priceLimitRatioX": "0.01", "priceLimitRatioY": "0.02"},
        }
    return {
        "symbol": spec.symbol,
        "contractType": "LinearPerpetual",
        "status": live,
        "baseCoin": spec.base,
        "quoteCoin": spec.quote,
        "launchTime": "1585526400000",
        "deliveryTime": "0",
        "deliveryFeeRate": "",
        "priceScale": str(spec.price_precision),
        "leverageFilter": {"minLeverage": "1", "maxLeverage": f"{max_leverage}.00", "leverageStep": "0.01"},
        "priceFilter": {
            "minPrice": f"{spec.min_price:f}",
            "maxPrice": f"{spec.max_price:f}",
            "tickSize": f"{spec.tick:f}",
        },
        "lotSizeFilter": {
            "maxOrderQty": f"{spec.max_qty:f}",
            "minOrderQty": f"{spec.min_qty:f}",
            "qtyStep": f"{spec.step:f}",
            "postOnlyMaxOrderQty": f"{spec.max_qty:f}",
            "maxMktOrderQty": f"{spec.max_qty:f}",
            "minNotionalValue": f"{spec.min_notional:f}",
        },
        "unifiedMarginTrade": True,
        "fundingInterval": 480,
        "settleCoin": spec.quote,
        "copyTrading": "both",
        "upperFundingRate": "0.00375",
        "lowerFundingRate": "-0.00375",
        "isPreListing": False,
        "preListingInfo": None,
        "riskParameters": {"priceLimitRatioX": "0.05", "priceLimitRatioY": "0.1"},
    }


def coin_rows(account: Account, linear_wallet0: dict[str, Decimal], upnl: Decimal) -> list[dict[str, Any]]:
    """UNIFIED wallet coins: spot holdings, with USDT also carrying linear realized PnL and fees."""
    out = []
    coins = set(account.spot) | set(account.wallet)
    for c in sorted(coins):
        free, locked = account.spot.get(c, [ZERO, ZERO])
        wallet = free + locked + account.wallet.get(c, ZERO) - linear_wallet0.get(c, ZERO)
        pnl = upnl if c == "USDT" else ZERO
        out.append(
            {
                "coin": c,
                "equity": dec(wallet + pnl, 8),
                "usdValue": dec(wallet + pnl, 8) if c == "USDT" else "",
                "walletBalance": dec(wallet, 8),
                "locked": dec(locked, 8),
                "borrowAmount": "0",
                "availableToWithdraw": "",
                "accruedInterest": "0",
                "totalOrderIM": "0",
                "totalPositionIM": "0",
                "totalPositionMM": "0",
                "unrealisedPnl": dec(pnl, 8),
                "cumRealisedPnl": "0",
                "bonus": "0",
                "marginCollateral": True,
                "collateralSwitch": True,
                "spotHedgingQty": "0",
            }
        )
    return out
