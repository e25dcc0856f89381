"""Bus room: market data on NATS — the marketdata program's `md.bridge` ring → `market.{ex}.{mk}.{sym}`.

Touches the ring it is given (as its single consumer) and a JetStream context. Every `interval_s` the
publisher drains the ring and, per instrument that changed, publishes one OMSF frame of MARKET records
(oms/bus/frames.py): every MarketDataTrade since the last frame, in venue order, then the latest
MarketDataBBO (conflated: intermediate BBOs of the interval are dropped, the last one wins). The
per-exchange `MARKET_<EXCHANGE>` stream (oms/bus/streams.py) stores them.

Market data is not the record of what happened (the events are): nothing is spooled, a frame whose
publish fails is counted and dropped, and the ring slot is released as soon as it is read. An instrument
the `where_of` lookup does not know (no registry entry) is counted under `unknown` and skipped.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from nats.js import JetStreamContext

from oms import log
from oms.bus import frames as F
from oms.shm import records as R
from oms.shm.ring import Ring

_log = log.get(__name__)

WhereOf = Callable[[int], "tuple[str, str, str] | None"]  # instrument id -> (exchange, market, symbol)


@dataclass(slots=True)
class MarketStats:
    records_read: int = 0
    bbo_published: int = 0
    bbo_conflated: int = 0
    trades_published: int = 0
    frames: int = 0
    failures: int = 0
    unknown: int = 0
    last_error: str = ""


def subject_table(where_of: WhereOf) -> Callable[[int], str | None]:
    """Cached instrument → `market.<exchange>.<market>.<symbol>` (None when unknown or not a subject)."""
    from oms.bus import subjects
    from oms.errors import Rejected

    cache: dict[int, str] = {}

    def subject(iid: int) -> str | None:
        got = cache.get(iid)
        if got is None:
            w = where_of(iid)  # a miss is asked again next time (the registry may have grown)
            try:
                got = subjects.build("market", *w) if w else None
            except Rejected:
                got = None
            if got is not None:
                cache[iid] = got
        return got

    return subject


class MarketPublisher:
    def __init__(
        self,
        ring: Ring,
        js: JetStreamContext,
        where_of: WhereOf,
        *,
        interval_s: float = 0.1,
        batch: int = 4096,
    ) -> None:
        self.ring = ring
        self.ring.register_consumer()
        self.js = js
        self.subject = subject_table(where_of)
        self.interval_s = interval_s
        self.stats = MarketStats()
        self._buf = np.zeros(batch, R.MARKET)
        self._bbo: dict[int, np.ndarray] = {}
        self._trades: dict[int, list[np.ndarray]] = {}
        self._pending: set[asyncio.Future] = set()
        self._stop = asyncio.Event()

    def take(self) -> int:
        """Drain the ring into the per-instrument state; returns records read."""
        got = 0
        while n := self.ring.consume(self._buf):
            got += n
            recs = self._buf[:n]
            for k, kind in ((R.MD_TRADE, "t"), (R.MD_BBO, "b")):
                sel = recs[recs["kind"] == k]
                if not len(sel):
                    continue
                for iid in np.unique(sel["instrument"]).tolist():
                    mine = sel[sel["instrument"] == iid]
                    if kind == "t":
                        self._trades.setdefault(iid, []).append(mine.copy())
                    else:
                        if iid in self._bbo:
                            self.stats.bbo_conflated += 1
                        self.stats.bbo_conflated += len(mine) - 1
                        self._bbo[iid] = mine[-1:].copy()
        self.stats.records_read += got
        return got

    async def flush(self) -> int:
        """Publish one frame per changed instrument; returns frames sent."""
        sent = 0
        for iid in set(self._bbo) | set(self._trades):
            subject = self.subject(iid)
            trades = self._trades.pop(iid, [])
            bbo = self._bbo.pop(iid, None)
            if subject is None:
                self.stats.unknown += 1
                continue
            parts = [*trades, *([bbo] if bbo is not None else [])]
            recs = np.concatenate(parts) if len(parts) > 1 else parts[0]
            try:
                fut = await self.js.publish_async(subject, F.encode(recs, source=0), wait_stall=1.0)
            except Exception as e:  # NATS away: market data is dropped, never spooled
                self._fail(f"{type(e).__name__}: {e}")
                continue
            self._pending.add(fut)
            fut.add_done_callback(self._done)
            sent += 1
            self.stats.frames += 1
            self.stats.bbo_published += bbo is not None
            self.stats.trades_published += len(recs) - (bbo is not None)
        return sent

    def _done(self, fut: asyncio.Future) -> None:
        self._pending.discard(fut)
        if fut.cancelled():
            self._fail("publish cancelled")
        elif fut.exception() is not None:
            self._fail(f"ack: {fut.exception()!r}")

    def _fail(self, why: str) -> None:
        if self.stats.failures == 0 or self.stats.last_error != why:
            _log.warning("market data publish failed (%s); frames are dropped until NATS answers", why)
        self.stats.failures += 1
        self.stats.last_error = why

    async def run(self) -> None:
        last_beat = time.monotonic()
        while not self._stop.is_set():
            start = time.monotonic()
            self.take()
            await self.flush()
            if start - last_beat > 5:
                last_beat = start
                _log.debug("market: %s", self.stats)
            await asyncio.sleep(max(self.interval_s - (time.monotonic() - start), 0.0005))

    def stop(self) -> None:
        self._stop.set()

    async def drain(self, timeout_s: float = 5.0) -> None:
        """Publish what is in the ring and wait for the acks (shutdown, tests)."""
        self.take()
        await self.flush()
        if self._pending:
            await asyncio.wait(set(self._pending), timeout=timeout_s)
