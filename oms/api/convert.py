"""Gateway room (oms/api): EVENT tuples and state views -> proto messages (decimal strings).

Touches nothing. Prices/quantities leave as decimal strings with the instrument's precision.
"""

from __future__ import annotations

from decimal import Decimal

from oms.api.gen.oms.v1 import types_pb2 as pb
from oms.api.state import (
    E_ACCOUNT,
    E_COID,
    E_CUM,
    E_FEE,
    E_INSTRUMENT,
    E_KIND,
    E_LEAVES,
    E_OTYPE,
    E_PRICE,
    E_QTY,
    E_REASON,
    E_REF_SEQ,
    E_SEQ,
    E_SIDE,
    E_STATUS,
    E_TRADE,
    E_TS,
    E_TS_VENUE,
    E_VOID,
    OrderView,
    PositionView,
)
from oms.api.validation import Resolver
from oms.engine import constants as ec
from oms.shm import records as r

SIDE_PB = {r.SIDE_BUY: pb.SIDE_BUY, r.SIDE_SELL: pb.SIDE_SELL}
FEE = Decimal(r.FEE_SCALE)


def _fmt(d: Decimal) -> str:
    s = f"{d:f}"
    if "." in s:
        s = s.rstrip("0").rstrip(".")
    return s or "0"


def event(e: tuple, rs: Resolver) -> pb.OrderEvent:
    res = rs.by_id(e[E_INSTRUMENT])
    m = pb.OrderEvent(
        kind=e[E_KIND],
        account=e[E_ACCOUNT],
        client_order_id=e[E_COID],
        venue_order_id=e[E_VOID],
        side=SIDE_PB.get(e[E_SIDE], 0),
        order_type=e[E_OTYPE] if 0 < e[E_OTYPE] <= 7 else 0,
        trade_id=e[E_TRADE],
        reason=e[E_REASON],
        status=e[E_STATUS],
        ts_ns=e[E_TS],
        ts_venue_ns=e[E_TS_VENUE],
        seq=e[E_SEQ],
        ref_seq=e[E_REF_SEQ],
        instrument_id=e[E_INSTRUMENT],
    )
    if res is not None:
        p = res.prec
        m.venue, m.market, m.symbol = res.venue, res.market, res.inst.unified
        m.price, m.quantity = p.price(e[E_PRICE]), p.qty(e[E_QTY])
        m.cum_quantity, m.leaves_quantity = p.qty(e[E_CUM]), p.qty(e[E_LEAVES])
    else:
        m.price, m.quantity = str(e[E_PRICE]), str(e[E_QTY])
        m.cum_quantity, m.leaves_quantity = str(e[E_CUM]), str(e[E_LEAVES])
    if e[E_FEE]:
        m.fee = _fmt(Decimal(e[E_FEE]) / FEE)
    return m


def order(o: OrderView, rs: Resolver) -> pb.Order:
    res = rs.by_id(o.instrument)
    m = pb.Order(
        account=o.account,
        client_order_id=o.client_order_id,
        venue_order_id=o.venue_order_id,
        side=SIDE_PB.get(o.side, 0),
        order_type=o.order_type if 0 < o.order_type <= 7 else 0,
        last_event=o.last_kind,
        status=o.status,
        updated_ns=o.updated_ns,
        open=o.open,
    )
    if res is not None:
        p = res.prec
        m.venue, m.market, m.symbol = res.venue, res.market, res.inst.unified
        m.price, m.quantity = p.price(o.price), p.qty(o.qty)
        m.cum_quantity, m.leaves_quantity = p.qty(o.cum_qty), p.qty(o.leaves_qty)
    return m


_MODES = {r.MARGIN_CROSS: pb.MARGIN_MODE_CROSS, r.MARGIN_ISOLATED: pb.MARGIN_MODE_ISOLATED}


def position(pv: PositionView, rs: Resolver, futures: tuple | None = None) -> pb.Position:
    """One position; `futures` = the venue's last settings report for the instrument (state.futures)."""
    res = rs.by_id(pv.instrument)
    m = pb.Position(account=pv.account)
    if res is None:
        m.quantity = str(pv.qty)
        return m
    p = res.prec
    m.venue, m.market, m.symbol = res.venue, res.market, res.inst.unified
    m.quantity = _fmt(Decimal(pv.qty) * p.lot)
    m.avg_price = (
        _fmt((pv.avg_price_ticks() * p.tick).quantize(p.tick / 10**6).normalize()) if pv.qty else "0"
    )
    m.realized_pnl = _fmt(Decimal(pv.realized) * p.tick * p.lot)
    m.fees = _fmt(Decimal(sum(pv.fees.values())) / FEE)
    if futures is not None:
        lev = int(futures[E_CUM])
        m.leverage = _fmt(Decimal(lev) / 100)
        m.margin_mode = _MODES.get(int(futures[E_OTYPE]), pb.MARGIN_MODE_UNSPECIFIED)
        m.liquidation_price = p.price(int(futures[E_PRICE])) if futures[E_PRICE] else ""
        m.settings_ts_ns = int(futures[E_TS])
        if int(futures[E_QTY]) == pv.qty:  # this account holds the whole venue position: the venue's margin
            m.margin = _fmt(Decimal(int(futures[E_FEE])) / FEE)
        else:
            m.margin = _fmt(abs(Decimal(pv.cost)) * p.tick * p.lot * 100 / lev) if lev > 0 else ""
    return m


def balances(positions: list[PositionView], rs: Resolver, account: int, venue: str) -> list[pb.Balance]:
    """Net change per asset from the fills seen: spot moves base and quote; derivatives realize PnL."""
    acc: dict[tuple[str, str], Decimal] = {}
    for pv in positions:
        res = rs.by_id(pv.instrument)
        if res is None or (venue and res.venue != venue):
            continue
        inst, p = res.inst, res.prec
        if res.market == "spot":
            base, quote = getattr(inst, "base", ""), getattr(inst, "quote", "")
            bought_cost = Decimal(pv.cost - pv.realized) * p.tick * p.lot  # cost of open qty minus realized
            acc[(res.venue, base)] = acc.get((res.venue, base), Decimal(0)) + Decimal(pv.qty) * p.lot
            acc[(res.venue, quote)] = acc.get((res.venue, quote), Decimal(0)) - bought_cost
        else:
            settle = getattr(inst, "settle", "") or getattr(inst, "quote", "")
            pnl = Decimal(pv.realized) * p.tick * p.lot * Decimal(getattr(inst, "contract_size", 1) or 1)
            acc[(res.venue, settle)] = acc.get((res.venue, settle), Decimal(0)) + pnl
    return [
        pb.Balance(account=account, venue=v, asset=a, change=_fmt(d)) for (v, a), d in sorted(acc.items())
    ]


def ack(request_id: int, coid: int, seq: int, e: tuple | None) -> pb.OrderAck:
    if e is None:
        return pb.OrderAck(request_id=request_id, client_order_id=coid, command_seq=seq)
    return pb.OrderAck(
        request_id=request_id,
        client_order_id=e[E_COID] or coid,
        kind=e[E_KIND],
        reason=e[E_REASON],
        command_seq=seq,
    )


def reason_text(code: int) -> str:
    return ec.reason_name(code)
