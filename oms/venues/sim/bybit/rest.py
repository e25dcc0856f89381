"""Bybit simulator room: v5 REST handlers (market, order, position, account) and their endpoint table.

Touches nothing outside this simulator. Each handler takes a `Req` and returns the `result` object of
Bybit's envelope, or a `(result, retExtInfo)` pair, or raises `SimError` with Bybit's retCode/retMsg.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from oms.venues.sim.bybit import rules
from oms.venues.sim.bybit.rules import Order, order_row, position_row
from oms.venues.sim.kit.accounts import Account, ApiKey
from oms.venues.sim.kit.errors import SimError
from oms.venues.sim.kit.matching import MarketCore
from oms.venues.sim.kit.orders import triggered
from oms.venues.sim.kit.spec import SymbolSpec

ZERO = Decimal(0)
PUBLIC, PRIVATE = "PUBLIC", "PRIVATE"


def param_error(what: str) -> SimError:
    return SimError(10001, f"params error: {what}", 200)


@dataclass
class Req:
    params: dict[str, Any]
    now: int
    svc: Any
    key: ApiKey | None = None
    cores: dict[str, MarketCore] = field(default_factory=dict)

    @property
    def account(self) -> Account:
        assert self.key is not None
        return self.key.account

    def get(self, name: str) -> Any:
        v = self.params.get(name)
        return None if v is None or v == "" else v

    def need(self, name: str) -> Any:
        v = self.get(name)
        if v is None:
            raise SimError(10001, f"Missing some parameters that must be filled in, {name}", 200)
        return v

    def category(self) -> str:
        c = self.need("category")
        if c not in self.cores:
            raise param_error(f"category {c!r} is not served; use spot or linear")
        return str(c)

    def core(self) -> MarketCore:
        return self.cores[self.category()]

    def symbol(self, core: MarketCore) -> SymbolSpec:
        s = str(self.need("symbol"))
        spec = core.specs.get(s)
        if spec is None:
            if core.market == "spot":
                raise SimError(170121, "Invalid symbol.", 200)
            raise param_error("symbol invalid")
        return spec

    def dec(self, name: str) -> Decimal | None:
        v = self.get(name)
        if v is None:
            return None
        try:
            d = Decimal(str(v))
        except InvalidOperation:
            raise param_error(f"{name} invalid") from None
        if not d.is_finite() or d < 0:
            raise param_error(f"{name} invalid")
        return d


# ---------------------------------------------------------------- filters (Bybit's codes per category)
def to_lots(spec: SymbolSpec, q: Decimal) -> int:
    lots = q / spec.step
    spot = spec.market == "spot"
    if spot and lots != lots.to_integral_value():
        raise SimError(170137, "Order quantity has too many decimals.", 200)
    if q < spec.min_qty:
        if spot:
            raise SimError(170136, "Order quantity exceeded lower limit.", 200)
        raise SimError(10001, "The number of contracts exceeds minimum limit allowed", 200)
    if q > spec.max_qty:
        if spot:
            raise SimError(170135, "Order quantity exceeded upper limit.", 200)
        raise SimError(10001, "The number of contracts exceeds maximum limit allowed", 200)
    if lots != lots.to_integral_value():
        raise param_error("Qty invalid")
    return int(lots)


def to_ticks(spec: SymbolSpec, p: Decimal) -> int:
    ticks = p / spec.tick
    if ticks != ticks.to_integral_value() or p <= 0:
        if spec.market == "spot":
            raise SimError(170134, "Order price has too many decimals.", 200)
        raise param_error("price invalid")
    if p > spec.max_price:
        raise SimError(10001, "params error: price exceeds maximum limit", 200)
    return int(ticks)


# ---------------------------------------------------------------- market
def server_time(req: Req) -> dict[str, Any]:
    return {"timeSecond": str(req.now // 1000), "timeNano": str(req.now * 1_000_000)}


def instruments(req: Req) -> dict[str, Any]:
    core = req.core()
    specs = [req.symbol(core)] if req.get("symbol") else list(core.specs.values())
    rows = [rules.instrument_row(s, core.status[s.symbol], req.svc.cfg.max_leverage) for s in specs]
    return {"category": core.market, "list": rows, "nextPageCursor": ""}


def orderbook(req: Req) -> dict[str, Any]:
    core = req.core()
    spec = req.symbol(core)
    cap, default = (200, 1) if core.market == "spot" else (500, 25)
    limit = int(req.get("limit") or default)
    if not 1 <= limit <= cap:
        raise param_error(f"limit must be 1..{cap}")
    book = core.books[spec.symbol]
    side = [[rules.px(spec, p), rules.qty(spec, q)] for p, q in book.levels(1, limit)]
    other = [[rules.px(spec, p), rules.qty(spec, q)] for p, q in book.levels(-1, limit)]
    return {
        "s": spec.symbol,
        "b": side,
        "a": other,
        "ts": req.now,
        "u": book.update_id,
        "seq": book.update_id,
        "cts": req.now,
    }


def tickers(req: Req) -> dict[str, Any]:
    core = req.core()
    specs = [req.symbol(core)] if req.get("symbol") else list(core.specs.values())
    rows = []
    for spec in specs:
        book = core.books[spec.symbol]
        b = book.levels(1, 1) or [(0, 0)]
        a = book.levels(-1, 1) or [(0, 0)]
        last = core.last_px.get(spec.symbol)
        row = {
            "symbol": spec.symbol,
            "lastPrice": rules.px(spec, last)
            if last
            else rules.px(spec, int(core.ref_price(spec.symbol) / spec.tick)),
            "bid1Price": rules.px(spec, b[0][0]),
            "bid1Size": rules.qty(spec, b[0][1]),
            "ask1Price": rules.px(spec, a[0][0]),
            "ask1Size": rules.qty(spec, a[0][1]),
        }
        if core.market == "linear":
            row["markPrice"] = rules.px(spec, int(core.mark[spec.symbol] / spec.tick))
        rows.append(row)
    return {"category": core.market, "list": rows}


# ---------------------------------------------------------------- orders
def build_order(req: Req, core: MarketCore, item: dict[str, Any]) -> Order:
    sub = Req(item, req.now, req.svc, req.key, req.cores)
    spec = sub.symbol(core)
    side_s = sub.need("side")
    if side_s not in ("Buy", "Sell"):
        raise param_error("side invalid")
    side = 1 if side_s == "Buy" else -1
    otype = sub.need("orderType")
    if otype not in ("Limit", "Market"):
        raise param_error("orderType invalid")
    tif = sub.get("timeInForce") or ("GTC" if otype == "Limit" else "IOC")
    if tif not in ("GTC", "IOC", "FOK", "PostOnly"):
        raise param_error("timeInForce invalid")
    q = sub.dec("qty")
    if q is None:
        raise SimError(10001, "Missing some parameters that must be filled in, qty", 200)
    price_ticks = 0
    if otype == "Limit":
        p = sub.dec("price")
        if p is None:
            raise SimError(10001, "Missing some parameters that must be filled in, price", 200)
        price_ticks = to_ticks(spec, p)
    quote_qty = ZERO
    lots = 0
    if (
        core.market == "spot"
        and otype == "Market"
        and side > 0
        and (sub.get("marketUnit") or "quoteCoin") == "quoteCoin"
    ):
        quote_qty = q  # a spot market buy's qty is in the quote coin unless marketUnit=baseCoin
        if quote_qty < spec.min_notional:
            raise SimError(170140, "Order value exceeded lower limit.", 200)
        lots = int(spec.max_qty / spec.step)
    else:
        lots = to_lots(spec, q)
        ref = spec.tick * price_ticks if price_ticks else core.ref_price(spec.symbol)
        reduce = sub.get("reduceOnly") in (True, "true")
        if ref * q < spec.min_notional and not reduce:
            if core.market == "spot":
                raise SimError(170140, "Order value exceeded lower limit.", 200)
            raise SimError(110094, "Order does not meet minimum order value 5USDT", 200)
    idx = int(sub.get("positionIdx") or 0)
    if idx != 0:
        raise SimError(10001, "position idx not match position mode", 200)
    link = str(sub.get("orderLinkId") or "")
    if len(link) > 36:
        raise param_error("orderLinkId is longer than 36 characters")
    trigger_dir, stop = 0, 0
    trig = sub.dec("triggerPrice")
    if trig is not None and trig > 0:
        stop = to_ticks(spec, trig)
        last = core.last_px.get(spec.symbol) or int(core.ref_price(spec.symbol) / spec.tick)
        want = sub.get("triggerDirection")
        if want is None and core.market == "spot":
            want = 1 if stop > last else 2  # spot works the direction out from the last price
        if want not in (1, 2, "1", "2"):
            raise param_error("triggerDirection invalid")
        trigger_dir = 1 if int(want) == 1 else -1
        if triggered(trigger_dir, last, stop):
            cur = rules.px(spec, last)
            if trigger_dir > 0:
                raise SimError(
                    110092, f"expect Rising, but trigger_price[{stop * spec.tick}] <= current[{cur}]", 200
                )
            raise SimError(
                110093, f"expect Falling, but trigger_price[{stop * spec.tick}] >= current[{cur}]", 200
            )
    tp, sl = _tpsl_ticks(sub, core, spec, side, price_ticks)
    o = Order(
        order_id=core.new_id(),
        market=core.market,
        spec=spec,
        account=req.account,
        client_id=link,
        side=side,
        type=otype,
        tif=tif,
        price=price_ticks,
        qty=lots,
        time=req.now,
        stop_price=stop,
        reduce_only=sub.get("reduceOnly") in (True, "true"),
        quote_order_qty=quote_qty,
        close_position=sub.get("closeOnTrigger") in (True, "true"),
        stp_mode="NONE",
        take_profit=tp,
        stop_loss=sl,
    )
    o.trigger_dir = trigger_dir
    return o


def _tpsl_ticks(sub: Req, core: MarketCore, spec: SymbolSpec, side: int, price: int) -> tuple[int, int]:
    """takeProfit / stopLoss of an opening linear order: a Buy's TP above and SL below its price."""
    tp_d, sl_d = sub.dec("takeProfit"), sub.dec("stopLoss")
    if not tp_d and not sl_d:
        return 0, 0
    if core.market != "linear":
        raise param_error("takeProfit / stopLoss are served for linear orders only")
    base = price or int(core.ref_price(spec.symbol) / spec.tick)
    tp = to_ticks(spec, tp_d) if tp_d else 0
    sl = to_ticks(spec, sl_d) if sl_d else 0
    name = "Buy" if side > 0 else "Sell"
    if tp and (tp <= base if side > 0 else tp >= base):
        word = "higher" if side > 0 else "lower"
        raise SimError(
            10001,
            f"TakeProfit:{tp_d} set for {name} position should be {word} than base_price:"
            f"{rules.px(spec, base)}??LastPrice",
            200,
        )
    if sl and (sl >= base if side > 0 else sl <= base):
        word = "lower" if side > 0 else "higher"
        raise SimError(
            10001,
            f"StopLoss:{sl_d} set for {name} position should be {word} than base_price:"
            f"{rules.px(spec, base)}??LastPrice",
            200,
        )
    return tp, sl


