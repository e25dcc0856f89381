"""Binance simulator room: spot REST handlers (`/api/v3/...`) and their endpoint table.

Touches nothing outside this simulator. Each handler takes a parsed `Req` and returns the JSON body
Binance returns (or raises `SimError` with Binance's code and message). `ENDPOINTS` maps
(method, path) to (weight, security, counts-as-order, handler): limits and security are data.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from oms.venues.sim.binance.config import SymbolSpec
from oms.venues.sim.binance.core import SimError
from oms.venues.sim.binance.orders import (
    Order,
    public_trade_row,
    spot_ack,
    spot_cancel,
    spot_full,
    spot_query,
    spot_result,
    spot_trade_row,
)
from oms.venues.sim.binance.rest_common import (
    NONE,
    SIGNED,
    USER_STREAM,
    Req,
    check_notional,
    check_percent_price,
    history_params,
    to_lots,
    to_ticks,
)
from oms.venues.sim.kit.history import page

SPOT_ORDER_TYPES = [
    "LIMIT",
    "LIMIT_MAKER",
    "MARKET",
    "STOP_LOSS",
    "STOP_LOSS_LIMIT",
    "TAKE_PROFIT",
    "TAKE_PROFIT_LIMIT",
]
_CLIENT_ID_CHARS = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789.:/_-")


def symbol_info(spec: SymbolSpec, status: str) -> dict[str, Any]:
    return {
        "symbol": spec.symbol,
        "status": status,
        "baseAsset": spec.base,
        "baseAssetPrecision": 8,
        "quoteAsset": spec.quote,
        "quotePrecision": 8,
        "quoteAssetPrecision": 8,
        "baseCommissionPrecision": 8,
        "quoteCommissionPrecision": 8,
        "orderTypes": [
            "LIMIT",
            "LIMIT_MAKER",
            "MARKET",
            "STOP_LOSS",
            "STOP_LOSS_LIMIT",
            "TAKE_PROFIT",
            "TAKE_PROFIT_LIMIT",
        ],
        "icebergAllowed": False,
        "ocoAllowed": False,
        "otoAllowed": False,
        "quoteOrderQtyMarketAllowed": True,
        "allowTrailingStop": False,
        "cancelReplaceAllowed": True,
        "amendAllowed": True,
        "isSpotTradingAllowed": True,
        "isMarginTradingAllowed": False,
        "filters": [
            {
                "filterType": "PRICE_FILTER",
                "minPrice": f"{spec.min_price:.8f}",
                "maxPrice": f"{spec.max_price:.8f}",
                "tickSize": f"{spec.tick:.8f}",
            },
            {
                "filterType": "LOT_SIZE",
                "minQty": f"{spec.min_qty:.8f}",
                "maxQty": f"{spec.max_qty:.8f}",
                "stepSize": f"{spec.step:.8f}",
            },
            {
                "filterType": "MARKET_LOT_SIZE",
                "minQty": "0.00000000",
                "maxQty": f"{spec.max_qty:.8f}",
                "stepSize": "0.00000000",
            },
            {
                "filterType": "PERCENT_PRICE_BY_SIDE",
                "bidMultiplierUp": f"{spec.multiplier_up}",
                "bidMultiplierDown": f"{spec.multiplier_down}",
                "askMultiplierUp": f"{spec.multiplier_up}",
                "askMultiplierDown": f"{spec.multiplier_down}",
                "avgPriceMins": 5,
            },
            {
                "filterType": "NOTIONAL",
                "minNotional": f"{spec.min_notional:.8f}",
                "applyMinToMarket": True,
                "maxNotional": f"{spec.max_notional:.8f}",
                "applyMaxToMarket": False,
                "avgPriceMins": 5,
            },
            {"filterType": "MAX_NUM_ORDERS", "maxNumOrders": spec.max_num_orders},
            {"filterType": "MAX_NUM_ALGO_ORDERS", "maxNumAlgoOrders": spec.max_num_algo_orders},
        ],
        "permissions": [],
        "permissionSets": [["SPOT"]],
        "defaultSelfTradePreventionMode": "NONE",
        "allowedSelfTradePreventionModes": ["NONE", "EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH"],
    }


def exchange_info(req: Req) -> dict[str, Any]:
    core = req.core
    specs = list(core.specs.values())
    one = req.get("symbol")
    many = req.get("symbols")
    if one is not None:
        specs = [req.symbol()]
    elif many is not None:
        try:
            names = json.loads(many)
        except ValueError:
            raise SimError(-1100, "Illegal characters found in parameter 'symbols'.") from None
        for n in names:
            if n not in core.specs:
                raise SimError(-1121, "Invalid symbol.")
        specs = [core.specs[n] for n in names]
    return {
        "timezone": "UTC",
        "serverTime": req.now,
        "rateLimits": req.svc.rate_limits(core.market),
        "exchangeFilters": [],
        "symbols": [symbol_info(s, core.status[s.symbol]) for s in specs],
    }


def depth(req: Req) -> dict[str, Any]:
    spec = req.symbol()
    limit = min(req.int_param("limit", 100) or 100, 5000)
    return req.svc.snapshot(req.core.market, spec.symbol, limit)


def depth_weight(params: dict[str, str]) -> int:
    try:
        limit = int(params.get("limit") or 100)
    except ValueError:
        limit = 100
    return 5 if limit <= 100 else 25 if limit <= 500 else 50 if limit <= 1000 else 250


def tape(req: Req, symbol: str) -> list[dict]:
    """The symbol's public trades (the last 1000 prints), rendered, oldest first."""
    spec = req.core.specs[symbol]
    return [public_trade_row(req.core.market, spec, p) for p in req.core.prints[symbol]]


