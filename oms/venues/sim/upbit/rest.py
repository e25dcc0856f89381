"""Upbit simulator room: REST handlers — quotation (`/v1/market/all`, `/v1/orderbook`, `/v1/ticker`,
`/v1/trades/ticks`) and exchange (`/v1/accounts`, `POST /v1/orders`, `GET|DELETE /v1/order`,
`/v1/orders/open`, `/v1/orders/closed`, `/v1/orders`) and their endpoint table.

Touches nothing outside this simulator. A handler takes a `Req` and returns the JSON answer (or
`(status, answer)`), or raises an Upbit error (`rules.err`). Prices are checked against the KRW band
grid and the 5,000 KRW minimum total before the kit's core sees the order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from oms.venues.sim.kit.accounts import Account, ApiKey
from oms.venues.sim.kit.errors import SimError
from oms.venues.sim.kit.orders import Order
from oms.venues.sim.kit.spec import SymbolSpec
from oms.venues.sim.upbit import config, rules
from oms.venues.sim.upbit.rules import err

ZERO = Decimal(0)
PUBLIC, PRIVATE = "PUBLIC", "PRIVATE"
ORD_TYPES = ("limit", "price", "market", "best")
TIFS = ("ioc", "fok", "post_only")


@dataclass
class Req:
    params: dict[str, Any]
    now: int
    sim: Any
    key: ApiKey | None = None

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
            raise err("validation_error", f"{name} is missing; send it as a request parameter")
        return v

    def spec(self, name: str = "market") -> SymbolSpec:
        m = str(self.need(name))
        spec = self.sim.core.specs.get(m)
        if spec is None:
            raise err(
                "validation_error", f"market {m!r} does not exist; markets: {', '.join(self.sim.core.specs)}"
            )
        return spec

    def dec(self, name: str) -> Decimal | None:
        v = self.get(name)
        if v is None:
            return None
        try:
            d = Decimal(str(v))
        except InvalidOperation:
            raise err("validation_error", f"{name} must be a decimal number, got {v!r}") from None
        if not d.is_finite() or d <= 0:
            raise err("validation_error", f"{name} must be a positive number, got {v!r}")
        return d

    def markets(self) -> list[SymbolSpec]:
        raw = self.need("markets")
        names = raw if isinstance(raw, list) else str(raw).split(",")
        out = []
        for n in names:
            spec = self.sim.core.specs.get(n.strip())
            if spec is None:
                raise err("validation_error", f"market {n!r} does not exist (Code not found)", 404)
            out.append(spec)
        return out


# ---------------------------------------------------------------- quotation
def market_all(req: Req) -> list[dict[str, Any]]:
    details = str(req.get("isDetails") or "false").lower() == "true"
    rows = []
    for s in req.sim.core.specs.values():
        row: dict[str, Any] = {"market": s.symbol, "korean_name": s.base, "english_name": s.base}
        if details:
            row["market_event"] = {"warning": False, "caution": {}}
        rows.append(row)
    return rows


def orderbook(req: Req) -> list[dict[str, Any]]:
    return [req.sim.book_row(s, req.now) for s in req.markets()]


def ticker(req: Req) -> list[dict[str, Any]]:
    return [req.sim.ticker_row(s, req.now) for s in req.markets()]


def trades(req: Req) -> list[dict[str, Any]]:
    spec = req.spec()
    count = int(req.get("count") or 1)
    if not 1 <= count <= 500:
        raise err("validation_error", "count must be 1..500")
    prints = list(req.sim.core.prints[spec.symbol])[-count:][::-1]
    return [req.sim.trade_row(spec, p) for p in prints]


# ---------------------------------------------------------------- exchange
def accounts(req: Req) -> list[dict[str, Any]]:
    return req.sim.account_rows(req.account)


def _side(req: Req) -> tuple[int, str]:
    s = req.need("side")
    if s not in ("bid", "ask"):
        raise err("validation_error", f"side must be bid or ask, got {s!r}")
    return (1 if s == "bid" else -1), s


def _lots(spec: SymbolSpec, vol: Decimal, side: str) -> int:
    lots = vol / spec.step
    if lots != lots.to_integral_value():
        raise err(f"invalid_volume_{side}", f"volume has more than 8 decimals: {vol}")
    return int(lots)


def create_order(req: Req) -> tuple[int, dict[str, Any]]:
    sim, core = req.sim, req.sim.core
    spec = req.spec()
    side, sname = _side(req)
    otype = req.need("ord_type")
    if otype not in ORD_TYPES:
        raise err("validation_error", f"ord_type must be one of {', '.join(ORD_TYPES)}, got {otype!r}")
    tif = req.get("time_in_force")
    if tif is not None and tif not in TIFS:
        raise err("validation_error", f"time_in_force must be one of {', '.join(TIFS)}, got {tif!r}")
    if otype == "best" and tif not in ("ioc", "fok"):
        raise err("validation_error", "ord_type best needs time_in_force ioc or fok")
    if otype in ("price", "market") and tif is not None:
        raise err(f"create_{sname}_error", "time_in_force is only for limit and best orders")
    if tif == "post_only" and otype != "limit":
        raise err(f"create_{sname}_error", "post_only is only for limit orders")
    ident = req.get("identifier")
    if ident is not None and (req.account.uid, str(ident)) in sim.identifiers:
        raise err("validation_error", f"identifier {ident!r} was already used by this account; use a new one")
    price, vol = req.dec("price"), req.dec("volume")
    book = core.books[spec.symbol]
    quote = ZERO
    ticks, lots, limit = 0, 0, False
    if otype == "limit":
        if price is None or vol is None:
            raise err(f"create_{sname}_error", "a limit order needs price and volume")
        if not config.on_grid(price):
            raise err(f"invalid_price_{sname}")
        ticks, lots, limit = int(price / spec.tick), _lots(spec, vol, sname), True
        total = price * vol
    elif otype == "price" or (otype == "best" and side > 0):
        if side < 0 or price is None or vol is not None:
            raise err(
                f"create_{sname}_error", f"ord_type {otype} {sname} takes price (the KRW total) and no volume"
            )
        total = quote = price
    else:  # market sell, or best sell: by volume
        if side > 0 or vol is None or price is not None:
            raise err(f"create_{sname}_error", f"ord_type {otype} {sname} takes volume and no price")
        lots = _lots(spec, vol, sname)
        total = vol * core.ref_price(spec.symbol)
    if total < config.MIN_TOTAL:
        raise err(f"under_min_total_{sname}")
    if otype == "best":
        best = book.best_ask() if side > 0 else book.best_bid()
        if best is None:
            raise err(f"create_{sname}_error", "no opposite quote for a best order")
        ticks, limit = best, True
        if side > 0:
            lots = int(quote / (spec.tick * best) / spec.step)
            quote = ZERO
    elif otype == "price":
        lots = int(spec.max_qty / spec.step)
    o = core.new_order(
        order_id=core.new_id(),
        market=core.market,
        spec=spec,
        account=req.account,
        client_id=str(ident) if ident is not None else "",
        side=side,
        type=otype,
        tif={"ioc": "IOC", "fok": "FOK"}.get(tif or "", "GTC"),
        price=ticks,
        qty=lots,
        time=req.now,
        quote_order_qty=quote,
        orig_type=otype,
        limit=limit,
        post_only=tif == "post_only",
        upbit_tif=tif,
    )
    try:
        core.submit(o)
    except SimError as e:
        if rules.NAMES[e.code] == "insufficient_funds_bid":
            raise err(f"insufficient_funds_{sname}") from None
        raise
    if ident is not None:
        sim.identifiers.add((req.account.uid, str(ident)))
        sim.by_ident[(req.account.uid, str(ident))] = o
    return 201, sim.order_row(o)


def _find(req: Req) -> Order:
    core = req.sim.core
    uid, ident = req.get("uuid"), req.get("identifier")
    o = None
    if uid is not None:
        o = core.orders.get(req.sim.id_of.get(str(uid), -1))
    elif ident is not None:
        o = req.sim.by_ident.get((req.account.uid, str(ident)))
    else:
        raise err("validation_error", "uuid or identifier is required")
    if o is None or o.account is not req.account:
        raise err("order_not_found")
    return o


def get_order(req: Req) -> dict[str, Any]:
    return req.sim.order_row(_find(req), trades=True)


def cancel_order(req: Req) -> dict[str, Any]:
    o = _find(req)
    if not o.is_open:
        raise err("order_not_found", "주문을 찾지 못했습니다. (already done or canceled)")
    req.sim.core.cancel(o)
    row = req.sim.order_row(o)
    row["state"] = "wait"  # Upbit answers a cancel with the order as it was when the cancel was accepted
    return row


def _states(req: Req) -> set[str]:
    raw = req.params.get("states[]") or req.params.get("states") or req.get("state")
    if raw is None:
        return set()
    return set(raw if isinstance(raw, list) else [raw])


def _listing(req: Req, default: set[str]) -> list[dict[str, Any]]:
    states = _states(req) or default
    bad = states - {"wait", "watch", "done", "cancel"}
    if bad:
        raise err("validation_error", f"unknown state(s) {sorted(bad)}; use wait, watch, done, cancel")
    spec = req.spec() if req.get("market") else None
    limit = int(req.get("limit") or 100)
    page = int(req.get("page") or 1)
    if not 1 <= limit <= 1000 or page < 1:
        raise err("validation_error", "limit must be 1..1000 and page >= 1")
    core = req.sim.core
    mine = [
        o
        for o in core.orders.values()
        if o.account is req.account and (spec is None or o.spec is spec) and rules.state(o) in states
    ]
    mine.sort(key=lambda o: (o.time, o.order_id), reverse=req.get("order_by") != "asc")
    return [req.sim.order_row(o) for o in mine[(page - 1) * limit : page * limit]]


def open_orders(req: Req) -> list[dict[str, Any]]:
    return _listing(req, {"wait", "watch"})


def closed_orders(req: Req) -> list[dict[str, Any]]:
    return _listing(req, {"done", "cancel"})


def orders(req: Req) -> list[dict[str, Any]]:
    return _listing(req, {"wait"})


Handler = Callable[[Req], Any]
ENDPOINTS: dict[tuple[str, str], tuple[str, str, Handler]] = {
    ("GET", "/v1/market/all"): (PUBLIC, "market", market_all),
    ("GET", "/v1/orderbook"): (PUBLIC, "orderbook", orderbook),
    ("GET", "/v1/ticker"): (PUBLIC, "ticker", ticker),
    ("GET", "/v1/trades/ticks"): (PUBLIC, "trade", trades),
    ("GET", "/v1/accounts"): (PRIVATE, "default", accounts),
    ("POST", "/v1/orders"): (PRIVATE, "order", create_order),
    ("GET", "/v1/order"): (PRIVATE, "default", get_order),
    ("DELETE", "/v1/order"): (PRIVATE, "order-cancel", cancel_order),
    ("GET", "/v1/orders/open"): (PRIVATE, "default", open_orders),
    ("GET", "/v1/orders/closed"): (PRIVATE, "default", closed_orders),
    ("GET", "/v1/orders"): (PRIVATE, "default", orders),
}