def _submit(req: Req, core: MarketCore, item: dict[str, Any]) -> Order:
    o = build_order(req, core, item)
    core.submit(o)
    if o.quote_order_qty and not o.is_open and o.executed:
        o.qty, o.status = o.executed, "FILLED"  # a quote-sized market buy ends filled at what it bought
    return o


def create(req: Req) -> dict[str, Any]:
    core = req.core()
    o = _submit(req, core, req.params)
    return {"orderId": str(o.order_id), "orderLinkId": o.client_id}


def create_batch(req: Req) -> tuple[dict[str, Any], dict[str, Any]]:
    core = req.core()
    items = req.need("request")
    cap = req.svc.cfg.batch_max[core.market]
    if not isinstance(items, list) or not items:
        raise param_error("request must be a non-empty list")
    if len(items) > cap:
        raise SimError(10001, f"params error: batch size must not exceed {cap}", 200)
    out, ext = [], []
    for item in items:
        try:
            if not isinstance(item, dict):
                raise param_error("request items must be objects")
            o = _submit(req, core, item)
            out.append(
                {
                    "category": core.market,
                    "symbol": o.spec.symbol,
                    "orderId": str(o.order_id),
                    "orderLinkId": o.client_id,
                    "createAt": str(o.time),
                }
            )
            ext.append({"code": 0, "msg": "OK"})
        except SimError as e:
            link = str(item.get("orderLinkId", "")) if isinstance(item, dict) else ""
            sym = str(item.get("symbol", "")) if isinstance(item, dict) else ""
            out.append(
                {"category": core.market, "symbol": sym, "orderId": "", "orderLinkId": link, "createAt": ""}
            )
            ext.append({"code": e.code, "msg": e.msg})
    return {"list": out}, {"list": ext}