def trades(req: Req) -> list[dict]:
    spec = req.symbol()
    limit = min(req.int_param("limit", 500) or 500, 1000)
    return tape(req, spec.symbol)[-limit:]


def agg_trades(req: Req) -> list[dict]:
    spec = req.symbol()
    limit = min(req.int_param("limit", 500) or 500, 1000)
    rows = tape(req, spec.symbol)[-limit:]
    return [
        {
            "a": t["id"],
            "p": t["price"],
            "q": t["qty"],
            "f": t["id"],
            "l": t["id"],
            "T": t["time"],
            "m": t["isBuyerMaker"],
            "M": True,
        }
        for t in rows
    ]


def _book_ticker_row(req: Req, sym: str) -> dict[str, str]:
    core = req.core
    spec = core.specs[sym]
    book = core.books[sym]
    b = book.levels(1, 1) or [(0, 0)]
    a = book.levels(-1, 1) or [(0, 0)]
    return {
        "symbol": sym,
        "bidPrice": core.fmt_px(spec, b[0][0]),
        "bidQty": core.fmt_qty(spec, b[0][1]),
        "askPrice": core.fmt_px(spec, a[0][0]),
        "askQty": core.fmt_qty(spec, a[0][1]),
    }


def book_ticker(req: Req) -> Any:
    if req.get("symbol"):
        return _book_ticker_row(req, req.symbol().symbol)
    return [_book_ticker_row(req, s) for s in req.core.specs]


def ticker_price(req: Req) -> Any:
    core = req.core

    def row(sym: str) -> dict[str, str]:
        spec = core.specs[sym]
        last = core.last_px.get(sym)
        px = spec.tick * last if last is not None else core.ref_price(sym)
        return {"symbol": sym, "price": core.fmt_px(spec, int(px / spec.tick))}

    if req.get("symbol"):
        return row(req.symbol().symbol)
    return [row(s) for s in core.specs]


_INTERVAL_MS = {
    "1s": 1000,
    "1m": 60_000,
    "3m": 180_000,
    "5m": 300_000,
    "15m": 900_000,
    "30m": 1_800_000,
    "1h": 3_600_000,
    "4h": 14_400_000,
    "1d": 86_400_000,
}


