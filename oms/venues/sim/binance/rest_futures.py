"""Binance simulator room: USD-M futures REST handlers (`/fapi/v1|v2|v3/...`) and their endpoint table.

Touches nothing outside this simulator. Same contract as rest_spot: handlers take a `Req` and return
Binance's JSON or raise `SimError`. Conditional types sent to `/fapi/v1/order` get -4120 and belong on
`/fapi/v1/algoOrder`, as on the real venue since 2025-12.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from oms.venues.sim.binance.config import SymbolSpec
from oms.venues.sim.binance.core import AlgoOrder, SimError
from oms.venues.sim.binance.orders import Order, fmt, futures_order, futures_trade_row, trigger_direction
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
from oms.venues.sim.binance.rest_futures_account import (
    account_config,
    account_v2,
    account_v3,
    balance,
    bool_param,
    commission_rate,
    dual_get,
    dual_set,
    income,
    leverage,
    leverage_bracket,
    listen_key_close,
    listen_key_keep,
    listen_key_new,
    margin_type,
    multi_assets_get,
    position_risk_v2,
    position_risk_v3,
    symbol_config,
)
from oms.venues.sim.binance.rest_spot import (
    agg_trades,
    book_ticker,
    depth,
    depth_weight,
    klines,
    order_count,
    ticker_24hr,
    ticker_price,
    trades,
)
from oms.venues.sim.kit.history import page
from oms.venues.sim.kit.orders import triggered

ZERO = Decimal(0)
CONDITIONAL = ("STOP", "STOP_MARKET", "TAKE_PROFIT", "TAKE_PROFIT_MARKET", "TRAILING_STOP_MARKET")
_CID_OK = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789.:/_-")


def symbol_info(spec: SymbolSpec, status: str) -> dict[str, Any]:
    pp, qp = spec.price_precision, spec.qty_precision
    return {
        "symbol": spec.symbol,
        "pair": spec.base + spec.quote,
        "contractType": spec.contract_type,
        "deliveryDate": spec.delivery_date,
        "onboardDate": 1569398400000,
        "status": status,
        "maintMarginPercent": "2.5000",
        "requiredMarginPercent": "5.0000",
        "baseAsset": spec.base,
        "quoteAsset": spec.quote,
        "marginAsset": spec.quote,
        "pricePrecision": pp,
        "quantityPrecision": qp,
        "baseAssetPrecision": 8,
        "quotePrecision": 8,
        "underlyingType": "COIN",
        "underlyingSubType": [],
        "settlePlan": 0,
        "triggerProtect": "0.0500",
        "liquidationFee": "0.012500",
        "marketTakeBound": "0.05",
        "maxMoveOrderLimit": 10000,
        "filters": [
            {
                "filterType": "PRICE_FILTER",
                "minPrice": f"{spec.min_price:f}",
                "maxPrice": f"{spec.max_price:f}",
                "tickSize": f"{spec.tick:f}",
            },
            {
                "filterType": "LOT_SIZE",
                "stepSize": f"{spec.step:f}",
                "maxQty": f"{spec.max_qty:f}",
                "minQty": f"{spec.min_qty:f}",
            },
            {
                "filterType": "MARKET_LOT_SIZE",
                "stepSize": f"{spec.step:f}",
                "maxQty": f"{spec.max_qty:f}",
                "minQty": f"{spec.min_qty:f}",
            },
            {"filterType": "MAX_NUM_ORDERS", "limit": spec.max_num_orders},
            {"filterType": "MAX_NUM_ALGO_ORDERS", "limit": spec.max_num_algo_orders},
            {"filterType": "MIN_NOTIONAL", "notional": f"{spec.min_notional:f}"},
            {
                "filterType": "PERCENT_PRICE",
                "multiplierUp": f"{spec.multiplier_up:f}",
                "multiplierDown": f"{spec.multiplier_down:f}",
                "multiplierDecimal": "4",
            },
        ],
        "orderTypes": [
            "LIMIT",
            "MARKET",
            "STOP",
            "STOP_MARKET",
            "TAKE_PROFIT",
            "TAKE_PROFIT_MARKET",
            "TRAILING_STOP_MARKET",
        ],
        "timeInForce": ["GTC", "IOC", "FOK", "GTX", "GTD"],
        "permissionSets": ["GRID", "COPY"],
    }


def exchange_info(req: Req) -> dict[str, Any]:
    core = req.core
    return {
        "timezone": "UTC",
        "serverTime": req.now,
        "futuresType": "U_MARGINED",
        "rateLimits": req.svc.rate_limits(core.market),
        "exchangeFilters": [],
        "assets": [{"asset": "USDT", "marginAvailable": True, "autoAssetExchange": "-10000"}],
        "symbols": [symbol_info(s, core.status[s.symbol]) for s in core.specs.values()],
    }


def premium_index(req: Req) -> Any:
    core = req.core

    def row(sym: str) -> dict[str, Any]:
        spec = core.specs[sym]
        mark = core.mark[sym]
        return {
            "symbol": sym,
            "markPrice": f"{mark:.8f}",
            "indexPrice": f"{mark:.8f}",
            "estimatedSettlePrice": f"{mark:.8f}",
            "lastFundingRate": "0.00010000",
            "interestRate": "0.00010000",
            "nextFundingTime": (req.now // 28_800_000 + 1) * 28_800_000,
            "time": req.now,
            "pricePrecision": spec.price_precision,
        }

    if req.get("symbol"):
        return row(req.symbol().symbol)
    return [row(s) for s in core.specs]


# ---------------------------------------------------------------- orders
def build_order(req: Req) -> Order:
    core = req.core
    spec = req.symbol()
    side_s = req.need("side")
    if side_s not in ("BUY", "SELL"):
        raise SimError(-1117, "Invalid side.")
    side = 1 if side_s == "BUY" else -1
    otype = req.need("type")
    if otype in CONDITIONAL:
        raise SimError(
            -4120,
            "Order type not supported for this endpoint. Please use the Algo Order API endpoints instead.",
        )
    if otype not in ("LIMIT", "MARKET"):
        raise SimError(-1116, "Invalid orderType.")
    pos_side = req.get("positionSide") or "BOTH"
    if pos_side not in ("BOTH", "LONG", "SHORT"):
        raise SimError(-4006, "Invalid position side.")
    if pos_side != "BOTH" and not req.account.dual_side:
        raise SimError(-4061, "Order's position side does not match user's setting.")
    tif = req.get("timeInForce") or ""
    if otype == "LIMIT" and not tif:
        raise SimError(-1102, "Mandatory parameter 'timeInForce' was not sent, was empty/null, or malformed.")
    if tif and tif not in ("GTC", "IOC", "FOK", "GTX", "GTD"):
        raise SimError(-1115, "Invalid timeInForce.")
    reduce_only = bool_param(req.params, "reduceOnly")
    if req.account.dual_side:
        if pos_side == "BOTH":
            raise SimError(-4061, "Order's position side does not match user's setting.")
        if "reduceOnly" in req.params:
            raise SimError(-1106, "Parameter 'reduceOnly' sent when not required.")
    price_ticks = 0
    if otype == "LIMIT":
        price = req.dec("price", required=True)
        assert price is not None
        price_ticks = to_ticks(spec, price, True)
        check_percent_price(spec, side, price, core.mark[spec.symbol], True)
    else:
        price = core.ref_price(spec.symbol)
    qty = req.dec("quantity", required=True)
    assert qty is not None
    lots = to_lots(spec, qty, True)
    check_notional(spec, price, qty, True, reduce_only)
    cid = req.get("newClientOrderId") or f"sim{core.next_id + 1}"
    if len(cid) > 36 or not set(cid) <= _CID_OK:
        raise SimError(
            -1100,
            "Illegal characters found in parameter 'newClientOrderId'; legal range is "
            "'^[\\.A-Z\\:/a-z0-9_-]{1,36}$'.",
        )
    return Order(
        order_id=core.new_id(),
        market="usdm",
        spec=spec,
        account=req.account,
        client_id=cid,
        side=side,
        type=otype,
        tif=tif or "GTC",
        price=price_ticks,
        qty=lots,
        time=req.now,
        reduce_only=reduce_only,
        position_side=pos_side,
        orig_type=otype,
        stp_mode=req.get("selfTradePreventionMode") or "EXPIRE_MAKER",
    )


def _ack(o: Order, resp_type: str) -> dict[str, Any]:
    out = futures_order(o)
    if resp_type != "RESULT":
        zero_q = fmt("usdm", ZERO, o.spec.qty_precision)
        out.update(
            {
                "status": "NEW",
                "executedQty": zero_q,
                "cumQty": zero_q,
                "cumQuote": fmt("usdm", ZERO, max(o.spec.price_precision, 5)),
                "avgPrice": fmt("usdm", ZERO, max(o.spec.price_precision, 5)),
                "updateTime": o.time,
            }
        )
    return out


def new_order(req: Req) -> dict[str, Any]:
    o = build_order(req)
    req.core.submit(o)
    return _ack(o, req.get("newOrderRespType") or "ACK")


def batch_orders(req: Req) -> list[dict[str, Any]]:
    raw = req.need("batchOrders")
    try:
        items = json.loads(raw)
    except ValueError:
        raise SimError(-1130, "Data sent for parameter 'batchOrders' is not valid.") from None
    if not isinstance(items, list) or not items or len(items) > 5:
        raise SimError(-1130, "Data sent for parameter 'batchOrders' is not valid.")
    out: list[dict[str, Any]] = []
    for item in items:
        if not isinstance(item, dict):
            out.append({"code": -1130, "msg": "Data sent for parameter 'batchOrders' is not valid."})
            continue
        sub = Req(
            req.method,
            req.path,
            {k: str(v) for k, v in item.items()},
            req.core,
            req.now,
            req.ip,
            req.svc,
            req.key,
        )
        try:
            out.append(new_order(sub))
        except SimError as e:
            out.append({"code": e.code, "msg": e.msg})
    return out


def _lookup(req: Req) -> Order:
    spec = req.symbol()
    oid = req.int_param("orderId")
    cid = req.get("origClientOrderId")
    if oid is None and cid is None:
        raise SimError(-1102, "Either orderId or origClientOrderId must be sent.")
    return req.core.find(req.account, spec.symbol, oid, cid)


def query_order(req: Req) -> dict[str, Any]:
    return futures_order(_lookup(req))


def query_open_order(req: Req) -> dict[str, Any]:
    o = _lookup(req)
    if not o.is_open:
        raise SimError(-2013, "Order does not exist.")
    return futures_order(o)


def cancel_order(req: Req) -> dict[str, Any]:
    o = _lookup(req)
    req.core.cancel(o)
    return futures_order(o)


def cancel_batch(req: Req) -> list[dict[str, Any]]:
    spec = req.symbol()
    ids_raw = req.get("orderIdList")
    cids_raw = req.get("origClientOrderIdList")
    out: list[dict[str, Any]] = []
    try:
        ids = json.loads(ids_raw) if ids_raw else []
        cids = json.loads(cids_raw) if cids_raw else []
    except ValueError:
        raise SimError(-1130, "Data sent for parameter 'orderIdList' is not valid.") from None
    for oid, cid in [(i, None) for i in ids] + [(None, c) for c in cids]:
        try:
            o = req.core.find(req.account, spec.symbol, oid, cid)
            req.core.cancel(o)
            out.append(futures_order(o))
        except SimError as e:
            out.append({"code": e.code, "msg": e.msg})
    return out


def modify_order(req: Req) -> dict[str, Any]:
    o = _lookup(req)
    side_s = req.need("side")
    side = 1 if side_s == "BUY" else -1
    price = req.dec("price", required=True)
    qty = req.dec("quantity", required=True)
    assert price is not None and qty is not None
    ticks = to_ticks(o.spec, price, True)
    lots = to_lots(o.spec, qty, True)
    check_percent_price(o.spec, side, price, req.core.mark[o.spec.symbol], True)
    if not o.is_open:
        raise SimError(-2013, "Order does not exist.")
    if o.type != "LIMIT":
        raise SimError(-1102, "Only LIMIT orders can be modified.")
    if side != o.side:
        raise SimError(-1102, "Mandatory parameter 'side' was not sent, was empty/null, or malformed.")
    req.core.modify(o, ticks, lots)
    return futures_order(o)


def cancel_all(req: Req) -> dict[str, Any]:
    spec = req.symbol()
    req.core.cancel_all(req.account, spec.symbol)
    for a in list(req.core.algos.values()):
        if a.account is req.account and a.spec.symbol == spec.symbol and a.status == "NEW":
            a.status = "CANCELED"
    return {"code": 200, "msg": "The operation of cancel all open order is done."}


def open_orders(req: Req) -> list[dict[str, Any]]:
    sym = req.symbol().symbol if req.get("symbol") else None
    return [futures_order(o) for o in req.core.open_orders(req.account, sym)]


WEEK_MS = 7 * 86_400_000


def all_orders(req: Req) -> list[dict[str, Any]]:
    """Orders >= orderId, else in [startTime, endTime] (at most 7 days, default the last 7), oldest first."""
    spec = req.symbol()
    h = history_params(req, max_span_ms=WEEK_MS, id_name="orderId", default_window_ms=WEEK_MS)
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
    return [futures_order(o) for o in picked]


def user_trades(req: Req) -> list[dict[str, Any]]:
    """Trades >= fromId (not with a time range), of one orderId, or in [startTime, endTime] (at most
    7 days; neither sent: the last 7 days), oldest first."""
    spec = req.symbol()
    h = history_params(req, max_span_ms=WEEK_MS, id_name="fromId", default_window_ms=WEEK_MS)
    if h.from_id is not None and (h.start_time is not None or h.end_time is not None):
        raise SimError(-1128, "Combination of optional parameters invalid.")
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
    return [futures_trade_row(spec, f) for f in picked]


# ---------------------------------------------------------------- algo (conditional) orders
def _algo_json(a: AlgoOrder) -> dict[str, Any]:
    sp = a.spec
    pp, qp = sp.price_precision, sp.qty_precision
    return {
        "algoId": a.algo_id,
        "clientAlgoId": a.client_algo_id,
        "algoType": "CONDITIONAL",
        "orderType": a.order_type,
        "symbol": sp.symbol,
        "side": "BUY" if a.side > 0 else "SELL",
        "positionSide": a.position_side,
        "timeInForce": a.tif,
        "quantity": fmt("usdm", sp.step * a.qty, qp),
        "algoStatus": a.status,
        "triggerPrice": fmt("usdm", sp.tick * a.trigger, pp),
        "price": fmt("usdm", sp.tick * a.price, pp),
        "icebergQuantity": None,
        "selfTradePreventionMode": "EXPIRE_MAKER",
        "workingType": a.working_type,
        "priceMatch": "NONE",
        "closePosition": a.close_position,
        "priceProtect": False,
        "reduceOnly": a.reduce_only,
        "activatePrice": fmt("usdm", sp.tick * a.activate, pp) if a.activate else "",
        "callbackRate": f"{a.callback_rate:f}" if a.callback_rate else "",
        "createTime": a.time,
        "updateTime": a.time,
        "triggerTime": 0,
        "goodTillDate": 0,
        "actualOrderId": a.actual_order_id or "",
    }


def new_algo(req: Req) -> dict[str, Any]:
    core = req.core
    spec = req.symbol()
    if (req.get("algoType") or "") != "CONDITIONAL":
        raise SimError(-1102, "Mandatory parameter 'algoType' was not sent, was empty/null, or malformed.")
    otype = req.need("type")
    if otype not in CONDITIONAL:
        raise SimError(-1116, "Invalid orderType.")
    side_s = req.need("side")
    if side_s not in ("BUY", "SELL"):
        raise SimError(-1117, "Invalid side.")
    side = 1 if side_s == "BUY" else -1
    trailing = otype == "TRAILING_STOP_MARKET"
    callback = Decimal(0)
    activate_ticks = 0
    if trailing:
        callback = req.dec("callbackRate", required=True) or ZERO
        if not Decimal("0.1") <= callback <= Decimal("10"):
            raise SimError(-2007, "Invalid callBack rate.")
        act = req.dec("activatePrice")
        activate_ticks = to_ticks(spec, act, True) if act is not None else 0
        trig_ticks = 0
    else:
        trig = req.dec("triggerPrice", required=True)
        assert trig is not None
        trig_ticks = to_ticks(spec, trig, True)
    close = bool_param(req.params, "closePosition")
    lots = 0 if close else to_lots(spec, req.dec("quantity", required=True) or ZERO, True)
    price_ticks = 0
    if otype in ("STOP", "TAKE_PROFIT"):
        p = req.dec("price", required=True)
        assert p is not None
        price_ticks = to_ticks(spec, p, True)
    pos_side = req.get("positionSide") or "BOTH"
    if pos_side not in ("BOTH", "LONG", "SHORT"):
        raise SimError(-4006, "Invalid position side.")
    if (pos_side != "BOTH") != req.account.dual_side:
        raise SimError(-4061, "Order's position side does not match user's setting.")
    working = req.get("workingType") or "CONTRACT_PRICE"
    if working not in ("MARK_PRICE", "CONTRACT_PRICE"):
        raise SimError(-1100, "Illegal characters found in parameter 'workingType'.")
    ref = core.last_px.get(spec.symbol) if working == "CONTRACT_PRICE" else None
    if ref is None:
        ref = int(core.mark[spec.symbol] / spec.tick)
    if not trailing and triggered(trigger_direction(otype, side), ref, trig_ticks):
        raise SimError(-2021, "Order would immediately trigger.")
    n_open = sum(
        1 for a in core.algos.values() if a.account is req.account and a.spec is spec and a.status == "NEW"
    )
    if n_open >= spec.max_num_algo_orders:
        raise SimError(-4045, "Reach max stop order limit.")
    a = AlgoOrder(
        algo_id=core.new_id(),
        client_algo_id=req.get("clientAlgoId") or f"algo{core.next_id}",
        account=req.account,
        spec=spec,
        side=side,
        order_type=otype,
        qty=lots,
        price=price_ticks,
        trigger=trig_ticks,
        working_type=working,
        reduce_only=bool_param(req.params, "reduceOnly"),
        close_position=close,
        tif=req.get("timeInForce") or "GTC",
        time=req.now,
        position_side=pos_side,
        callback_rate=callback,
        activate=activate_ticks,
    )
    core.algos[a.algo_id] = a
    return _algo_json(a)


def _find_algo(req: Req) -> AlgoOrder:
    aid = req.int_param("algoId")
    cid = req.get("clientAlgoId")
    for a in req.core.algos.values():
        if a.account is req.account and (
            (aid is not None and a.algo_id == aid) or (cid and a.client_algo_id == cid)
        ):
            return a
    raise SimError(-2013, "Order does not exist.")


def query_algo(req: Req) -> dict[str, Any]:
    return _algo_json(_find_algo(req))


def cancel_algo(req: Req) -> dict[str, Any]:
    a = _find_algo(req)
    if a.status != "NEW":
        raise SimError(-2011, "Unknown order sent.")
    a.status = "CANCELED"
    return {"algoId": a.algo_id, "clientAlgoId": a.client_algo_id, "code": "200", "msg": "success"}


def open_algos(req: Req) -> list[dict[str, Any]]:
    return [_algo_json(a) for a in req.core.algos.values() if a.account is req.account and a.status == "NEW"]


Handler = Callable[[Req], Any]
F = "/fapi"
ENDPOINTS: dict[tuple[str, str], tuple[int, str, bool, Handler]] = {
    ("GET", F + "/v1/ping"): (1, NONE, False, lambda r: {}),
    ("GET", F + "/v1/time"): (1, NONE, False, lambda r: {"serverTime": r.now}),
    ("GET", F + "/v1/exchangeInfo"): (1, NONE, False, exchange_info),
    ("GET", F + "/v1/depth"): (5, NONE, False, depth),
    ("GET", F + "/v1/trades"): (5, NONE, False, trades),
    ("GET", F + "/v1/aggTrades"): (20, NONE, False, agg_trades),
    ("GET", F + "/v1/premiumIndex"): (1, NONE, False, premium_index),
    ("GET", F + "/v1/ticker/bookTicker"): (2, NONE, False, book_ticker),
    ("GET", F + "/v1/ticker/price"): (1, NONE, False, ticker_price),
    ("GET", F + "/v2/ticker/price"): (1, NONE, False, ticker_price),
    ("GET", F + "/v1/ticker/24hr"): (1, NONE, False, ticker_24hr),
    ("GET", F + "/v1/klines"): (1, NONE, False, klines),
    ("POST", F + "/v1/order"): (1, SIGNED, True, new_order),
    ("PUT", F + "/v1/order"): (1, SIGNED, True, modify_order),
    ("GET", F + "/v1/order"): (1, SIGNED, False, query_order),
    ("DELETE", F + "/v1/order"): (1, SIGNED, False, cancel_order),
    ("POST", F + "/v1/batchOrders"): (5, SIGNED, True, batch_orders),
    ("DELETE", F + "/v1/batchOrders"): (1, SIGNED, False, cancel_batch),
    ("DELETE", F + "/v1/allOpenOrders"): (1, SIGNED, False, cancel_all),
    ("GET", F + "/v1/openOrder"): (1, SIGNED, False, query_open_order),
    ("GET", F + "/v1/openOrders"): (1, SIGNED, False, open_orders),
    ("GET", F + "/v1/allOrders"): (5, SIGNED, False, all_orders),
    ("GET", F + "/v1/userTrades"): (5, SIGNED, False, user_trades),
    ("POST", F + "/v1/algoOrder"): (0, SIGNED, True, new_algo),
    ("GET", F + "/v1/algoOrder"): (1, SIGNED, False, query_algo),
    ("DELETE", F + "/v1/algoOrder"): (1, SIGNED, False, cancel_algo),
    ("GET", F + "/v1/openAlgoOrders"): (1, SIGNED, False, open_algos),
    ("POST", F + "/v1/leverage"): (1, SIGNED, False, leverage),
    ("POST", F + "/v1/marginType"): (1, SIGNED, False, margin_type),
    ("GET", F + "/v1/positionSide/dual"): (30, SIGNED, False, dual_get),
    ("POST", F + "/v1/positionSide/dual"): (1, SIGNED, False, dual_set),
    ("GET", F + "/v2/account"): (5, SIGNED, False, account_v2),
    ("GET", F + "/v3/account"): (5, SIGNED, False, account_v3),
    ("GET", F + "/v1/leverageBracket"): (1, SIGNED, False, leverage_bracket),
    ("GET", F + "/v1/income"): (30, SIGNED, False, income),
    ("GET", F + "/v1/accountConfig"): (5, SIGNED, False, account_config),
    ("GET", F + "/v1/symbolConfig"): (5, SIGNED, False, symbol_config),
    ("GET", F + "/v1/multiAssetsMargin"): (30, SIGNED, False, multi_assets_get),
    ("GET", F + "/v1/rateLimit/order"): (1, SIGNED, False, order_count),
    ("GET", F + "/v1/forceOrders"): (20, SIGNED, False, lambda r: []),  # no liquidations are simulated
    ("GET", F + "/v2/balance"): (5, SIGNED, False, balance),
    ("GET", F + "/v3/balance"): (5, SIGNED, False, balance),
    ("GET", F + "/v2/positionRisk"): (5, SIGNED, False, position_risk_v2),
    ("GET", F + "/v3/positionRisk"): (5, SIGNED, False, position_risk_v3),
    ("GET", F + "/v1/commissionRate"): (20, SIGNED, False, commission_rate),
    ("POST", F + "/v1/listenKey"): (1, USER_STREAM, False, listen_key_new),
    ("PUT", F + "/v1/listenKey"): (1, USER_STREAM, False, listen_key_keep),
    ("DELETE", F + "/v1/listenKey"): (1, USER_STREAM, False, listen_key_close),
}
WEIGHT_FNS: dict[tuple[str, str], Callable[[dict[str, str]], int]] = {("GET", F + "/v1/depth"): depth_weight}
