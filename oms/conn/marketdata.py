"""Connector room: one market's depth, trade and mark streams → book deltas, trades, marks and BBO
(md ring and BBO table). Venue-neutral: the adapter's data client gives the stream URL, parses payloads,
fetches snapshots and names its book sequencing rule.

Touches one WebSocket per market, the REST depth snapshot (through the adapter and `VenueRest`, so it
counts against the shared budget), the market data ring (`emit`) and the shared BBO table
(`bbo.write`). Each symbol's book is kept by `oms.conn.booksync.BookSync` with the venue's rule; a gap
resets the book and fetches a new snapshot. What goes to the ring:

- after a snapshot: MD_DELTA records for every level, the first flagged MD_FLAG_CLEAR (consumers
  drop the instrument's book), the last MD_FLAG_LAST;
- after each applied diff: one MD_DELTA per changed level (qty 0 removes), the last MD_FLAG_LAST;
- then an MD_BBO record when the top of book changed; MD_TRADE for each trade (VWAP), MD_MARK for each
  mark price — a mark between two ticks is rounded half-even to the nearest tick, never dropped.
`seq` is the venue's update id, so a consumer can compare a book with the venue at one id.
The ring is never waited on: when it is full the records that do not fit are counted as drops and
that book is sent again whole (MD_FLAG_CLEAR) with its next update, while the BBO table keeps
being written.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass

import aiohttp
import numpy as np

from oms import log
from oms.conn.backoff import Backoff
from oms.conn.booksync import Action, BookSync
from oms.conn.instruments import Inst
from oms.conn.rest import VenueRest
from oms.errors import OmsError
from oms.shm import records as R
from oms.venues.interface import DepthDiff, MarkUpdate, TradeTick, VenueAdapter

_log = log.get(__name__)
CHANNELS = ("depth", "trades", "mark")


@dataclass(slots=True)
class MdStats:
    connects: int = 0
    reconnects: int = 0
    diffs: int = 0
    snapshots: int = 0
    gaps: int = 0
    records: int = 0
    ring_drops: int = 0  # records the full md ring refused (that book is re-sent whole once there is room)
    bbo_updates: int = 0
    trades: int = 0
    marks: int = 0
    last_error: str = ""


class MarketData:
    """All of one market's subscribed books on one WebSocket."""

    def __init__(
        self,
        adapter: VenueAdapter,
        market: str,
        rest: VenueRest,
        ws_url: str,
        instruments: list[Inst],
        emit: Callable[[np.ndarray], int],
        bbo_write: Callable[[int, int, int, int, int, int, int], None] | None,
        on_state: Callable[[str, bool], None],
        *,
        depth_levels: int = 1000,
        heartbeat_s: float = 20.0,
        backoff: Backoff | None = None,
    ) -> None:
        self.data = adapter.data
        self.market = market
        self.rest = rest
        self.ws_url = ws_url
        self.insts = {i.symbol: i for i in instruments}
        self.emit = emit
        self.bbo_write = bbo_write
        self.on_state = on_state
        self.depth_levels = depth_levels
        self.heartbeat_s = heartbeat_s
        self.backoff = backoff or Backoff(0.2, 10.0)
        self.books = {
            s: BookSync(self.data.book_rule(market), to_ticks=i.to_ticks, to_lots=i.to_lots)
            for s, i in self.insts.items()
        }
        self.marks: dict[str, int] = {}
        self.last_bbo: dict[str, tuple[int, int, int, int]] = {}
        self.stats = MdStats()
        self.connected = False
        self._fetching: set[str] = set()
        self._dirty: set[str] = set()  # books whose last update did not fit in the ring
        self._stop = asyncio.Event()
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._tasks: set[asyncio.Task] = set()

    @property
    def synced(self) -> bool:
        return self.connected and all(b.synced for b in self.books.values())

    def _url(self) -> str:
        return self.data.stream_url(self.market, self.ws_url, list(self.insts), CHANNELS)

    async def run(self, session: aiohttp.ClientSession) -> None:
        while not self._stop.is_set():
            try:
                async with session.ws_connect(self._url(), heartbeat=self.heartbeat_s, autoping=True) as ws:
                    self._ws = ws
                    self.connected = True
                    self.stats.connects += 1
                    self.backoff.reset()
                    _log.info("%s market data connected (%d books)", self.market, len(self.books))
                    for sym in self.books:  # diffs buffer meanwhile; a quiet book needs no diff to start
                        self._want_snapshot(sym)
                    async for msg in ws:
                        if msg.type != aiohttp.WSMsgType.TEXT:
                            if msg.type in (aiohttp.WSMsgType.ERROR, aiohttp.WSMsgType.CLOSED):
                                break
                            continue
                        await self._handle(msg.data)
            except (TimeoutError, OmsError, aiohttp.ClientError, OSError) as e:
                self.stats.last_error = str(e)
                _log.warning("%s market data: %s", self.market, e)
            finally:
                self._ws = None
                if self.connected:
                    self.stats.reconnects += 1
                self.connected = False
                for b in self.books.values():
                    b._reset()  # a new connection starts from a new snapshot
                self.on_state(self.market, False)
            if self._stop.is_set():
                break
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self.backoff.next())

    async def _handle(self, text: str) -> None:
        try:
            msg = json.loads(text)
        except ValueError:
            return
        if not isinstance(msg, dict):
            return
        for m in self.data.parse_market(self.market, msg):
            if isinstance(m, DepthDiff):
                await self._on_depth(m)
            elif isinstance(m, TradeTick):
                self._on_trade(m)
            elif isinstance(m, MarkUpdate):
                self._on_mark(m)

    async def _on_depth(self, ev: DepthDiff) -> None:
        book = self.books.get(ev.symbol)
        if book is None:
            return
        sym = ev.symbol
        self.stats.diffs += 1
        gaps = book.gaps
        act = book.on_event(ev)
        if act is Action.APPLIED:
            await self._publish(sym, book, ev.last_id, ev.ts_ms, clear=False)
        elif act is Action.NEED_SNAPSHOT or not book.synced:
            if book.gaps > gaps:
                self.stats.gaps += 1
                _log.warning(
                    "%s %s depth gap at %d (book at %d); resyncing",
                    self.market,
                    sym,
                    ev.first_id,
                    book.last_id,
                )
                self.on_state(self.market, False)
            self._want_snapshot(sym)

    def _want_snapshot(self, sym: str) -> None:
        if sym in self._fetching:
            return
        self._fetching.add(sym)
        t = asyncio.create_task(self._snapshot(sym))
        self._tasks.add(t)
        t.add_done_callback(self._tasks.discard)

    async def _snapshot(self, sym: str) -> None:
        book = self.books[sym]
        try:
            for attempt in range(10):
                try:
                    snap = await self.data.snapshot(self.rest, self.market, sym, self.depth_levels)
                except OmsError as e:
                    _log.warning("%s %s snapshot failed: %s", self.market, sym, e)
                    await asyncio.sleep(min(0.2 * 2**attempt, 5.0))
                    continue
                self.stats.snapshots += 1
                act = book.on_snapshot(snap.last_id, snap.bids, snap.asks)
                if act is Action.APPLIED:
                    await self._publish(sym, book, book.last_id, int(time.time() * 1000), clear=True)
                    if self.synced:
                        self.on_state(self.market, True)
                    return
                await asyncio.sleep(0.1)  # the snapshot was older than the first buffered diff
        finally:
            self._fetching.discard(sym)

    async def _publish(self, sym: str, book: BookSync, update_id: int, ts_ms: int, clear: bool) -> None:
        inst = self.insts[sym]
        changes = book.last_changes
        if sym in self._dirty:  # the consumer missed part of an update: send the whole book again
            changes = [(1, p, q) for p, q in book.bids.items()] + [(-1, p, q) for p, q in book.asks.items()]
            clear = True
            self.last_bbo.pop(sym, None)
        now = time.time_ns()
        n = len(changes) + 1
        recs = np.zeros(max(n, 1) + 1, R.MARKET)
        i = 0
        for side, px, lots in changes:
            r = recs[i]
            r["kind"] = R.MD_DELTA
            r["side"] = side
            r["instrument"] = inst.id
            r["price"] = px
            r["qty"] = lots
            r["seq"] = update_id
            r["ts_venue_ns"] = ts_ms * 1_000_000
            r["ts_ns"] = now
            i += 1
        if clear:
            if i == 0:  # an empty book still has to clear the consumer's
                recs[0]["kind"] = R.MD_DELTA
                recs[0]["instrument"] = inst.id
                recs[0]["seq"] = update_id
                recs[0]["ts_ns"] = now
                i = 1
            recs[0]["flags"] |= R.MD_FLAG_CLEAR
        if i:
            recs[i - 1]["flags"] |= R.MD_FLAG_LAST
        bp, bq, ap, aq = book.best()
        if self.last_bbo.get(sym) != (bp, bq, ap, aq):
            self.last_bbo[sym] = (bp, bq, ap, aq)
            r = recs[i]
            r["kind"] = R.MD_BBO
            r["instrument"] = inst.id
            r["price"], r["qty"], r["ask_price"], r["ask_qty"] = bp, bq, ap, aq
            r["seq"] = update_id
            r["ts_venue_ns"] = ts_ms * 1_000_000
            r["ts_ns"] = now
            i += 1
            self.stats.bbo_updates += 1
            if self.bbo_write is not None:
                self.bbo_write(inst.id, bp, bq, ap, aq, self.marks.get(sym, 0), ts_ms * 1_000_000)
        if i:
            # never wait on the ring: a dead or slow consumer must not stop this loop (the BBO table
            # above stays current for the engine); what did not fit is re-sent as a whole book
            done = self.emit(recs[:i])
            self.stats.records += done
            if done < i:
                self.stats.ring_drops += i - done
                self._dirty.add(sym)
                self.last_bbo.pop(sym, None)
            else:
                self._dirty.discard(sym)

    def _on_trade(self, tr: TradeTick) -> None:
        inst = self.insts.get(tr.symbol)
        if inst is None:
            return
        try:
            px, lots = inst.to_ticks(tr.price), inst.to_lots(tr.qty)
        except (ValueError, ArithmeticError):
            return
        rec = np.zeros(1, R.MARKET)
        r = rec[0]
        r["kind"] = R.MD_TRADE
        r["side"] = tr.aggressor
        r["instrument"] = inst.id
        r["flags"] = R.MD_FLAG_LAST
        r["price"], r["qty"], r["seq"] = px, lots, tr.trade_id
        r["ts_venue_ns"] = tr.ts_ms * 1_000_000
        r["ts_ns"] = time.time_ns()
        self.stats.trades += 1
        if not self.emit(rec):
            self.stats.ring_drops += 1

    def _on_mark(self, m: MarkUpdate) -> None:
        inst = self.insts.get(m.symbol)
        if inst is None:
            return
        try:
            px = inst.to_ticks(m.mark, nearest=True)  # a mark between two ticks is rounded, never dropped
        except (ValueError, ArithmeticError):
            return
        sym = m.symbol
        self.marks[sym] = px
        self.stats.marks += 1
        rec = np.zeros(1, R.MARKET)
        r = rec[0]
        r["kind"] = R.MD_MARK
        r["instrument"] = inst.id
        r["flags"] = R.MD_FLAG_LAST
        r["price"] = px
        r["ts_venue_ns"] = m.ts_ms * 1_000_000
        r["ts_ns"] = time.time_ns()
        if not self.emit(rec):
            self.stats.ring_drops += 1
        if self.bbo_write is not None and sym in self.last_bbo:
            bp, bq, ap, aq = self.last_bbo[sym]
            self.bbo_write(inst.id, bp, bq, ap, aq, px, r["ts_venue_ns"])

    async def stop(self) -> None:
        self._stop.set()
        if self._ws is not None:
            await self._ws.close()
        for t in list(self._tasks):
            t.cancel()
