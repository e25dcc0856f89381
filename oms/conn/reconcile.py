"""Connector room: reconciliation — the venue's orders, fills, balances, positions vs ours (venue is truth).

Venue-neutral: reads go through the adapter's execution client. Touches the venue through `VenueRest`
(reads; cancels for `on_unknown_order = "cancel"` and for cancels journaled before a crash) and the
exec ring through the `Executor`. Runs at start, after every user-stream (re)connect and periodically,
per market:

1. open orders at the venue: ours and known → a missing accept is replayed; ours but unknown to the
   journal, or not ours at all → "unknown order", reported and by policy adopted (tracked, its events
   forwarded) or cancelled;
2. journaled orders the venue does not list → queried by client id: this is where every journaled order
   without an answer (sent, then the process died) is resolved — by query, never by a resend;
3. recent fills (since the oldest order we track) → every trade of one of our orders whose trade id
   the journal lacks is replayed as OrderFilled with FLAG_REPLAY;
4. then the end states found in 2 are replayed (after their fills, as the engine expects);
5. cancels journaled (write-ahead) for orders still open are sent again (a cancel is idempotent);
6. balances and positions are read; a position that differs from the net of the fills we reported
   is drift: logged and counted (`drift_lots`).
Orders with a request in flight are skipped (their answer is on its way).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from decimal import Decimal

from oms import log
from oms.conn.executor import E_NOT_EXIST, Executor, _e8
from oms.conn.journal import Tracked
from oms.errors import OmsError
from oms.shm import records as R
from oms.venues.interface import OrderAnswer

_log = log.get(__name__)
_END = {"canceled": R.ORDER_CANCELED, "expired": R.ORDER_EXPIRED, "rejected": R.ORDER_REJECTED}


@dataclass(slots=True)
class ReconStats:
    runs: int = 0
    failures: int = 0
    replayed_fills: int = 0
    replayed_acks: int = 0
    replayed_ends: int = 0
    resent_cancels: int = 0
    unknown_orders: int = 0
    adopted: int = 0
    cancelled_unknown: int = 0
    drift_orders: int = 0  # at the last run
    drift_lots: int = 0  # at the last run
    drift_total: int = 0  # every run
    last_run_ms: int = 0
    last_error: str = ""
    balances: dict[str, dict[str, str]] = field(default_factory=dict)
    positions: dict[str, str] = field(default_factory=dict)


class Reconciler:
    def __init__(self, ex: Executor, *, on_unknown: str = "report", lookback_s: float = 86400.0) -> None:
        self.ex = ex
        self.x = ex.x
        self.rest = ex.rest
        self.on_unknown = on_unknown
        self.lookback_s = lookback_s
        self.stats = ReconStats()
        self._locks: dict[str, asyncio.Lock] = {}

    async def run(self, market: str) -> None:
        lock = self._locks.setdefault(market, asyncio.Lock())
        async with lock:
            try:
                await self._run(market)
                self.stats.runs += 1
                self.stats.last_run_ms = int(time.time() * 1000)
            except OmsError as e:
                self.stats.failures += 1
                self.stats.last_error = str(e)
                _log.error("%s reconciliation failed: %s", market, e)

    def _busy(self, t: Tracked) -> bool:
        lk = self.ex._locks.get(t.oms_id)
        return lk is not None and lk.locked()

    async def _run(self, market: str) -> None:
        ex, j = self.ex, self.ex.journal
        drift = 0
        flags = R.FLAG_REPLAY
        # 1. venue open orders
        open_cids: set[str] = set()
        for o in await self.x.open_orders(self.rest, market):
            open_cids.add(o.cid)
            t = ex.find(o.cid) if o.cid else None
            if t is None:
                drift += 1
                await self._unknown(market, o)
                continue
            if self._busy(t):
                continue
            if not t.accepted:
                self.stats.replayed_acks += 1
                drift += 1
                await ex.accepted(t, o.venue_oid, flags)
            elif o.venue_oid and not o.conditional:
                t.venue_oid = o.venue_oid
            if t.terminal:
                drift += 1
                _log.warning(
                    "order %d: ended here (%s) but open at the venue", t.oms_id, R.KIND_NAMES.get(t.terminal)
                )
        # 2. ours-open that the venue does not list (this resolves journaled orders without an answer)
        ends: list[tuple[Tracked, str]] = []
        for t in [t for t in j.open_orders() if t.market == market and t.cid not in open_cids]:
            if self._busy(t) or not t.symbol:
                continue
            q = await ex.query(t)
            if q is None:
                if not t.accepted:
                    drift += 1
                    await ex.ended(t, R.ORDER_REJECTED, reason=E_NOT_EXIST, flags=flags)
                    self.stats.replayed_ends += 1
                continue
            if q.venue_oid:
                t.venue_oid = q.venue_oid
            if not t.accepted:
                drift += 1
                self.stats.replayed_acks += 1
                await ex.accepted(t, q.venue_oid, flags)
            if q.status in _END or q.status == "filled":
                ends.append((t, q.status))
        # 3. fills
        drift += await self._fills(market, flags)
        # 4. end states after their fills
        for t, st in ends:
            if st == "filled" or t.terminal:
                continue
            drift += 1
            self.stats.replayed_ends += 1
            await ex.ended(t, _END[st], flags=flags)
        # 5. cancels taken from the ring before a crash, for orders still open
        for t in [t for t in j.open_orders() if t.market == market and t.cancel_wanted and t.accepted]:
            if not self._busy(t):
                self.stats.resent_cancels += 1
                await ex.locked_cancel(t)
        # 6. balances / positions
        lots = await self._balances(market)
        self.stats.drift_orders = drift
        self.stats.drift_lots = lots
        self.stats.drift_total += drift
        if drift or lots:
            _log.warning(
                "%s reconciliation: %d order differences, %d lots of position drift", market, drift, lots
            )
        else:
            _log.info("%s reconciliation: in step with the venue", market)

    async def _unknown(self, market: str, o: OrderAnswer) -> None:
        self.stats.unknown_orders += 1
        inst = self.ex.instruments.find(market, o.symbol)
        _log.warning(
            "%s unknown open order %s %s (%s): policy %s",
            market,
            o.symbol,
            o.venue_oid,
            o.cid,
            self.on_unknown,
        )
        if self.on_unknown == "cancel":
            try:
                await self.x.cancel_foreign(self.rest, market, o)
                self.stats.cancelled_unknown += 1
            except OmsError as e:
                _log.error("could not cancel unknown order %s: %s", o.venue_oid, e)
        elif self.on_unknown == "adopt" and inst is not None:
            parsed = self.ex.adapter.parse_client_id(o.cid)
            oms_id = parsed[0] if parsed else o.venue_oid | (1 << 62)
            if oms_id in self.ex.journal.orders:
                return
            t = Tracked(
                oms_id=oms_id,
                market=market,
                symbol=inst.symbol,
                instrument=inst.id,
                side=o.side,
                order_type=o.order_type,
                price=inst.to_ticks(o.price) if Decimal(o.price or "0") else 0,
                qty=inst.to_lots(o.qty or "0"),
                cid=o.cid or self.ex.adapter.client_id(oms_id, 0),
                venue_oid=o.venue_oid,
                created_ms=o.ts_ms or int(time.time() * 1000),
                adopted=True,
                algo=o.conditional,
            )
            self.ex.journal.add(t)
            self.stats.adopted += 1
            await self.ex.accepted(t, t.venue_oid, R.FLAG_REPLAY)

    async def _fills(self, market: str, flags: int) -> int:
        j = self.ex.journal
        now_ms = int(time.time() * 1000)
        horizon = now_ms - int(self.lookback_s * 1000)
        by_symbol: dict[str, list[Tracked]] = {}
        for t in j.orders.values():
            if t.market == market and t.venue_oid and (not t.terminal or t.ended_ms >= horizon):
                by_symbol.setdefault(t.symbol, []).append(t)
        n = 0
        for sym, ts in by_symbol.items():
            by_oid = {t.venue_oid: t for t in ts}
            by_oid.update({o: t for t in ts for o in t.old_oids})  # fills made before a cancel-replace
            start = max(horizon, min(t.created_ms for t in ts) - 1000)
            start = max(start, now_ms - 86_400_000 + 1000)  # venues allow a 24 h window
            inst = self.ex.instruments.find(market, sym)
            if inst is None:
                continue
            trades = await self.x.trades(self.rest, market, sym, start)
            for tr in sorted(trades, key=lambda x: x.trade_id):
                t = by_oid.get(tr.venue_oid)
                if t is None or tr.trade_id in t.trades:
                    continue
                if await self.ex.fill(
                    t,
                    tr.trade_id,
                    inst.to_ticks(tr.price),
                    inst.to_lots(tr.qty),
                    _e8(tr.fee),
                    tr.maker,
                    tr.ts_ms,
                    flags,
                ):
                    n += 1
                    self.stats.replayed_fills += 1
        return n

    async def _balances(self, market: str) -> int:
        try:
            bal = await self.x.balances(self.rest, market)
            pos = await self.x.positions(self.rest, market)
        except OmsError as e:
            _log.warning("%s balances/positions unavailable: %s", market, e)
            return 0
        if bal:
            self.stats.balances[market] = bal
        if not self.ex.adapter.capabilities[market].positions:
            return 0
        net: dict[str, int] = {}
        for t in self.ex.journal.orders.values():
            if t.market == market and t.cum:
                net[t.symbol] = net.get(t.symbol, 0) + t.side * t.cum
        drift = 0
        for sym, amt in pos.items():
            self.stats.positions[sym] = amt
            inst = self.ex.instruments.find(market, sym)
            if inst is None or sym not in net:
                continue
            try:
                venue_lots = inst.to_lots(amt)
            except ValueError:
                continue
            d = abs(venue_lots - net[sym])
            if d:
                _log.warning(
                    "%s %s position: venue %s lots, our fills %s lots", market, sym, venue_lots, net[sym]
                )
            drift += d
        return drift
