"""Monitor room: the producer side of the ingestion contract (see oms/monitor/frames.py).

Touches only the transport it is given. A program (connector, engine's Python face, gateway, bridge)
keeps one `StatsFeed`, calls the cheap `record_*` methods from its edge code, and awaits `flush()`
periodically (e.g. every 250 ms) or runs `run(interval)` as a task. Transports:
`nats_publisher(nc, subject_prefix, program)` or `http_publisher(url)` (POST /ingest).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import aiohttp
import numpy as np

from oms.monitor.frames import LatencyBatch, PositionReport, RingReport, StatsFrame, VenueReport, encode
from oms.shm.records import EVENT

Publish = Callable[[bytes], Awaitable[None]]


@dataclass
class StatsFeed:
    program: str
    publish: Publish
    _events: list[bytes] = field(default_factory=list)
    _lat: dict[tuple[str, str], list[int]] = field(default_factory=dict)
    _venues: dict[str, VenueReport] = field(default_factory=dict)
    _drops: dict[str, int] = field(default_factory=dict)
    _positions: list[PositionReport] | None = None
    _risk_state: str = ""

    def record_events(self, records: np.ndarray) -> None:
        if records.dtype != EVENT:
            raise TypeError(f"record_events needs EVENT records, got dtype {records.dtype}")
        self._events.append(records.tobytes())

    def record_latency(self, stage: str, exchange: str, ns: int) -> None:
        self._lat.setdefault((stage, exchange), []).append(int(ns))

    def set_venue(self, report: VenueReport) -> None:
        self._venues[report.exchange] = report

    def set_ring_drops(self, ring: str, cumulative_drops: int) -> None:
        self._drops[ring] = cumulative_drops

    def set_positions(self, positions: list[PositionReport], risk_state: str = "") -> None:
        self._positions = positions
        self._risk_state = risk_state

    def take_frame(self) -> StatsFrame:
        frame = StatsFrame(
            program=self.program,
            ts_ns=time.time_ns(),
            events=b"".join(self._events),
            latencies=[LatencyBatch(s, x, v) for (s, x), v in self._lat.items()],
            venues=list(self._venues.values()),
            rings=[RingReport(r, n) for r, n in self._drops.items()],
            positions=self._positions,
            risk_state=self._risk_state,
        )
        self._events, self._lat = [], {}
        return frame

    async def flush(self) -> None:
        await self.publish(encode(self.take_frame()))

    async def run(self, interval_s: float = 0.25) -> None:
        while True:
            await asyncio.sleep(interval_s)
            await self.flush()


def nats_publisher(nc: object, subject_prefix: str, program: str) -> Publish:
    """Publish frames on `<subject_prefix>.<program>` with a connected nats-py client."""
    subject = f"{subject_prefix}.{program}"

    async def publish(data: bytes) -> None:
        await nc.publish(subject, data)  # type: ignore[attr-defined]

    return publish


def http_publisher(base_url: str, session: aiohttp.ClientSession) -> Publish:
    """POST frames to `<base_url>/ingest` (the monitor's HTTP port)."""
    url = base_url.rstrip("/") + "/ingest"

    async def publish(data: bytes) -> None:
        async with session.post(url, data=data, headers={"Content-Type": "application/msgpack"}) as r:
            if r.status != 204:
                raise RuntimeError(f"monitor refused frame: HTTP {r.status}: {await r.text()}")

    return publish