def _batch(req: Req, one: Callable[[Req], dict[str, Any]]) -> tuple[dict[str, Any], dict[str, Any]]:
    """amend-batch / cancel-batch: each item on its own, results and codes per item."""
    core = req.core()
    items = req.need("request")
    cap = req.svc.cfg.batch_max[core.market]
    if not isinstance(items, list) or not items:
        raise param_error("request must be a non-empty list")
    if len(items) > cap:
        raise SimError(10001, f"params error: batch size must not exceed {cap}", 200)
    out, ext = [], []
    for item in items:
        item = item if isinstance(item, dict) else {}
        sub = Req({**item, "category": core.market}, req.now, req.svc, req.key, req.cores)
        try:
            r = one(sub)
            out.append({"category": core.market, "symbol": item.get("symbol", ""), **r})
            ext.append({"code": 0, "msg": "OK"})
        except SimError as e:
            out.append(
                {
                    "category": core.market,
                    "symbol": item.get("symbol", ""),
                    "orderId": str(item.get("orderId", "")),
                    "orderLinkId": str(item.get("orderLinkId", "")),
                }
            )
            ext.append({"code": e.code, "msg": e.msg})
    return {"list": out}, {"list": ext}


def amend_batch(req: Req) -> tuple[dict[str, Any], dict[str, Any]]:
    return _batch(req, amend)


