"""Gateway room (oms/api): the gateway's view of orders, positions and balance changes, built from events.

Touches nothing shared. Every EVENT the engine sends the gateway passes through `apply()` (as a tuple in
EVENT field order, see `E_*`), so GetOrder/ListOrders/GetPositions/GetBalances answer from memory
without a round trip to the engine. Positions use average cost in integer ticks x lots; realized PnL
is kept exact (integer tick*lot units) and shown with the instrument's precision. Balances are the net
change from fills this gateway has seen since it started (spot: base and quote; derivatives: realized
PnL in the settle asset), not the venue's absolute balance — the store room's cache holds that.
The table is bounded: beyond `max_orders`, the oldest terminal orders are dropped (then the oldest open).
At start `rebuild` replays the engine's event log (read only) so a restarted gateway forgets nothing;
an event about no order the engine knows (status none) never creates an order view.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from decimal import Decimal

from oms.engine import constants as ec
from oms.shm import records as r

# EVENT field positions in a `.tolist()` tuple
E_KIND, E_FLAGS, E_VENUE, E_MARKET, E_ACCOUNT, E_INSTRUMENT, E_COID, E_VOID = range(8)
E_PRICE, E_QTY, E_CUM, E_LEAVES, E_FEE, E_TRADE, E_TS_VENUE, E_TS, E_SEQ, E_REASON = range(8, 18)
E_SIDE, E_LIQ, E_OTYPE, E_STATUS, E_FEE_ASSET, E_SOURCE, E_REF_SEQ = range(18, 25)

_ORDER_KINDS = {
    r.ORDER_SUBMITTED,
    r.ORDER_ACCEPTED,
    r.ORDER_REJECTED,
    r.ORDER_FILLED,
    r.ORDER_CANCELED,
    r.ORDER_MODIFIED,
    r.ORDER_EXPIRED,
    r.ORDER_TRIGGERED,
    r.CANCEL_REJECTED,
    r.MODIFY_REJECTED,
}


_REFUSALS = {r.ORDER_REJECTED, r.CANCEL_REJECTED, r.MODIFY_REJECTED}


@dataclass(slots=True)
class OrderView:
    account: int
    instrument: int
    client_order_id: int
    side: int
    order_type: int
    price: int
    qty: int
    cum_qty: int = 0
    leaves_qty: int = 0
    venue_order_id: int = 0
    last_kind: int = 0
    status: int = ec.ST_PENDING_NEW
    updated_ns: int = 0

    @property
    def open(self) -> bool:
        return self.status not in ec.TERMINAL and self.status != ec.ST_NONE


@dataclass(slots=True)
class PositionView:
    account: int
    instrument: int
    qty: int = 0  # signed lots
    cost: int = 0  # signed ticks*lots of the open quantity
    realized: int = 0  # ticks*lots
    fees: dict[int, int] = field(default_factory=dict)  # fee asset -> FEE_SCALE units

    def avg_price_ticks(self) -> Decimal:
        return Decimal(self.cost) / Decimal(self.qty) if self.qty else Decimal(0)


class OrderState:
    """Orders keyed by (account, client_order_id): an id is unique per account, so two accounts may use
    the same id and never see each other's order."""

    def __init__(self, max_orders: int = 200_000) -> None:
        self.orders: OrderedDict[tuple[int, int], OrderView] = OrderedDict()
        self.positions: dict[tuple[int, int], PositionView] = {}
        # the venue's futures settings per instrument (the last LeverageChanged / MarginModeChanged /
        # PositionReport it applied): leverage, margin mode, liquidation price, position and margin
        self.futures: dict[int, tuple] = {}
        self.max_orders = max_orders
        self._seen_trades: set[tuple[int, int]] = set()
        self.dropped_open = 0

    def submitted(self, row: list[int]) -> None:
        """Record an order the gateway just sent (COMMAND row), so it is visible before the engine answers."""
        coid = row[6]
        key = (row[4], coid)
        if key not in self.orders:
            self.orders[key] = OrderView(
                row[4], row[5], coid, row[14], row[15], row[8], row[9], 0, row[9], updated_ns=row[12]
            )
            self._trim()

    def apply(self, e: tuple) -> None:
        kind = e[E_KIND]
        if kind in r.FUTURES_REPORTS:
            if e[E_STATUS] == 1 and e[E_CUM] > 0:
                self.futures[e[E_INSTRUMENT]] = e
            return
        if kind not in _ORDER_KINDS or not e[E_COID]:
            return
        if e[E_REASON] == ec.R_DUPLICATE_CLIENT_ORDER_ID:
            return  # the answer to a repeated id: the existing order did not change
        coid = e[E_COID]
        key = (e[E_ACCOUNT], coid)
        o = self.orders.get(key)
        if o is None:
            if e[E_STATUS] == ec.ST_NONE:
                return  # about no order the engine knows (a refusal, an unknown id's venue event): no ghost
            o = OrderView(e[E_ACCOUNT], e[E_INSTRUMENT], coid, e[E_SIDE], e[E_OTYPE], 0, 0)
            self.orders[key] = o
            self._trim()
        o.last_kind = kind
        if e[E_STATUS]:
            o.status = e[E_STATUS]
        o.updated_ns = e[E_TS]
        if e[E_VOID]:
            o.venue_order_id = e[E_VOID]
        if kind == r.ORDER_FILLED:
            o.cum_qty, o.leaves_qty = e[E_CUM], e[E_LEAVES]
            self._fill(e)
        elif kind in (r.ORDER_ACCEPTED, r.ORDER_SUBMITTED, r.ORDER_MODIFIED, r.ORDER_TRIGGERED):
            if e[E_PRICE]:
                o.price = e[E_PRICE]
            if e[E_QTY]:
                o.qty = e[E_QTY]
            o.cum_qty, o.leaves_qty = e[E_CUM], e[E_LEAVES]
        elif kind in (r.ORDER_CANCELED, r.ORDER_REJECTED, r.ORDER_EXPIRED):
            o.leaves_qty = 0
            if kind == r.ORDER_REJECTED and not e[E_STATUS]:
                o.status = ec.ST_REJECTED  # refused before it got a slot (invalid, unknown account...)

    def _fill(self, e: tuple) -> None:
        key = (e[E_INSTRUMENT], e[E_TRADE])
        if e[E_TRADE]:
            if key in self._seen_trades:
                return
            self._seen_trades.add(key)
            if len(self._seen_trades) > 1_000_000:
                self._seen_trades.clear()
        pos = self.positions.get((e[E_ACCOUNT], e[E_INSTRUMENT]))
        if pos is None:
            pos = self.positions[(e[E_ACCOUNT], e[E_INSTRUMENT])] = PositionView(
                e[E_ACCOUNT], e[E_INSTRUMENT]
            )
        q = e[E_QTY] * (1 if e[E_SIDE] >= 0 else -1)
        px = e[E_PRICE]
        if pos.qty == 0 or (pos.qty > 0) == (q > 0):
            pos.qty += q
            pos.cost += q * px
        else:
            closing = min(abs(q), abs(pos.qty))
            sign = 1 if pos.qty > 0 else -1
            avg_cost_closed = pos.cost * closing // abs(pos.qty)
            pos.realized += sign * (closing * px) - avg_cost_closed
            pos.cost -= avg_cost_closed
            pos.qty += q
            rest = abs(q) - closing
            if pos.qty == 0:
                pos.cost = 0
            elif rest:
                pos.cost = pos.qty * px
        if e[E_FEE]:
            pos.fees[e[E_FEE_ASSET]] = pos.fees.get(e[E_FEE_ASSET], 0) + e[E_FEE]

    def _trim(self) -> None:
        """Keep at most `max_orders`: when over, cut to 90% (amortised O(1) per order), dropping the
        oldest terminal orders first and then, if every order is open, the oldest open ones (they stay
        known to the engine; this view just forgets them, counted in `dropped_open`)."""
        if len(self.orders) <= self.max_orders:
            return
        excess = len(self.orders) - int(self.max_orders * 0.9)
        done = [k for k, o in self.orders.items() if not o.open][:excess]
        for key in done:
            del self.orders[key]
        excess -= len(done)
        while excess > 0:
            self.orders.popitem(last=False)
            self.dropped_open += 1
            excess -= 1


def rebuild(state: OrderState, event_log: str) -> int:
    """Orders and positions as they were before this gateway (re)started: every committed event of the
    engine's write-ahead log (oms/engine/wal.py, same host, read only) through `apply`, before the live
    events. An event also still in the gateway ring is applied twice harmlessly (statuses are absolute,
    fills de-duplicated by trade id). Returns how many events were read."""
    from oms.engine.wal import read_committed

    start = 0
    while True:
        ev = read_committed(event_log, start, 1 << 20)
        if not len(ev):
            return start
        for e in ev.tolist():
            state.apply(e)
        start += len(ev)
