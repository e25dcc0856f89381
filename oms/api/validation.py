"""Gateway room (oms/api): every field of every request checked, then turned into a COMMAND row.

Touches nothing (reads the instrument registry through `Resolver`). A bad field raises `ApiError`
INVALID_ARGUMENT whose message starts with the field path ("orders[2].price: ...") and says how to fix
it. Rows are built as tuples in COMMAND field order (one numpy assignment per row, no per-field stores).
Prices become int ticks and quantities int lots with the instrument's precision, exactly (never rounded).
"""

from __future__ import annotations

import inspect
import time
from decimal import Decimal
from typing import Any

from oms import ids
from oms.api.gen.oms.v1 import types_pb2 as pb
from oms.api.instruments import DecimalError, Instruments, Precision, market_name, parse_decimal, venue_name
from oms.api.status import invalid
from oms.engine import constants as ec
from oms.shm import records as r

SOURCE_GATEWAY = 1
MAX_BATCH = 256
MAX_TEXT = 64
U32 = 0xFFFFFFFF
MAX_UNITS = 1 << 53  # largest price (ticks) or quantity (lots) accepted: exact in a double, far from int64

_TYPE = {
    pb.ORDER_TYPE_LIMIT: r.ORD_LIMIT,
    pb.ORDER_TYPE_MARKET: r.ORD_MARKET,
    pb.ORDER_TYPE_STOP_MARKET: r.ORD_STOP_MARKET,
    pb.ORDER_TYPE_STOP_LIMIT: r.ORD_STOP_LIMIT,
    pb.ORDER_TYPE_TAKE_PROFIT_MARKET: r.ORD_TAKE_PROFIT_MARKET,
    pb.ORDER_TYPE_TAKE_PROFIT_LIMIT: r.ORD_TAKE_PROFIT_LIMIT,
    pb.ORDER_TYPE_TRAILING_STOP_MARKET: r.ORD_TRAILING_STOP_MARKET,
}
_PRICED = {r.ORD_LIMIT, r.ORD_STOP_LIMIT, r.ORD_TAKE_PROFIT_LIMIT}
_TRIGGERED = {r.ORD_STOP_MARKET, r.ORD_STOP_LIMIT, r.ORD_TAKE_PROFIT_MARKET, r.ORD_TAKE_PROFIT_LIMIT}
_TIF = {
    pb.TIME_IN_FORCE_UNSPECIFIED: r.TIF_GTC,
    pb.TIME_IN_FORCE_GTC: r.TIF_GTC,
    pb.TIME_IN_FORCE_IOC: r.TIF_IOC,
    pb.TIME_IN_FORCE_FOK: r.TIF_FOK,
    pb.TIME_IN_FORCE_GTX: r.TIF_GTX,
}
_SIDE = {pb.SIDE_BUY: r.SIDE_BUY, pb.SIDE_SELL: r.SIDE_SELL}
TRADING_STATES = {
    pb.TRADING_STATE_ACTIVE: ec.TS_ACTIVE,
    pb.TRADING_STATE_REDUCING: ec.TS_REDUCING,
    pb.TRADING_STATE_HALTED: ec.TS_HALTED,
}
LIMIT_IDS = {name: lid for lid, name in ec.LIMIT_NAMES.items()}
_NOTIONAL = {
    ec.L_MAX_ORDER_NOTIONAL,
    ec.L_MAX_POSITION_NOTIONAL,
    ec.L_MAX_VENUE_EXPOSURE,
    ec.L_EQUITY,
    ec.L_DAILY_LOSS_REDUCE,
    ec.L_DAILY_LOSS_HALT,
}
_LOTS = {ec.L_MAX_ORDER_QTY, ec.L_MAX_POSITION_QTY}