def cancel_batch(req: Req) -> tuple[dict[str, Any], dict[str, Any]]:
    return _batch(req, cancel)


DCP_PRODUCTS = ("OPTIONS", "DERIVATIVES", "SPOT")


def dcp_set(req: Req) -> dict[str, Any]:
    """Disconnect-cancel: when the account's private WebSocket is gone for `timeWindow` seconds (3..300),
    its open orders of `product` are cancelled."""
    product = str(req.get("product") or "OPTIONS")
    if product not in DCP_PRODUCTS:
        raise param_error(f"product must be one of {', '.join(DCP_PRODUCTS)}")
    try:
        window = int(req.need("timeWindow"))
    except (TypeError, ValueError):
        raise param_error("timeWindow must be an integer") from None
    if not 3 <= window <= 300:
        raise param_error("timeWindow must be 3..300 seconds")
    req.svc.hub.dcp.setdefault(req.account.uid, {})[product] = window
    return {}


def dcp_info(req: Req) -> dict[str, Any]:
    rows = req.svc.hub.dcp.get(req.account.uid, {})
    return {
        "dcpInfos": [{"product": p, "dcpStatus": "ON", "timeWindow": str(w)} for p, w in sorted(rows.items())]
    }


def _find(req: Req, core: MarketCore, open_only: bool = True) -> Order:
    spec = req.symbol(core)
    oid, link = req.get("orderId"), req.get("orderLinkId")
    if oid is None and link is None:
        raise SimError(10001, "Missing some parameters that must be filled in, orderId or orderLinkId", 200)
    try:
        o = core.find(req.account, spec.symbol, int(oid) if oid is not None else None, link and str(link))
    except ValueError:
        raise core.reject("order_not_found") from None
    if open_only and not o.is_open:
        raise core.reject("order_not_open")
    return o  # type: ignore[return-value]


def amend(req: Req) -> dict[str, Any]:
    core = req.core()
    o = _find(req, core)
    q, p, t = req.dec("qty"), req.dec("price"), req.dec("triggerPrice")
    lots = to_lots(o.spec, q) if q is not None else o.qty
    ticks = to_ticks(o.spec, p) if p is not None else o.price
    if o.trigger_dir and not o.is_working:  # untriggered: nothing rests in the book yet
        new_stop = to_ticks(o.spec, t) if t is not None else o.stop_price
        if (lots, ticks, new_stop) == (o.qty, o.price, o.stop_price):
            raise core.reject("modify_unchanged")
        o.qty, o.price, o.stop_price, o.update_time = lots, ticks, new_stop, req.now
    elif not o.limit:
        raise param_error("only limit orders can be amended")
    else:
        core.modify(o, ticks, lots)
    return {"orderId": str(o.order_id), "orderLinkId": o.client_id}


def cancel(req: Req) -> dict[str, Any]:
    core = req.core()
    o = _find(req, core)
    core.cancel(o)
    return {"orderId": str(o.order_id), "orderLinkId": o.client_id}


