"""Connector room: the asyncio edge over SPSC rings (commands in, events and market data out).

Touches the rings it is given. Reading: `CommandPump.batches()` polls the command ring without
blocking the event loop. Write-ahead: a batch is read without releasing its slots; they are released
only when the consumer asks for the next batch, i.e. after it handled this one (the executor journals
every command before `dispatch()` returns). A process killed in between leaves the commands in the ring;
the next consumer reads them again and the journal recognises them (a submit already journaled is not
sent twice, a cancel is idempotent).

Polling — a short spin when records keep coming, then `asyncio.sleep` steps that grow
to `max_sleep_s` while records came recently (`hot_s`), and to `idle_sleep_s` after that, so a
connector on a shared core never burns it. Writing: `RingWriter`
never drops a record: when the ring is full it waits (counting the stall) until the consumer frees
space, because an event lost between connector and engine is an order the OMS no longer knows about.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import numpy as np

from oms.shm.ring import available, read_seq, release


@dataclass(slots=True)
class PumpStats:
    batches: int = 0
    records: int = 0
    full_stalls: int = 0
    stall_seconds: float = 0.0


class CommandPump:
    """Yields batches (copies) of records from a ring until `stop()`."""

    def __init__(
        self, ring, batch: int = 64, max_sleep_s: float = 0.002, idle_sleep_s: float | None = None,
        hot_s: float = 0.05,
    ) -> None:  # fmt: skip
        self.ring = ring
        self.out = np.zeros(batch, dtype=ring.buf.dtype)
        self.max_sleep_s = max_sleep_s  # longest poll gap while records came within the last hot_s
        self.idle_sleep_s = max(idle_sleep_s or max_sleep_s, max_sleep_s)  # poll gap when idle longer
        self.hot_s = hot_s
        self.stats = PumpStats()
        self._stopped = False

    def stop(self) -> None:
        self._stopped = True

    async def batches(self) -> AsyncIterator[np.ndarray]:
        sleep = 0.0
        last = time.monotonic()
        ring = self.ring
        if not getattr(ring, "_is_consumer", True):
            ring.register_consumer()
        mask = np.int64(len(ring.buf) - 1)
        most = len(self.out)
        while not self._stopped:
            n = min(int(available(ring.ctrl)), most)
            if n:
                sleep = 0.0
                last = time.monotonic()
                self.stats.batches += 1
                self.stats.records += n
                idx = (np.arange(n, dtype=np.int64) + int(read_seq(ring.ctrl))) & mask
                batch = ring.buf[idx]  # a copy; the slots stay ours until released
                yield batch
                release(ring.ctrl, np.uint64(n))  # handled (journaled): the producer may reuse the slots
                await asyncio.sleep(0)  # let the sends we just started make progress
                continue
            gap = self.max_sleep_s if time.monotonic() - last < self.hot_s else self.idle_sleep_s
            sleep = min(gap, sleep * 2 if sleep else 0.00005)
            await asyncio.sleep(sleep)


class RingWriter:
    """Publishes records to a ring, waiting (never dropping) while it is full."""

    def __init__(self, ring, max_sleep_s: float = 0.001) -> None:
        self.ring = ring
        self.max_sleep_s = max_sleep_s
        self.stats = PumpStats()

    async def write(self, recs: np.ndarray) -> None:
        i = 0
        t0 = 0.0
        sleep = 0.00005
        while i < len(recs):
            n = self.ring.publish_batch(recs[i:])
            i += n
            if i < len(recs):
                if not t0:
                    t0 = time.monotonic()
                    self.stats.full_stalls += 1
                await asyncio.sleep(sleep)
                sleep = min(self.max_sleep_s, sleep * 2)
        if t0:
            self.stats.stall_seconds += time.monotonic() - t0
        self.stats.records += len(recs)
        self.stats.batches += 1

    def write_nowait(self, recs: np.ndarray) -> int:
        """Synchronous publish for callers outside the loop; returns how many were written."""
        n = self.ring.publish_batch(recs)
        self.stats.records += n
        return n
