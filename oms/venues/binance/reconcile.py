"""Binance connector room: reconciliation — the venue's orders, fills, balances and positions vs ours.

Touches the venue through `VenueRest` (reads; cancels only for `on_unknown_order = "cancel"`) and the
exec ring through the `Executor`. Runs at start and after every user-stream (re)connect, per market:

1. open orders at the venue: ours and known → a missing accept is replayed; ours but unknown to the
   journal, or not ours at all → "unknown order", reported and by policy adopted (tracked, its events
   forwarded) or cancelled;
2. orders we think are open but the venue does not list → queried by client id for their end state;
3. recent fills (`myTrades` / `userTrades` since the oldest order we track) → every trade of one of
   our orders whose trade id the journal lacks is replayed as OrderFilled with FLAG_REPLAY;
4. then the end states found in 2 are replayed (after their fills, as the engine expects);
5. balances (spot) and positions (USD-M) are read; a position that differs from the net of the fills
   we reported is drift: logged and counted (`drift_lots`).
Orders with a request in flight are skipped (their answer is on its way). Everything counted in
`ReconStats` goes to the stats snapshot / monitor (`recon_drift_orders`, `recon_drift_lots`).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from oms import log
from oms.conn.journal import Tracked
from oms.errors import OmsError
from oms.shm import records as R
from oms.venues.binance.execution import Executor, _e8, parse_cid, wire_cid

_log = log.get(__name__)
_END = {
    "CANCELED": R.ORDER_CANCELED,
    "EXPIRED": R.ORDER_EXPIRED,
    "EXPIRED_IN_MATCH": R.ORDER_EXPIRED,
    "REJECTED": R.ORDER_REJECTED,
}


@dataclass(slots=True)
class ReconStats:
    runs: int = 0
    failures: int = 0
    replayed_fills: int = 0
    replayed_acks: int = 0
    replayed_ends: int = 0
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
        if market == "spot":
            opens = await self.rest.call("spot", "get_open_orders", weight=80)
        else:
            opens = list(await self.rest.call("usdm", "futures_get_open_orders", weight=40))
            try:
                for a in await self.rest.call("usdm", "futures_get_open_algo_orders", weight=40):
                    opens.append(
                        {
                            **a,
                            "clientOrderId": a.get("clientAlgoId", ""),
                            "orderId": a.get("algoId", 0),
                            "status": "NEW",
                            "executedQty": "0",
                            "_algo": True,
                        }
                    )
            except OmsError as e:
                _log.info("usdm open algo orders unavailable: %s", e)
        open_cids: set[str] = set()
        for o in opens:
            cid = str(o.get("clientOrderId", ""))
            open_cids.add(cid)
            t = j.find_cid(cid)
            if t is None:
                drift += 1
                await self._unknown(market, o)
                continue
            if self._busy(t):
                continue
            if not t.accepted:
                self.stats.replayed_acks += 1
                drift += 1
                await ex.accepted(t, int(o.get("orderId") or 0), flags)
            elif int(o.get("orderId") or 0) and not o.get("_algo"):
                t.venue_oid = int(o["orderId"])
            if t.terminal:
                drift += 1
                _log.warning(
                    "order %d: ended here (%s) but open at the venue",
                    t.oms_id,
                    R.KIND_NAMES.get(t.terminal, t.terminal),
                )
        # 2. ours-open that the venue does not list
        ends: list[tuple[Tracked, str]] = []
        for t in [t for t in j.open_orders() if t.market == market and t.cid not in open_cids]:
            if self._busy(t):
                continue
            q = await ex.query(t)
            if q is None:
                if not t.accepted:
                    drift += 1
                    await ex.ended(t, R.ORDER_REJECTED, reason=-2013, flags=flags)
                    self.stats.replayed_ends += 1
                continue
            oid = int(q.get("orderId") or 0)
            if oid:
                t.venue_oid = oid
            if not t.accepted:
                drift += 1
                self.stats.replayed_acks += 1
                await ex.accepted(t, oid, flags)
            st = str(q.get("status", q.get("algoStatus", "")))
            if st in _END or st == "FILLED":
                ends.append((t, st))
        # 3. fills
        replayed = await self._fills(market, flags)
        drift += replayed
        # 4. end states after their fills
        for t, st in ends:
            if st == "FILLED" or t.terminal:
                continue
            drift += 1
            self.stats.replayed_ends += 1
            await ex.ended(t, _END[st], flags=flags)
        # 5. balances / positions
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

    async def _unknown(self, market: str, o: dict[str, Any]) -> None:
        cid = str(o.get("clientOrderId", ""))
        self.stats.unknown_orders += 1
        inst = self.ex.instruments.find(market, str(o.get("symbol", "")))
        _log.warning(
            "%s unknown open order %s %s (%s): policy %s",
            market,
            o.get("symbol"),
            o.get("orderId"),
            cid,
            self.on_unknown,
        )
        if self.on_unknown == "cancel":
            try:
                if o.get("_algo"):
                    await self.rest.call(
                        "usdm", "futures_cancel_algo_order", symbol=o["symbol"], algoId=o["orderId"]
                    )
                elif market == "spot":
                    await self.rest.call("spot", "cancel_order", symbol=o["symbol"], orderId=o["orderId"])
                else:
                    await self.rest.call(
                        "usdm", "futures_cancel_order", symbol=o["symbol"], orderId=o["orderId"]
                    )
                self.stats.cancelled_unknown += 1
            except OmsError as e:
                _log.error("could not cancel unknown order %s: %s", o.get("orderId"), e)
        elif self.on_unknown == "adopt" and inst is not None:
            parsed = parse_cid(cid)
            oms_id = parsed[0] if parsed else int(o.get("orderId") or 0) | (1 << 62)
            if oms_id in self.ex.journal.orders:
                return
            side = R.SIDE_BUY if o.get("side") == "BUY" else R.SIDE_SELL
            t = Tracked(
                oms_id=oms_id,
                market=market,
                symbol=inst.symbol,
                instrument=inst.id,
                side=side,
                order_type=R.ORD_LIMIT if o.get("type") == "LIMIT" else R.ORD_MARKET,
                price=inst.to_ticks(o.get("price") or "0") if Decimal(o.get("price") or "0") else 0,
                qty=inst.to_lots(o.get("origQty") or "0"),
                cid=cid or wire_cid(oms_id),
                venue_oid=int(o.get("orderId") or 0),
                created_ms=int(o.get("time") or time.time() * 1000),
                adopted=True,
                algo=bool(o.get("_algo")),
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
            start = max(start, now_ms - 86_400_000 + 1000)  # the venue allows a 24 h window
            if market == "spot":
                trades = await self.rest.call(
                    "spot", "get_my_trades", weight=20, symbol=sym, startTime=start, limit=1000
                )
            else:
                trades = await self.rest.call(
                    "usdm", "futures_account_trades", weight=5, symbol=sym, startTime=start, limit=1000
                )
            inst = self.ex.instruments.find(market, sym)
            if inst is None:
                continue
            for tr in sorted(trades, key=lambda x: int(x["id"])):
                t = by_oid.get(int(tr["orderId"]))
                if t is None or int(tr["id"]) in t.trades:
                    continue
                maker = bool(tr.get("isMaker", tr.get("maker", False)))
                if await self.ex.fill(
                    t,
                    int(tr["id"]),
                    inst.to_ticks(tr["price"]),
                    inst.to_lots(tr["qty"]),
                    _e8(tr.get("commission", "0")),
                    maker,
                    int(tr.get("time", 0)),
                    flags,
                ):
                    n += 1
                    self.stats.replayed_fills += 1
        return n

    async def _balances(self, market: str) -> int:
        try:
            if market == "spot":
                acct = await self.rest.call("spot", "get_account", weight=20)
                self.stats.balances["spot"] = {
                    b["asset"]: b["free"]
                    for b in acct.get("balances", [])
                    if Decimal(b["free"]) or Decimal(b["locked"])
                }
                return 0
            rows = await self.rest.call("usdm", "futures_position_information", weight=5)
        except OmsError as e:
            _log.warning("%s balances/positions unavailable: %s", market, e)
            return 0
        drift = 0
        net: dict[str, int] = {}
        for t in self.ex.journal.orders.values():
            if t.market == "usdm" and t.cum:
                net[t.symbol] = net.get(t.symbol, 0) + t.side * t.cum
        for r in rows:
            sym = str(r.get("symbol", ""))
            self.stats.positions[sym] = str(r.get("positionAmt", "0"))
            inst = self.ex.instruments.find("usdm", sym)
            if inst is None or sym not in net:
                continue
            try:
                venue_lots = inst.to_lots(r.get("positionAmt", "0"))
            except ValueError:
                continue
            d = abs(venue_lots - net[sym])
            if d:
                _log.warning("usdm %s position: venue %s lots, our fills %s lots", sym, venue_lots, net[sym])
            drift += d
        return drift