def cancel_all(req: Req) -> dict[str, Any]:
    core = req.core()
    sym = req.symbol(core).symbol if req.get("symbol") else None
    done = [core.cancel(o) for o in core.open_orders(req.account, sym)]
    return {"list": [{"orderId": str(o.order_id), "orderLinkId": o.client_id} for o in done], "success": "1"}


def _limit(req: Req, default: int = 20, cap: int = 50) -> int:
    n = int(req.get("limit") or default)
    if not 1 <= n <= cap:
        raise param_error(f"limit must be 1..{cap}")
    return n


def realtime(req: Req) -> dict[str, Any]:
    core = req.core()
    if req.get("orderId") is not None or req.get("orderLinkId") is not None:
        rows = [_find(req, core, open_only=False)]
    else:
        sym = req.symbol(core).symbol if req.get("symbol") else None
        rows = sorted(core.open_orders(req.account, sym), key=lambda o: -o.order_id)[: _limit(req)]
    return {"category": core.market, "list": [order_row(o) for o in rows], "nextPageCursor": ""}


def history(req: Req) -> dict[str, Any]:
    core = req.core()
    sym = req.symbol(core).symbol if req.get("symbol") else None
    rows = [
        o for o in core.orders.values() if o.account is req.account and (sym is None or o.spec.symbol == sym)
    ]
    rows = sorted(rows, key=lambda o: -o.order_id)[: _limit(req)]
    return {"category": core.market, "list": [order_row(o) for o in rows], "nextPageCursor": ""}


def executions(req: Req) -> dict[str, Any]:
    core = req.core()
    sym = req.symbol(core).symbol if req.get("symbol") else None
    fills = [f for f in core.fills.get(req.account.uid, ()) if sym is None or f.symbol == sym]
    fills = list(reversed(fills))[: _limit(req, 50, 100)]
    links = {f.order_id: (o.client_id if (o := core.orders.get(f.order_id)) else "") for f in fills}
    rows = [rules.execution_row(core.specs[f.symbol], f, links[f.order_id], core.market) for f in fills]
    return {"category": core.market, "list": rows, "nextPageCursor": ""}


# ---------------------------------------------------------------- positions, account
def positions(req: Req) -> dict[str, Any]:
    core = req.core()
    if core.market != "linear":
        raise param_error("category only support linear, inverse or option")
    if req.get("symbol") is None and req.get("settleCoin") is None:
        raise SimError(10001, "Missing some parameters that must be filled in, symbol or settleCoin", 200)
    a = req.account
    if req.get("symbol") is not None:
        specs = [req.symbol(core)]
    else:
        specs = [
            s
            for s in core.specs.values()
            if s.quote == req.get("settleCoin") and a.position(s.symbol, core.default_leverage).amt
        ]
    rows = [
        position_row(
            s,
            a.position(s.symbol, core.default_leverage),
            core.mark[s.symbol],
            req.now,
            *req.svc.tpsl.prices(a, s.symbol),
        )
        for s in specs
    ]
    return {"category": "linear", "list": rows, "nextPageCursor": ""}


def trading_stop(req: Req) -> dict[str, Any]:
    """POST /v5/position/trading-stop (tpslMode Full): set, replace or ("0") remove the position's TP / SL."""
    core = req.core()
    if core.market != "linear":
        raise param_error("category only support linear, inverse")
    spec = req.symbol(core)
    if (req.get("tpslMode") or "Full") != "Full":
        raise param_error("only tpslMode Full is simulated")
    pos = req.account.position(spec.symbol, core.default_leverage)
    if not pos.amt:
        raise SimError(10001, "can not set tp/sl/ts for zero position", 200)
    side = 1 if pos.amt > 0 else -1
    tp_d, sl_d = req.dec("takeProfit"), req.dec("stopLoss")
    last = core.last_px.get(spec.symbol) or int(core.ref_price(spec.symbol) / spec.tick)
    item = {k: v for k, v in (("takeProfit", tp_d), ("stopLoss", sl_d)) if v}
    tp, sl = _tpsl_ticks(Req(item, req.now, req.svc, req.key, req.cores), core, spec, side, last)
    req.svc.tpsl.set(req.account, spec.symbol, None if tp_d is None else tp, None if sl_d is None else sl)
    core.emit_balances(req.account, {spec.quote}, {spec.symbol})  # a position push carries the new TP / SL
    return {}