def klines(req: Req) -> list[list[Any]]:
    """Candles from the trades the simulator printed (its last 1000); empty intervals are skipped."""
    spec = req.symbol()
    interval = req.need("interval")
    if interval not in _INTERVAL_MS:
        raise SimError(-1120, "Invalid interval.")
    span = _INTERVAL_MS[interval]
    limit = min(req.int_param("limit", 500) or 500, 1500)
    bars: dict[int, list[Any]] = {}
    for t in tape(req, spec.symbol):
        start = t["time"] // span * span
        p, q = Decimal(t["price"]), Decimal(t["qty"])
        b = bars.get(start)
        if b is None:
            bars[start] = b = [
                start,
                p,
                p,
                p,
                p,
                Decimal(0),
                start + span - 1,
                Decimal(0),
                0,
                Decimal(0),
                Decimal(0),
            ]
        b[2], b[3], b[4] = max(b[2], p), min(b[3], p), p
        b[5] += q
        b[7] += p * q
        b[8] += 1
        if not t["isBuyerMaker"]:
            b[9] += q
            b[10] += p * q
    core = req.core
    out = []
    for start in sorted(bars)[-limit:]:
        b = bars[start]
        out.append(
            [
                b[0],
                core.fmt_px(spec, int(b[1] / spec.tick)),
                core.fmt_px(spec, int(b[2] / spec.tick)),
                core.fmt_px(spec, int(b[3] / spec.tick)),
                core.fmt_px(spec, int(b[4] / spec.tick)),
                f"{b[5]:f}",
                b[6],
                f"{b[7]:f}",
                b[8],
                f"{b[9]:f}",
                f"{b[10]:f}",
                "0",
            ]
        )
    return out


def ticker_24hr(req: Req) -> Any:
    core = req.core

    def row(sym: str) -> dict[str, Any]:
        spec = core.specs[sym]
        trades = tape(req, sym)
        last = Decimal(trades[-1]["price"]) if trades else core.ref_price(sym)
        first = Decimal(trades[0]["price"]) if trades else last
        prices = [Decimal(t["price"]) for t in trades] or [last]
        vol = sum((Decimal(t["qty"]) for t in trades), Decimal(0))
        qvol = sum((Decimal(t["quoteQty"]) for t in trades), Decimal(0))
        bt = _book_ticker_row(req, sym)
        return {
            "symbol": sym,
            "priceChange": f"{last - first:f}",
            "priceChangePercent": f"{(last - first) / first * 100:.3f}" if first else "0",
            "weightedAvgPrice": f"{qvol / vol:f}" if vol else f"{last:f}",
            "lastPrice": f"{last:f}",
            "lastQty": trades[-1]["qty"] if trades else "0",
            "bidPrice": bt["bidPrice"],
            "bidQty": bt["bidQty"],
            "askPrice": bt["askPrice"],
            "askQty": bt["askQty"],
            "openPrice": f"{first:f}",
            "highPrice": f"{max(prices):f}",
            "lowPrice": f"{min(prices):f}",
            "volume": f"{vol:f}",
            "quoteVolume": f"{qvol:f}",
            "openTime": trades[0]["time"] if trades else req.now,
            "closeTime": req.now,
            "firstId": trades[0]["id"] if trades else -1,
            "lastId": trades[-1]["id"] if trades else -1,
            "count": len(trades),
            "pricePrecision": spec.price_precision,
        }

    if req.get("symbol"):
        return row(req.symbol().symbol)
    return [row(s) for s in core.specs]


def avg_price(req: Req) -> dict[str, Any]:
    spec = req.symbol()
    trades = [t for t in tape(req, spec.symbol) if t["time"] >= req.now - 300_000]
    qty = sum((Decimal(t["qty"]) for t in trades), Decimal(0))
    px = (
        sum((Decimal(t["quoteQty"]) for t in trades), Decimal(0)) / qty
        if qty
        else req.core.ref_price(spec.symbol)
    )
    return {"mins": 5, "price": f"{px:.8f}", "closeTime": trades[-1]["time"] if trades else req.now}