def _row(
    kind: int,
    flags: int = 0,
    venue: int = 0,
    market: int = 0,
    account: int = 0,
    instrument: int = 0,
    coid: int = 0,
    ref_id: int = 0,
    price: int = 0,
    qty: int = 0,
    trigger: int = 0,
    trail: int = 0,
    side: int = 0,
    otype: int = 0,
    tif: int = 0,
    expire_ns: int = 0,
    param_id: int = 0,
    param_scope: int = 0,
    param_value: int = 0,
) -> list[Any]:
    """A COMMAND row as a list in field order; `ts_ns` (12) and `seq` (13) are filled at publish time."""
    return [
        kind,
        flags,
        venue,
        market,
        account,
        instrument,
        coid,
        ref_id,
        price,
        qty,
        trigger,
        trail,
        0,
        0,
        side,
        otype,
        tif,
        r.CONT_NONE,
        SOURCE_GATEWAY,
        expire_ns,
        param_id,
        param_scope,
        param_value,
        (0, 0),
    ]


class Resolved:
    __slots__ = ("inst", "market", "market_id", "prec", "venue", "venue_id")

    def __init__(self, inst: Any) -> None:
        self.inst = inst
        self.venue = venue_name(inst)
        self.market = market_name(inst)
        self.venue_id = ids.VENUES.get(self.venue, 0)
        self.market_id = ids.MARKETS.get(self.market, 0)
        self.prec = Precision(inst.tick_size, inst.lot_size)


class Resolver:
    """Symbol text -> instrument (cached), accepting the unified and the venue forms."""

    def __init__(self, registry: Instruments, reload: Any = None, reload_every_s: float = 1.0) -> None:
        self.registry = registry
        self._reload = reload  # () -> a fresh registry (the shared file grew), at most every reload_every_s
        self._reload_every = reload_every_s
        self._reloaded = time.monotonic()
        self._cache: dict[tuple[str, str, str], Resolved] = {}
        self._by_id: dict[int, Resolved] = {}
        try:
            self._takes_market = "market" in inspect.signature(registry.resolve).parameters
        except (TypeError, ValueError):
            self._takes_market = False

    def resolve(self, venue: str, market: str, symbol: str, path: str) -> Resolved:
        key = (venue, market, symbol)
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        v = text(venue, f"{path}venue", required=True).lower()
        if v not in ids.VENUES:
            raise invalid(f"{path}venue", f"unknown venue {v!r}; use one of {', '.join(sorted(ids.VENUES))}")
        m = text(market, f"{path}market").lower()
        if m and m not in ids.MARKETS:
            raise invalid(
                f"{path}market",
                f"unknown market {m!r}; use one of {', '.join(sorted(ids.MARKETS))} or leave empty",
            )
        s = text(symbol, f"{path}symbol", required=True)
        inst = self._lookup(s, v, m, path)
        if inst is None and self._maybe_reload():
            inst = self._lookup(s, v, m, path)
        if inst is None:
            raise invalid(
                f"{path}symbol",
                f"unknown symbol {s!r} on {v}{'/' + m if m else ''}; use the unified "
                "form like 'BTC/USDT' or the venue form like 'BTCUSDT'",
            )
        res = self._by_id.get(int(inst.id)) or Resolved(inst)
        if m and res.market != m:
            raise invalid(f"{path}market", f"symbol {s!r} on {v} is a {res.market} instrument, not {m}")
        self._by_id[int(inst.id)] = res
        if len(self._cache) < 50_000:
            self._cache[key] = res
        return res

    def _lookup(self, s: str, v: str, m: str, path: str) -> Any:
        from oms.errors import OmsError

        if self._takes_market:  # the venues room's registry: resolve(text, venue, market)
            try:
                return self.registry.resolve(s, v, m or None)
            except OmsError as e:
                if "ambiguous" in str(e):
                    raise invalid(f"{path}market", f"{e.message}") from None
                return None
        # with a market, the exchange key form ("binance_usdm") first: venue symbols repeat across markets
        for venue in (f"{v}_{m}", v) if m else (v,):
            try:
                inst = self.registry.resolve(s, venue)
            except (OmsError, KeyError, ValueError):
                inst = None
            if inst is not None:
                return inst
        return None

    def _maybe_reload(self) -> bool:
        now = time.monotonic()
        if self._reload is None or now - self._reloaded < self._reload_every:
            return False
        self._reloaded = now
        try:
            self.registry = self._reload()
        except Exception as e:  # a half-written file must not break lookups that worked
            from oms import log

            log.get(__name__).warning("instrument registry reload failed: %s", e)
            return False
        return True

    def by_id(self, iid: int) -> Resolved | None:
        res = self._by_id.get(iid)
        if res is None:
            try:
                inst = self.registry.by_id(iid)
            except Exception:
                inst = None
            if inst is None and self._maybe_reload():
                try:
                    inst = self.registry.by_id(iid)
                except Exception:
                    return None
            if inst is None:
                return None
            res = self._by_id[iid] = Resolved(inst)
        return res


