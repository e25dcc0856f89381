"""Connector room: the asyncio ring pump (records in order, idle back-off) and the never-dropping writer."""

from __future__ import annotations

import asyncio
import time
import uuid

import numpy as np

from oms.conn.pump import CommandPump, RingWriter
from oms.shm import records as R
from oms.shm.ring import Ring


def _ring(capacity: int = 64) -> Ring:
    return Ring.create(f"tp{uuid.uuid4().hex[:10]}", R.COMMAND, capacity)


def test_pump_yields_every_record_in_order_then_stops() -> None:
    ring = _ring()
    try:
        recs = np.zeros(150, R.COMMAND)
        recs["client_order_id"] = np.arange(1, 151)

        async def run() -> list[int]:
            pump = CommandPump(ring, batch=16, max_sleep_s=0.0005, idle_sleep_s=0.002)
            got: list[int] = []

            async def feed() -> None:
                i = 0
                while i < len(recs):
                    i += ring.publish_batch(recs[i : i + 40])
                    await asyncio.sleep(0.001)

            task = asyncio.create_task(feed())
            async for b in pump.batches():
                assert len(b) <= 16
                got.extend(int(x) for x in b["client_order_id"])
                if len(got) == len(recs):
                    pump.stop()
            await task
            return got

        assert asyncio.run(run()) == list(range(1, 151))
    finally:
        ring.close()
        ring.unlink()


def test_idle_pump_backs_off_to_the_idle_sleep() -> None:
    ring = _ring()
    try:

        async def run() -> int:
            pump = CommandPump(ring, max_sleep_s=0.0005, idle_sleep_s=0.005, hot_s=0.0)
            polls = 0
            orig = ring.consume

            def counting(out: np.ndarray) -> int:
                nonlocal polls
                polls += 1
                return orig(out)

            ring.consume = counting  # type: ignore[method-assign]
            loop = asyncio.get_running_loop()
            loop.call_later(0.3, pump.stop)
            async for _ in pump.batches():
                pass
            return polls

        polls = asyncio.run(run())
        assert polls < 0.3 / 0.005 + 15, f"{polls} polls in 0.3 s: the idle pump does not back off"
    finally:
        ring.close()
        ring.unlink()


def test_writer_waits_for_space_and_drops_nothing() -> None:
    ring = Ring.create(f"tp{uuid.uuid4().hex[:10]}", R.EVENT, 64)
    try:
        recs = np.zeros(500, R.EVENT)
        recs["seq"] = np.arange(500)

        async def run() -> list[int]:
            w = RingWriter(ring)
            out = np.zeros(32, R.EVENT)
            got: list[int] = []

            async def drain() -> None:
                deadline = time.monotonic() + 10
                while len(got) < len(recs) and time.monotonic() < deadline:
                    n = ring.consume(out)
                    got.extend(int(x) for x in out[:n]["seq"])
                    await asyncio.sleep(0.001)

            d = asyncio.create_task(drain())
            await w.write(recs)
            await d
            assert w.stats.full_stalls >= 1 and w.stats.records == 500
            return got

        assert asyncio.run(run()) == list(range(500))
    finally:
        ring.close()
        ring.unlink()
