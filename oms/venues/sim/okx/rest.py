"""OKX simulator room: v5 REST handlers (public instruments / books / tickers / time, trade order,
amend, cancel, batches, algo orders, cancel-all-after, account balance / positions / leverage) and the
endpoint table.

Touches nothing outside this simulator. A handler takes a `Req` and returns the `data` list of OKX's
envelope, or raises `SimError` (code 51xxx, the envelope's `sCode`). Batch handlers return per-item rows
with their own `sCode` / `sMsg`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from oms.venues.sim.kit.accounts import Account, ApiKey
from oms.venues.sim.kit.errors import SimError
from oms.venues.sim.kit.matching import MarketCore
from oms.venues.sim.kit.spec import SymbolSpec
from oms.venues.sim.okx import rules
from oms.venues.sim.okx.rules import Order, order_row, param_error

ZERO = Decimal(0)
PUBLIC, PRIVATE = "PUBLIC", "PRIVATE"
TRADE, READ = "trade", "read"


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
            raise rules.missing(name)
        return v

    def inst(self, name: str = "instId") -> tuple[MarketCore, SymbolSpec]:
        inst = str(self.need(name))
        for core in self.cores.values():
            if inst in core.specs:
                if core.status[inst] != "TRADING":  # maintenance
                    raise SimError(50001, "Service temporarily unavailable. Please try again later.", 503)
                return core, core.specs[inst]
        raise SimError(51001, "Instrument ID does not exist.", 200)

    def dec(self, name: str) -> Decimal | None:
        v = self.get(name)
        if v is None:
            return None
        try:
            d = Decimal(str(v))
        except InvalidOperation:
            raise param_error(name) from None
        if not d.is_finite():
            raise param_error(name)
        return d

    def ct(self, spec: SymbolSpec) -> Decimal:
        return self.svc.ct_val(spec)


# ---------------------------------------------------------------- filters (OKX's codes)
def to_lots(req: Req, spec: SymbolSpec, sz: Decimal, name: str = "sz") -> int:
    """`sz` in OKX units (base for SPOT, contracts for SWAP) → kit lots."""
    ct = req.ct(spec)
    if sz <= 0:
        raise param_error(name)
    base = sz * ct if ct else sz
    lots = base / spec.step
    if lots != lots.to_integral_value():
        raise SimError(51121, "Order quantity must be a multiple of the lot size.", 200)
    if base < spec.min_qty:
        raise SimError(51020, "Your order should meet or exceed the minimum order amount.", 200)
    if base > spec.max_qty:
        raise SimError(51202, "Market order amount exceeds the maximum amount.", 200)
    return int(lots)


def to_ticks(spec: SymbolSpec, p: Decimal, name: str = "px") -> int:
    ticks = p / spec.tick
    if p <= 0 or ticks != ticks.to_integral_value():
        raise SimError(
            51006, f"Order price is out of the price limit or not a multiple of tickSz ({name}).", 200
        )
    if p > spec.max_price:
        raise SimError(51006, "Order price is out of the price limit.", 200)
    return int(ticks)


def last_ticks(core: MarketCore, spec: SymbolSpec) -> int:
    return core.last_px.get(spec.symbol) or int(core.ref_price(spec.symbol) / spec.tick)


# ---------------------------------------------------------------- public
def server_time(req: Req) -> list[dict[str, Any]]:
    return [{"ts": str(req.now)}]


def instruments(req: Req) -> list[dict[str, Any]]:
    kind = req.need("instType")
    if kind not in req.cores:
        raise param_error("instType", "SPOT or SWAP")
    core = req.cores[kind]
    specs = list(core.specs.values())
    if req.get("instId"):
        specs = [s for s in specs if s.symbol == req.get("instId")]
        if not specs:
            raise SimError(51001, "Instrument ID does not exist.", 200)
    return [
        rules.instrument_row(s, core.status[s.symbol], req.ct(s), req.svc.cfg.max_leverage) for s in specs
    ]


def book_rows(req_or_svc: Any, core: MarketCore, spec: SymbolSpec, side: int, n: int) -> list[list[str]]:
    ct = req_or_svc.ct_val(spec)
    book = core.books[spec.symbol]
    queues = book.bids if side > 0 else book.asks
    return [
        [rules.px(spec, p), rules.contracts(spec, ct, q), "0", str(len(queues.get(p, ())) or 1)]
        for p, q in book.levels(side, n)
    ]


def books(req: Req) -> list[dict[str, Any]]:
    core, spec = req.inst()
    n = int(req.get("sz") or 1)
    if not 1 <= n <= 400:
        raise param_error("sz", "1..400")
    return [
        {
            "asks": book_rows(req.svc, core, spec, -1, n),
            "bids": book_rows(req.svc, core, spec, 1, n),
            "ts": str(req.now),
        }
    ]


def ticker_row(svc: Any, core: MarketCore, spec: SymbolSpec, now: int) -> dict[str, Any]:
    ct = svc.ct_val(spec)
    book = core.books[spec.symbol]
    b = book.levels(1, 1) or [(0, 0)]
    a = book.levels(-1, 1) or [(0, 0)]
    return {
        "instType": spec.market,
        "instId": spec.symbol,
        "last": rules.px(spec, last_ticks(core, spec)),
        "lastSz": "0",
        "bidPx": rules.px(spec, b[0][0]),
        "bidSz": rules.contracts(spec, ct, b[0][1]),
        "askPx": rules.px(spec, a[0][0]),
        "askSz": rules.contracts(spec, ct, a[0][1]),
        "ts": str(now),
    }


def tickers(req: Req) -> list[dict[str, Any]]:
    kind = req.need("instType")
    if kind not in req.cores:
        raise param_error("instType", "SPOT or SWAP")
    core = req.cores[kind]
    return [ticker_row(req.svc, core, s, req.now) for s in core.specs.values()]


def ticker(req: Req) -> list[dict[str, Any]]:
    core, spec = req.inst()
    return [ticker_row(req.svc, core, spec, req.now)]


# ---------------------------------------------------------------- orders
def _modes(sub: Req, core: MarketCore) -> str:
    td = sub.need("tdMode")
    if core.market == "SPOT" and td != "cash":
        raise param_error("tdMode", "SPOT trades with tdMode cash")
    if core.market == "SWAP" and td not in ("cross", "isolated"):
        raise param_error("tdMode", "SWAP trades with tdMode cross or isolated")
    if (sub.get("posSide") or "net") != "net":
        raise SimError(51000, "Parameter posSide error: the account is in net (one-way) mode", 200)
    return str(td)


def build_order(req: Req, item: dict[str, Any]) -> tuple[MarketCore, Order]:
    sub = Req(item, req.now, req.svc, req.key, req.cores)
    core, spec = sub.inst()
    td = _modes(sub, core)
    side_s = sub.need("side")
    if side_s not in ("buy", "sell"):
        raise param_error("side")
    side = 1 if side_s == "buy" else -1
    otype = sub.need("ordType")
    if otype not in rules.ORDER_TYPES:
        raise param_error("ordType")
    sz = sub.dec("sz")
    if sz is None:
        raise rules.missing("sz")
    ticks = 0
    if otype != "market":
        p = sub.dec("px")
        if p is None:
            raise rules.missing("px")
        ticks = to_ticks(spec, p)
    tgt = str(sub.get("tgtCcy") or "")
    quote_qty, lots = ZERO, 0
    if core.market == "SPOT" and otype == "market" and side > 0 and tgt != "base_ccy":
        quote_qty = sz  # a spot market buy is sized in the quote currency unless tgtCcy=base_ccy
        lots = int(spec.max_qty / spec.step)
    else:
        lots = to_lots(sub, spec, sz)
    cl = str(sub.get("clOrdId") or "")
    if len(cl) > 32 or (cl and not cl.isalnum()):
        raise param_error("clOrdId", "up to 32 letters and digits")
    o = Order(
        order_id=core.new_id(),
        market=core.market,
        spec=spec,
        account=req.account,
        client_id=cl,
        side=side,
        type=otype,
        tif=rules.ORDER_TYPES[otype],
        price=ticks,
        qty=lots,
        time=req.now,
        reduce_only=sub.get("reduceOnly") in (True, "true"),
        quote_order_qty=quote_qty,
        td_mode=td,
        tgt_ccy=tgt,
    )
    return core, o


def _place(req: Req, item: dict[str, Any]) -> dict[str, Any]:
    core, o = build_order(req, item)
    core.submit(o)
    if o.quote_order_qty and not o.is_open and o.executed:
        o.qty, o.status = o.executed, "FILLED"
    return {"ordId": str(o.order_id), "clOrdId": o.client_id, "tag": "", "ts": str(req.now)}


def _items(req: Req) -> list[dict[str, Any]]:
    items = req.params.get("_list")
    if not isinstance(items, list) or not items:
        raise param_error("body", "a JSON array of orders is required")
    if len(items) > req.svc.cfg.batch_max:
        raise SimError(51000, f"Parameter batch size error: at most {req.svc.cfg.batch_max} orders", 200)
    return [i if isinstance(i, dict) else {} for i in items]


def per_item(
    req: Req, items: list[dict[str, Any]], one: Callable[[Req, dict[str, Any]], dict[str, Any]]
) -> list:
    out = []
    for item in items:
        try:
            row = one(req, item)
            out.append({**row, "sCode": "0", "sMsg": "Order placed" if one is _place else ""})
        except SimError as e:
            out.append(
                {
                    "ordId": str(item.get("ordId", "")),
                    "clOrdId": str(item.get("clOrdId", "")),
                    "tag": "",
                    "ts": str(req.now),
                    "sCode": str(e.code),
                    "sMsg": e.msg,
                }
            )
    return out


def place(req: Req) -> list[dict[str, Any]]:
    return per_item(req, [req.params], _place)


def place_batch(req: Req) -> list[dict[str, Any]]:
    return per_item(req, _items(req), _place)


def _find(req: Req, item: dict[str, Any], fail: tuple[int, str]) -> tuple[MarketCore, Order]:
    sub = Req(item, req.now, req.svc, req.key, req.cores)
    core, spec = sub.inst()
    oid, cl = sub.get("ordId"), sub.get("clOrdId")
    if oid is None and cl is None:
        raise param_error("ordId", "ordId or clOrdId is required")
    try:
        o = core.find(req.account, spec.symbol, int(oid) if oid is not None else None, cl and str(cl))
    except (ValueError, SimError):
        raise SimError(*fail, 200) from None
    if not o.is_open:
        raise SimError(*fail, 200)
    return core, o  # type: ignore[return-value]


def _cancel(req: Req, item: dict[str, Any]) -> dict[str, Any]:
    core, o = _find(req, item, rules.CANCEL_FAILED)
    core.cancel(o)
    return {"ordId": str(o.order_id), "clOrdId": o.client_id, "ts": str(req.now)}


def _amend(req: Req, item: dict[str, Any]) -> dict[str, Any]:
    core, o = _find(req, item, rules.AMEND_FAILED)
    sub = Req(item, req.now, req.svc, req.key, req.cores)
    new_sz, new_px = sub.dec("newSz"), sub.dec("newPx")
    if new_sz is None and new_px is None:
        raise param_error("newSz", "newSz or newPx is required")
    if not o.limit:
        raise SimError(*rules.AMEND_FAILED, 200)
    lots = to_lots(sub, o.spec, new_sz, "newSz") if new_sz is not None else o.qty
    ticks = to_ticks(o.spec, new_px, "newPx") if new_px is not None else o.price
    core.modify(o, ticks, lots)
    return {
        "ordId": str(o.order_id),
        "clOrdId": o.client_id,
        "reqId": str(item.get("reqId", "")),
        "ts": str(req.now),
    }


def cancel(req: Req) -> list[dict[str, Any]]:
    return per_item(req, [req.params], _cancel)


def cancel_batch(req: Req) -> list[dict[str, Any]]:
    return per_item(req, _items(req), _cancel)


def amend(req: Req) -> list[dict[str, Any]]:
    return per_item(req, [req.params], _amend)


def amend_batch(req: Req) -> list[dict[str, Any]]:
    return per_item(req, _items(req), _amend)


def get_order(req: Req) -> list[dict[str, Any]]:
    core, spec = req.inst()
    oid, cl = req.get("ordId"), req.get("clOrdId")
    if oid is None and cl is None:
        raise param_error("ordId", "ordId or clOrdId is required")
    try:
        o = core.find(req.account, spec.symbol, int(oid) if oid is not None else None, cl and str(cl))
    except (ValueError, SimError):
        raise SimError(51603, "Order does not exist.", 200) from None
    return [order_row(o, req.ct(spec), core.default_leverage)]


def pending(req: Req) -> list[dict[str, Any]]:
    rows = []
    for core in req.cores.values():
        if req.get("instType") not in (None, core.market):
            continue
        for o in sorted(core.open_orders(req.account, req.get("instId")), key=lambda o: -o.order_id):
            rows.append(order_row(o, req.ct(o.spec), core.default_leverage))
    return rows