def text(value: str, field: str, *, required: bool = False, max_len: int = MAX_TEXT) -> str:
    if required and not value:
        raise invalid(field, "is required")
    if len(value) > max_len:
        raise invalid(field, f"is {len(value)} characters; at most {max_len} allowed")
    if value and (not value.isprintable() or value != value.strip()):
        raise invalid(field, "must be printable text without leading/trailing spaces")
    return value


def account(value: int, field: str) -> int:
    if not 1 <= value <= U32:
        raise invalid(
            field, f"{value} is not an account id; give the account id (>= 1) the token is scoped to"
        )
    return value


def _units(fn: Any, value: str, field: str) -> int:
    try:
        n = fn(value)
    except DecimalError as e:
        raise invalid(field, str(e)) from None
    if n > MAX_UNITS:
        raise invalid(
            field, f"{value[:40]} is {n} ticks/lots of the instrument; at most 2^53 ({MAX_UNITS}) allowed"
        )
    return n


def _min_qty(res: Resolved, qty: int, field: str) -> None:
    """The venue's minimum quantity filter (the tick/lot grid and min notional are checked elsewhere)."""
    mq = getattr(res.inst, "min_qty", None)
    if mq and Decimal(qty) * res.prec.lot < Decimal(mq):
        raise invalid(field, f"is below the venue's minimum quantity {Decimal(mq).normalize():f}")