def set_leverage(req: Req) -> dict[str, Any]:
    core = req.core()
    spec = req.symbol(core)
    buy, sell = req.dec("buyLeverage"), req.dec("sellLeverage")
    if buy is None or sell is None:
        raise SimError(
            10001, "Missing some parameters that must be filled in, buyLeverage, sellLeverage", 200
        )
    if buy != sell:
        raise param_error("buy leverage must equal sell leverage in one-way mode")
    if not 1 <= buy <= req.svc.cfg.max_leverage or buy != buy.to_integral_value():
        raise SimError(10001, f"params error: leverage must be 1..{req.svc.cfg.max_leverage}", 200)
    p = req.account.position(spec.symbol, core.default_leverage)
    if p.leverage == int(buy):
        raise SimError(110043, "Set leverage not modified", 200)
    p.leverage = int(buy)
    return {}


def wallet_balance(req: Req) -> dict[str, Any]:
    if req.need("accountType") != "UNIFIED":
        raise param_error("accountType only support UNIFIED")
    a = req.account
    lin = req.cores["linear"]
    upnl = a.upnl(lin.mark)
    coins = rules.coin_rows(a, req.svc.cfg.linear_wallet, upnl)
    want = req.get("coin")
    if want is not None:
        names = set(str(want).split(","))
        coins = [c for c in coins if c["coin"] in names]
    usdt = next((Decimal(c["walletBalance"]) for c in coins if c["coin"] == "USDT"), ZERO)
    im = a.margin_used(lin.mark)
    return {
        "list": [
            {
                "accountType": "UNIFIED",
                "accountIMRate": rules.dec(im / usdt if usdt else ZERO, 4),
                "accountMMRate": rules.dec(im * Decimal("0.1") / usdt if usdt else ZERO, 4),
                "accountLTV": "0",
                "totalEquity": rules.dec(usdt + upnl, 8),
                "totalWalletBalance": rules.dec(usdt, 8),
                "totalMarginBalance": rules.dec(usdt + upnl, 8),
                "totalAvailableBalance": rules.dec(usdt + upnl - im, 8),
                "totalPerpUPL": rules.dec(upnl, 8),
                "totalInitialMargin": rules.dec(im, 8),
                "totalMaintenanceMargin": rules.dec(im * Decimal("0.1"), 8),
                "coin": coins,
            }
        ]
    }


Handler = Callable[[Req], Any]
TRADE, READ = "trade", "read"
# (method, path) -> (security, limit group, handler)
ENDPOINTS: dict[tuple[str, str], tuple[str, str, Handler]] = {
    ("GET", "/v5/market/time"): (PUBLIC, READ, server_time),
    ("GET", "/v5/market/instruments-info"): (PUBLIC, READ, instruments),
    ("GET", "/v5/market/orderbook"): (PUBLIC, READ, orderbook),
    ("GET", "/v5/market/tickers"): (PUBLIC, READ, tickers),
    ("POST", "/v5/order/create"): (PRIVATE, TRADE, create),
    ("POST", "/v5/order/amend"): (PRIVATE, TRADE, amend),
    ("POST", "/v5/order/cancel"): (PRIVATE, TRADE, cancel),
    ("POST", "/v5/order/cancel-all"): (PRIVATE, TRADE, cancel_all),
    ("POST", "/v5/order/create-batch"): (PRIVATE, TRADE, create_batch),
    ("POST", "/v5/order/amend-batch"): (PRIVATE, TRADE, amend_batch),
    ("POST", "/v5/order/cancel-batch"): (PRIVATE, TRADE, cancel_batch),
    ("POST", "/v5/order/disconnected-cancel-all"): (PRIVATE, TRADE, dcp_set),
    ("GET", "/v5/account/query-dcp-info"): (PRIVATE, READ, dcp_info),
    ("GET", "/v5/order/realtime"): (PRIVATE, READ, realtime),
    ("GET", "/v5/order/history"): (PRIVATE, READ, history),
    ("GET", "/v5/execution/list"): (PRIVATE, READ, executions),
    ("GET", "/v5/position/list"): (PRIVATE, READ, positions),
    ("POST", "/v5/position/set-leverage"): (PRIVATE, TRADE, set_leverage),
    ("POST", "/v5/position/trading-stop"): (PRIVATE, TRADE, trading_stop),
    ("GET", "/v5/account/wallet-balance"): (PRIVATE, READ, wallet_balance),
}