# ---------------------------------------------------------------- orders
def build_order(req: Req, client_id: str | None = None) -> Order:
    core = req.core
    spec = req.symbol()
    side_s = req.need("side")
    if side_s not in ("BUY", "SELL"):
        raise SimError(-1117, "Invalid side.")
    side = 1 if side_s == "BUY" else -1
    otype = req.need("type")
    if otype not in SPOT_ORDER_TYPES:
        raise SimError(-1116, "Invalid orderType.")
    tif = req.get("timeInForce") or ""
    needs_tif = otype in ("LIMIT", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT")
    if needs_tif and not tif:
        raise SimError(-1102, "Mandatory parameter 'timeInForce' was not sent, was empty/null, or malformed.")
    if not needs_tif and tif:
        raise SimError(-1106, "Parameter 'timeInForce' sent when not required.")
    if tif and tif not in ("GTC", "IOC", "FOK"):
        raise SimError(-1115, "Invalid timeInForce.")
    price_ticks = 0
    price = None
    if otype in ("LIMIT", "LIMIT_MAKER", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT"):
        price = req.dec("price", required=True)
        assert price is not None
        price_ticks = to_ticks(spec, price, False)
    stop_ticks = 0
    if otype in ("STOP_LOSS", "STOP_LOSS_LIMIT", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT"):
        stop = req.dec("stopPrice", required=True)
        assert stop is not None
        stop_ticks = to_ticks(spec, stop, False)
    qty = req.dec("quantity")
    quote_qty = req.dec("quoteOrderQty")
    if otype == "MARKET":
        if qty is None and quote_qty is None:
            raise SimError(
                -1102, "Param 'quantity' or 'quoteOrderQty' must be sent, but both were empty/null!"
            )
        if qty is not None and quote_qty is not None:
            raise SimError(-1106, "Parameter 'quoteOrderQty' sent when not required.")
    elif qty is None:
        raise SimError(-1102, "Mandatory parameter 'quantity' was not sent, was empty/null, or malformed.")
    lots = 0
    if qty is not None:
        if qty.as_tuple().exponent < -8:  # type: ignore[operator]
            raise SimError(-1111, "Parameter 'quantity' has too much precision.")
        lots = to_lots(spec, qty, False, otype == "MARKET")
    ref = core.ref_price(spec.symbol)
    if price is not None:
        if otype in ("LIMIT", "LIMIT_MAKER"):
            check_percent_price(spec, side, price, ref, False)
        check_notional(spec, price, spec.step * lots, False, False)
    elif otype == "MARKET":
        if quote_qty is not None:
            if quote_qty < spec.min_notional:
                raise SimError(-1013, "Filter failure: NOTIONAL")
            lots = spec.max_qty and int(spec.max_qty / spec.step)
        else:
            check_notional(spec, ref, spec.step * lots, False, False, market_order=True)
    cid = client_id or req.get("newClientOrderId") or f"sim{core.next_id + 1}"
    if len(cid) > 36 or not set(cid) <= _CLIENT_ID_CHARS:
        raise SimError(
            -1100,
            "Illegal characters found in parameter 'newClientOrderId'; legal range is "
            "'^[a-zA-Z0-9-_]{1,36}$'.",
        )
    return Order(
        order_id=core.new_id(),
        market="spot",
        spec=spec,
        account=req.account,
        client_id=cid,
        side=side,
        type=otype,
        tif=tif or "GTC",
        price=price_ticks,
        qty=lots,
        time=req.now,
        stop_price=stop_ticks,
        quote_order_qty=quote_qty or Decimal(0),
        stp_mode=req.get("selfTradePreventionMode") or "NONE",
    )


def _respond(req: Req, o: Order) -> dict[str, Any]:
    default = "FULL" if o.type in ("MARKET", "LIMIT") else "ACK"
    kind = req.get("newOrderRespType") or default
    if kind == "ACK":
        return spot_ack(o)
    if kind == "RESULT":
        return spot_result(o)
    return spot_full(o)


def new_order(req: Req) -> dict[str, Any]:
    o = build_order(req)
    if o.quote_order_qty:
        o.qty = int(o.spec.max_qty / o.spec.step)
    req.core.submit(o)
    if o.quote_order_qty and o.status in ("EXPIRED", "FILLED"):
        o.qty = max(o.executed, 0) or o.qty
        if o.executed:
            o.status = "FILLED"
    return _respond(req, o)


def test_order(req: Req) -> dict[str, Any]:
    build_order(req)
    if req.get("computeCommissionRates") == "true":
        c = req.core
        return {
            "standardCommissionForOrder": {"maker": f"{c.maker_fee:.8f}", "taker": f"{c.taker_fee:.8f}"},
            "taxCommissionForOrder": {"maker": "0.00000000", "taker": "0.00000000"},
            "discount": {
                "enabledForAccount": False,
                "enabledForSymbol": False,
                "discountAsset": "BNB",
                "discount": "0.00000000",
            },
        }
    return {}


def _lookup(req: Req, id_name: str = "orderId", cid_name: str = "origClientOrderId") -> Order:
    spec = req.symbol()
    oid = req.int_param(id_name)
    cid = req.get(cid_name)
    if oid is None and cid is None:
        raise SimError(
            -1102, "Param 'origClientOrderId' or 'orderId' must be sent, but both were empty/null!"
        )
    return req.core.find(req.account, spec.symbol, oid, cid)


def query_order(req: Req) -> dict[str, Any]:
    return spot_query(_lookup(req))


def cancel_order(req: Req) -> dict[str, Any]:
    try:
        o = _lookup(req)
    except SimError as e:
        raise SimError(-2011, "Unknown order sent.") from e
    orig = o.client_id
    req.core.cancel(o)
    return spot_cancel(o, orig, req.get("newClientOrderId") or f"cxl{o.order_id}")


def cancel_all(req: Req) -> list[dict]:
    spec = req.symbol()
    orders = req.core.open_orders(req.account, spec.symbol)
    if not orders:
        raise SimError(-2011, "Unknown order sent.")
    out = []
    for o in orders:
        orig = o.client_id
        req.core.cancel(o)
        out.append(spot_cancel(o, orig, f"cxl{o.order_id}"))
    return out


def open_orders(req: Req) -> list[dict]:
    sym = req.symbol().symbol if req.get("symbol") else None
    return [spot_query(o) for o in req.core.open_orders(req.account, sym)]


def all_orders(req: Req) -> list[dict]:
    """Orders >= orderId, or in [startTime, endTime] (at most 24 h), else the newest; oldest first."""
    spec = req.symbol()
    h = history_params(req, max_span_ms=SPOT_SPAN_MS, id_name="orderId")
    rows = [
        o
        for o in req.core.orders.values()
        if o.account is req.account and o.spec.symbol == spec.symbol and h.within(o.time)
    ]
    picked = page(
        rows,
        id_of=lambda o: o.order_id,
        time_of=lambda o: o.time,
        limit=h.limit,
        from_id=h.from_id,
        start_time=h.start_time,
    )
    return [spot_query(o) for o in picked]


def cancel_replace(req: Req) -> tuple[int, dict[str, Any]]:
    mode = req.need("cancelReplaceMode")
    if mode not in ("STOP_ON_FAILURE", "ALLOW_FAILURE"):
        raise SimError(-1100, "Illegal characters found in parameter 'cancelReplaceMode'.")
    cancel_resp: dict[str, Any]
    ok = True
    try:
        o = _lookup(req, "cancelOrderId", "cancelOrigClientOrderId")
        orig = o.client_id
        req.core.cancel(o)
        cancel_resp = spot_cancel(o, orig, req.get("cancelNewClientOrderId") or f"cxl{o.order_id}")
    except SimError as e:
        ok = False
        cancel_resp = {
            "code": -2011 if e.code == -2013 else e.code,
            "msg": "Unknown order sent." if e.code == -2013 else e.msg,
        }
    if not ok and mode == "STOP_ON_FAILURE":
        return 400, {
            "code": -2022,
            "msg": "Order cancel-replace failed.",
            "data": {
                "cancelResult": "FAILURE",
                "newOrderResult": "NOT_ATTEMPTED",
                "cancelResponse": cancel_resp,
                "newOrderResponse": None,
            },
        }
    try:
        new = build_order(req)
        req.core.submit(new)
        new_resp: dict[str, Any] = _respond(req, new)
        new_ok = True
    except SimError as e:
        new_resp, new_ok = {"code": e.code, "msg": e.msg}, False
    if ok and new_ok:
        return 200, {
            "cancelResult": "SUCCESS",
            "newOrderResult": "SUCCESS",
            "cancelResponse": cancel_resp,
            "newOrderResponse": new_resp,
        }
    data = {
        "cancelResult": "SUCCESS" if ok else "FAILURE",
        "newOrderResult": "SUCCESS" if new_ok else "FAILURE",
        "cancelResponse": cancel_resp,
        "newOrderResponse": new_resp,
    }
    if ok or new_ok:
        return 409, {"code": -2021, "msg": "Order cancel-replace partially failed.", "data": data}
    return 400, {"code": -2022, "msg": "Order cancel-replace failed.", "data": data}


def amend_keep_priority(req: Req) -> dict[str, Any]:
    o = _lookup(req)
    new_qty = req.dec("newQty", required=True)
    assert new_qty is not None
    lots = to_lots(o.spec, new_qty, False)
    req.core.amend_qty_keep_priority(o, lots)
    req.core.exec_id += 1
    return {
        "transactTime": req.now,
        "executionId": req.core.exec_id,
        "amendedOrder": {**spot_query(o), "transactTime": req.now, "origClientOrderId": o.client_id},
    }


def account(req: Req) -> dict[str, Any]:
    a = req.account
    c = req.core
    bal = [{"asset": k, "free": f"{v[0]:.8f}", "locked": f"{v[1]:.8f}"} for k, v in sorted(a.spot.items())]
    if req.get("omitZeroBalances") == "true":
        bal = [b for b in bal if b["free"] != "0.00000000" or b["locked"] != "0.00000000"]
    maker_bp = int(c.maker_fee * 10000)
    taker_bp = int(c.taker_fee * 10000)
    return {
        "makerCommission": maker_bp,
        "takerCommission": taker_bp,
        "buyerCommission": 0,
        "sellerCommission": 0,
        "commissionRates": {
            "maker": f"{c.maker_fee:.8f}",
            "taker": f"{c.taker_fee:.8f}",
            "buyer": "0.00000000",
            "seller": "0.00000000",
        },
        "canTrade": True,
        "canWithdraw": True,
        "canDeposit": True,
        "brokered": False,
        "requireSelfTradePrevention": False,
        "preventSor": False,
        "updateTime": req.now,
        "accountType": "SPOT",
        "balances": bal,
        "permissions": ["SPOT"],
        "uid": a.uid,
    }


# myTrades: the combinations Binance documents (symbol is always there)
_TRADE_COMBOS = {
    frozenset(),
    frozenset({"orderId"}),
    frozenset({"startTime"}),
    frozenset({"endTime"}),
    frozenset({"fromId"}),
    frozenset({"startTime", "endTime"}),
    frozenset({"orderId", "fromId"}),
}
SPOT_SPAN_MS = 24 * 3_600_000


def my_trades(req: Req) -> list[dict]:
    """Trades >= fromId, of one orderId, or in [startTime, endTime] (at most 24 h), else the newest."""
    spec = req.symbol()
    sent = frozenset(k for k in ("orderId", "startTime", "endTime", "fromId") if req.get(k) is not None)
    if sent not in _TRADE_COMBOS:
        raise SimError(-1128, "Combination of optional parameters invalid.")
    h = history_params(req, max_span_ms=SPOT_SPAN_MS, id_name="fromId")
    oid = req.int_param("orderId")
    rows = [
        f
        for f in req.core.fills.get(req.account.uid, ())
        if f.symbol == spec.symbol and (oid is None or f.order_id == oid) and h.within(f.time)
    ]
    picked = page(
        rows,
        id_of=lambda f: f.trade_id,
        time_of=lambda f: f.time,
        limit=h.limit,
        from_id=h.from_id,
        start_time=h.start_time,
    )
    return [spot_trade_row(spec, f) for f in picked]


def commission(req: Req) -> dict[str, Any]:
    spec = req.symbol()
    c = req.core
    return {
        "symbol": spec.symbol,
        "standardCommission": {
            "maker": f"{c.maker_fee:.8f}",
            "taker": f"{c.taker_fee:.8f}",
            "buyer": "0.00000000",
            "seller": "0.00000000",
        },
        "taxCommission": {
            "maker": "0.00000000",
            "taker": "0.00000000",
            "buyer": "0.00000000",
            "seller": "0.00000000",
        },
        "discount": {
            "enabledForAccount": False,
            "enabledForSymbol": False,
            "discountAsset": "BNB",
            "discount": "0.00000000",
        },
    }


def order_count(req: Req) -> list[dict[str, Any]]:
    return req.svc.limiters[req.core.market].order_count_rows(req.account.uid, req.now)


def listen_key_new(req: Req) -> dict[str, Any]:
    return {"listenKey": req.svc.listen_new(req.account, req.core.market)}


def listen_key_keep(req: Req) -> dict[str, Any]:
    req.svc.listen_keep(req.need("listenKey"))
    return {}


def listen_key_close(req: Req) -> dict[str, Any]:
    req.svc.listen_close(req.need("listenKey"))
    return {}


Handler = Callable[[Req], Any]
# (method, path) -> (weight, security, is_order, handler)
ENDPOINTS: dict[tuple[str, str], tuple[int, str, bool, Handler]] = {
    ("GET", "/api/v3/ping"): (1, NONE, False, lambda r: {}),
    ("GET", "/api/v3/time"): (1, NONE, False, lambda r: {"serverTime": r.now}),
    ("GET", "/api/v3/exchangeInfo"): (20, NONE, False, exchange_info),
    ("GET", "/api/v3/depth"): (5, NONE, False, depth),
    ("GET", "/api/v3/trades"): (25, NONE, False, trades),
    ("GET", "/api/v3/aggTrades"): (4, NONE, False, agg_trades),
    ("GET", "/api/v3/ticker/bookTicker"): (2, NONE, False, book_ticker),
    ("GET", "/api/v3/ticker/price"): (2, NONE, False, ticker_price),
    ("GET", "/api/v3/ticker/24hr"): (2, NONE, False, ticker_24hr),
    ("GET", "/api/v3/klines"): (2, NONE, False, klines),
    ("GET", "/api/v3/avgPrice"): (2, NONE, False, avg_price),
    ("POST", "/api/v3/order"): (1, SIGNED, True, new_order),
    ("POST", "/api/v3/order/test"): (1, SIGNED, False, test_order),
    ("GET", "/api/v3/order"): (4, SIGNED, False, query_order),
    ("DELETE", "/api/v3/order"): (1, SIGNED, False, cancel_order),
    ("DELETE", "/api/v3/openOrders"): (1, SIGNED, False, cancel_all),
    ("GET", "/api/v3/openOrders"): (6, SIGNED, False, open_orders),
    ("GET", "/api/v3/allOrders"): (20, SIGNED, False, all_orders),
    ("POST", "/api/v3/order/cancelReplace"): (1, SIGNED, True, cancel_replace),
    ("PUT", "/api/v3/order/amend/keepPriority"): (4, SIGNED, False, amend_keep_priority),
    ("GET", "/api/v3/account"): (20, SIGNED, False, account),
    ("GET", "/api/v3/myTrades"): (20, SIGNED, False, my_trades),
    ("GET", "/api/v3/account/commission"): (20, SIGNED, False, commission),
    ("GET", "/api/v3/rateLimit/order"): (40, SIGNED, False, order_count),
    ("POST", "/api/v3/userDataStream"): (2, USER_STREAM, False, listen_key_new),
    ("PUT", "/api/v3/userDataStream"): (2, USER_STREAM, False, listen_key_keep),
    ("DELETE", "/api/v3/userDataStream"): (2, USER_STREAM, False, listen_key_close),
}
WEIGHT_FNS: dict[tuple[str, str], Callable[[dict[str, str]], int]] = {("GET", "/api/v3/depth"): depth_weight}