def submit(req: pb.SubmitOrder, rs: Resolver, new_coid: Any, path: str = "") -> list[Any]:
    """Validate one SubmitOrder; returns its COMMAND row."""
    acct = account(req.account, f"{path}account")
    res = rs.resolve(req.venue, req.market, req.symbol, path)
    side = _SIDE.get(req.side)
    if side is None:
        raise invalid(f"{path}side", f"{req.side} is not a side; use SIDE_BUY or SIDE_SELL")
    otype = _TYPE.get(req.order_type)
    if otype is None:
        raise invalid(
            f"{path}order_type", f"{req.order_type} is not an order type; use ORDER_TYPE_LIMIT, ..."
        )
    tif = _TIF.get(req.time_in_force)
    if tif is None:
        raise invalid(
            f"{path}time_in_force", f"{req.time_in_force} is not a time in force; use GTC/IOC/FOK/GTX"
        )
    prec = res.prec
    qty = _units(prec.lots, req.quantity, f"{path}quantity") if req.quantity else 0
    if qty <= 0:
        raise invalid(
            f"{path}quantity",
            f"must be a positive decimal, a multiple of the lot size {prec.lot.normalize():f}",
        )
    _min_qty(res, qty, f"{path}quantity")
    price = 0
    if otype in _PRICED:
        if not req.price:
            raise invalid(f"{path}price", "is required for limit orders")
        price = _units(prec.ticks, req.price, f"{path}price")
        if price <= 0:
            raise invalid(f"{path}price", "must be > 0")
        min_notional = getattr(res.inst, "min_notional", None)
        if min_notional and Decimal(price) * prec.tick * Decimal(qty) * prec.lot < Decimal(min_notional):
            raise invalid(f"{path}quantity", f"price x quantity is below the minimum notional {min_notional}")
    elif req.price:
        raise invalid(
            f"{path}price", "must be empty for market, stop-market, take-profit-market and trailing orders"
        )
    trigger = 0
    if otype in _TRIGGERED:
        if not req.trigger_price:
            raise invalid(f"{path}trigger_price", "is required for stop and take-profit orders")
        trigger = _units(prec.ticks, req.trigger_price, f"{path}trigger_price")
        if trigger <= 0:
            raise invalid(f"{path}trigger_price", "must be > 0")
    elif req.trigger_price and otype != r.ORD_TRAILING_STOP_MARKET:
        raise invalid(f"{path}trigger_price", "is only for stop, take-profit and trailing orders")
    elif req.trigger_price:
        trigger = _units(prec.ticks, req.trigger_price, f"{path}trigger_price")
    trail = 0
    if otype == r.ORD_TRAILING_STOP_MARKET:
        if not req.trailing_offset:
            raise invalid(f"{path}trailing_offset", "is required for trailing-stop orders")
        trail = _units(prec.ticks, req.trailing_offset, f"{path}trailing_offset")
        if trail <= 0:
            raise invalid(f"{path}trailing_offset", "must be > 0")
    elif req.trailing_offset:
        raise invalid(f"{path}trailing_offset", "is only for ORDER_TYPE_TRAILING_STOP_MARKET")
    flags = 0
    if req.reduce_only:
        flags |= r.FLAG_REDUCE_ONLY
    if req.post_only or tif == r.TIF_GTX:
        if otype != r.ORD_LIMIT or tif in (r.TIF_IOC, r.TIF_FOK):
            raise invalid(f"{path}post_only", "post-only needs a LIMIT order with GTC or GTX time in force")
        flags |= r.FLAG_POST_ONLY
    if otype == r.ORD_MARKET and tif not in (r.TIF_GTC, r.TIF_IOC, r.TIF_FOK):
        raise invalid(f"{path}time_in_force", "market orders take IOC or FOK (or leave it unspecified)")
    if req.expire_time_ns:
        now = time.time_ns()
        if not now < req.expire_time_ns < now + 366 * 86400 * 10**9:
            raise invalid(f"{path}expire_time_ns", "must be 0 or a Unix time in ns within the next year")
    coid = req.client_order_id or new_coid()
    if coid > ec.MAX_COID:
        raise invalid(f"{path}client_order_id", f"{coid} is too large; use 1..{ec.MAX_COID} (2^48 - 1) or 0")
    return _row(
        r.SUBMIT_ORDER,
        flags,
        res.venue_id,
        res.market_id,
        acct,
        int(res.inst.id),
        coid,
        0,
        price,
        qty,
        trigger,
        trail,
        side,
        otype,
        tif,
        req.expire_time_ns,
    )


def _order_ref(req: Any, rs: Resolver, path: str) -> tuple[int, Resolved | None]:
    acct = account(req.account, f"{path}account")
    if req.client_order_id == 0:
        raise invalid(f"{path}client_order_id", "is required (the id returned when the order was submitted)")
    if req.client_order_id > ec.MAX_COID:
        raise invalid(
            f"{path}client_order_id", f"{req.client_order_id} is too large; ids are 1..{ec.MAX_COID}"
        )
    res = rs.resolve(req.venue, req.market, req.symbol, path) if (req.venue or req.symbol) else None
    return acct, res


def cancel(req: pb.CancelOrder, rs: Resolver, path: str = "") -> list[Any]:
    acct, res = _order_ref(req, rs, path)
    return _row(
        r.CANCEL_ORDER,
        0,
        res.venue_id if res else 0,
        res.market_id if res else 0,
        acct,
        int(res.inst.id) if res else 0,
        req.client_order_id,
        req.client_order_id,
    )


def modify(req: pb.ModifyOrder, rs: Resolver, path: str = "") -> list[Any]:
    acct, res = _order_ref(req, rs, path)
    if res is None:
        raise invalid(f"{path}symbol", "venue and symbol are required to modify (prices need the instrument)")
    if not req.price and not req.quantity:
        raise invalid(f"{path}price", "give a new price and/or a new quantity")
    price = _units(res.prec.ticks, req.price, f"{path}price") if req.price else 0
    qty = _units(res.prec.lots, req.quantity, f"{path}quantity") if req.quantity else 0
    if req.price and price <= 0:
        raise invalid(f"{path}price", "must be > 0")
    if req.quantity and qty <= 0:
        raise invalid(f"{path}quantity", "must be > 0")
    if qty:
        _min_qty(res, qty, f"{path}quantity")
    return _row(
        r.MODIFY_ORDER,
        0,
        res.venue_id,
        res.market_id,
        acct,
        int(res.inst.id),
        req.client_order_id,
        req.client_order_id,
        price,
        qty,
    )


def cancel_all(req: pb.CancelAll, rs: Resolver) -> list[Any]:
    acct = account(req.account, "account")
    venue = market = inst = 0
    if req.symbol:
        res = rs.resolve(req.venue, req.market, req.symbol, "")
        venue, market, inst = res.venue_id, res.market_id, int(res.inst.id)
    elif req.venue or req.market:
        v = text(req.venue, "venue", required=True).lower()
        if v not in ids.VENUES:
            raise invalid("venue", f"unknown venue {v!r}; use one of {', '.join(sorted(ids.VENUES))}")
        venue = ids.VENUES[v]
        m = text(req.market, "market").lower()
        if m and m not in ids.MARKETS:
            raise invalid("market", f"unknown market {m!r}; use one of {', '.join(sorted(ids.MARKETS))}")
        market = ids.MARKETS.get(m, 0)
    return _row(r.CANCEL_ALL, 0, venue, market, acct, inst)


def trading_state(req: pb.SetTradingState) -> list[Any]:
    state = TRADING_STATES.get(req.state)
    if state is None:
        raise invalid("state", f"{req.state} is not a trading state; use ACTIVE, REDUCING or HALTED")
    text(req.reason, "reason", max_len=256)
    scope = account(req.account, "account") if req.account else ec.SCOPE_ALL
    return _row(r.SET_TRADING_STATE, 0, 0, 0, req.account, 0, param_id=state, param_scope=scope)


def risk_limit(lim: pb.RiskLimit, rs: Resolver, path: str) -> list[Any]:
    lid = LIMIT_IDS.get(lim.name)
    if lid is None:
        raise invalid(
            f"{path}name", f"unknown limit {lim.name[:40]!r}; use one of {', '.join(sorted(LIMIT_IDS))}"
        )
    if not lim.value:
        raise invalid(f"{path}value", "is required (a decimal >= 0)")
    try:
        value = parse_decimal(lim.value)
    except DecimalError as e:
        raise invalid(f"{path}value", str(e)) from None
    kind = ec.LIMIT_SCOPE[lid]
    venue = inst = 0
    res = None
    if kind == ec.SCOPE_INSTRUMENT:
        if not lim.symbol:
            raise invalid(f"{path}symbol", f"limit {lim.name} is per instrument: give venue and symbol")
        res = rs.resolve(lim.venue, lim.market, lim.symbol, path)
        scope, venue, inst = int(res.inst.id), res.venue_id, int(res.inst.id)
    elif kind == ec.SCOPE_VENUE:
        v = text(lim.venue, f"{path}venue", required=True).lower()
        if v not in ids.VENUES:
            raise invalid(f"{path}venue", f"unknown venue {v!r}; use one of {', '.join(sorted(ids.VENUES))}")
        scope = venue = ids.VENUES[v]
    else:
        scope = account(lim.account, f"{path}account") if lim.account else ec.SCOPE_ALL
    if lid in _LOTS:
        assert res is not None
        iv = _units(res.prec.lots, lim.value, f"{path}value")
    elif lid in _NOTIONAL:
        scaled = value * r.FEE_SCALE
        if scaled != scaled.to_integral_value():
            raise invalid(f"{path}value", "has more than 8 decimal places")
        iv = int(scaled)
    else:
        if value != value.to_integral_value():
            raise invalid(f"{path}value", f"limit {lim.name} takes a whole number")
        iv = int(value)
    if iv > ec.NO_LIMIT:
        raise invalid(f"{path}value", "is too large")
    return _row(
        r.SET_RISK_LIMIT, 0, venue, 0, lim.account, inst, param_id=lid, param_scope=scope, param_value=iv
    )
