"""Bus room: the events half of the bridge, engine events ring → JetStream frames.

Touches the ring it is given (as its single consumer) and a `FramePublisher`. The reader never
releases a ring slot before its records are durable (acked by JetStream or fsynced into the spool): it
keeps its own cursor `next_read` ahead of the ring's release point and calls `release()` in order as
acks arrive, so a crashed bridge re-reads whatever was not yet durable. The engine only ever sees a
fuller ring (its publish returns False when full); it never waits on NATS.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

import nats
import numpy as np

from oms import log
from oms.bus import frames as F
from oms.bus.publish import FramePublisher
from oms.bus.settings import Settings
from oms.bus.spool import Spool
from oms.bus.streams import ensure_streams
from oms.errors import Transient
from oms.shm import ring as ringmod

_log = log.get(__name__)


@dataclass(slots=True)
class BridgeStats:
    records_read: int = 0
    records_released: int = 0
    chunks: int = 0
    rewinds: int = 0
    idle_polls: int = 0


class EventBridge:
    """Reads EVENT records from `ring`, publishes frames, releases slots when durable."""

    def __init__(
        self,
        ring: ringmod.Ring,
        publisher_factory: object,
        *,
        frame_records: int = 2048,
        symbol_of: F.SymbolOf = F.default_symbol,
        max_held: int | None = None,
        event_source: int = 0,
    ) -> None:
        self.ring = ring
        self.event_source = event_source  # 0 = keep each record's source; else this node's id (scale-out)
        self.ring.register_consumer()
        self.ctrl = ring.ctrl
        self.buf = ring.buf
        self.mask = ring.capacity - 1
        self.frame_records = frame_records
        self.symbol_of = symbol_of
        self.max_held = max_held or max(1, ring.capacity // 2)
        self.stats = BridgeStats()
        self.next_read = int(ringmod.read_seq(self.ctrl))
        self._stop = asyncio.Event()
        assert callable(publisher_factory)
        self.publisher: FramePublisher = publisher_factory(self._on_durable, self._on_rewind)

    # ---- callbacks from the publisher ------------------------------------------------------------
    def _on_durable(self, n: int) -> None:
        ringmod.release(self.ctrl, n)
        self.stats.records_released += n

    def _on_rewind(self) -> None:
        self.stats.rewinds += 1
        self.next_read = int(ringmod.read_seq(self.ctrl))

    # ---- loop ------------------------------------------------------------------------------------
    def held(self) -> int:
        return self.next_read - int(ringmod.read_seq(self.ctrl))

    def read_chunk(self) -> np.ndarray | None:
        """Copy the next up to frame_records records past `next_read` (None if nothing new)."""
        rs = int(ringmod.read_seq(self.ctrl))
        # depth() load-acquires HEAD every time (available() would trust its cached HEAD while we
        # hold unreleased records, and so stall until every in-flight frame is acked)
        unread = int(ringmod.depth(self.ctrl)) - (self.next_read - rs)
        room = self.max_held - (self.next_read - rs)
        n = min(unread, self.frame_records, room)
        if n <= 0:
            return None
        start = self.next_read & self.mask
        if start + n <= len(self.buf):
            chunk = self.buf[start : start + n].copy()
        else:
            chunk = self.buf[(self.next_read + np.arange(n, dtype=np.int64)) & self.mask]
        return chunk

    def frames_of(self, chunk: np.ndarray) -> list[tuple[str, str, bytes]]:
        out: list[tuple[str, str, bytes]] = []
        if self.event_source:  # chunk is our copy of the ring slots: stamp this node's producer id
            chunk["source"] = self.event_source
        for subject, recs in F.split_events(chunk, self.symbol_of):
            payload = F.encode(recs)
            out.append((subject, F.msg_id(subject, F.header(payload)), payload))
        return out

    async def step(self) -> int:
        """Read and submit one chunk; returns records submitted (0 if idle or back-pressured)."""
        await self.publisher.poll()
        chunk = self.read_chunk()
        if chunk is None:
            return 0
        n = len(chunk)
        frames = self.frames_of(chunk)
        before = self.next_read
        self.next_read += n
        ok = await self.publisher.submit(frames, n)
        if not ok:  # spool full: read these again later
            self.next_read = before
            return 0
        self.stats.records_read += n
        self.stats.chunks += 1
        return n

    async def run(self, *, idle_sleep_s: float = 0.0005, max_idle_sleep_s: float = 0.01) -> None:
        idle = idle_sleep_s
        last_beat = time.monotonic()
        while not self._stop.is_set():
            n = await self.step()
            if n:
                idle = idle_sleep_s
                await asyncio.sleep(0)
            else:
                self.stats.idle_polls += 1
                await asyncio.sleep(idle)
                idle = min(idle * 2, max_idle_sleep_s)
            now = time.monotonic()
            if now - last_beat > 5:
                last_beat = now
                _log.debug(
                    "bridge: read=%d released=%d", self.stats.records_read, self.stats.records_released
                )

    def stop(self) -> None:
        self._stop.set()

    async def drain(self, timeout_s: float = 30.0) -> bool:
        """Publish everything currently in the ring and wait until it is durable (tests, shutdown)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            while await self.step():
                pass
            await self.publisher.flush(timeout_s=max(0.1, deadline - time.monotonic()))
            if int(ringmod.depth(self.ctrl)) == 0 and self.held() == 0 and not self.publisher.spooling:
                return True
            await asyncio.sleep(0.01)
        return False


async def connect_nats(url: str, name: str, *, timeout_s: float = 5.0) -> nats.NATS:
    """A NATS connection that, once up, keeps reconnecting forever (the bridge spools meanwhile).

    The first connect is bounded: Transient after `timeout_s` (nats-py would otherwise retry silently
    forever), so a caller can log and retry."""

    from oms.credentials import nats_options, safe_url

    shown = safe_url(url)

    async def on_error(e: Exception) -> None:  # one line, not nats-py's default traceback
        _log.debug("%s: nats: %s: %s", name, type(e).__name__, e)

    async def on_disconnect() -> None:
        _log.warning("%s: disconnected from NATS %s; reconnecting", name, shown)

    async def on_reconnect() -> None:
        _log.info("%s: reconnected to NATS %s", name, shown)

    try:
        return await asyncio.wait_for(
            nats.connect(
                [
                    u.strip() for u in url.split(",") if u.strip()
                ],  # one URL or a cluster's comma-separated list
                **nats_options(url),  # this program's own user from its 0600 credential file
                name=name,
                allow_reconnect=True,
                max_reconnect_attempts=-1,
                reconnect_time_wait=0.1,
                connect_timeout=2,
                error_cb=on_error,
                disconnected_cb=on_disconnect,
                reconnected_cb=on_reconnect,
            ),
            timeout_s,
        )
    except TimeoutError as e:
        raise Transient(f"cannot reach NATS at {shown}: no answer within {timeout_s:.0f} s") from e
    except Exception as e:  # OSError, nats' NoServersError...
        raise Transient(f"cannot reach NATS at {shown}: {type(e).__name__}: {e}") from e


async def open_bridge(
    ring: ringmod.Ring,
    settings: Settings,
    *,
    nc: nats.NATS | None = None,
    symbol_of: F.SymbolOf = F.default_symbol,
) -> tuple[nats.NATS, EventBridge]:
    """Connect (or use `nc`), create/update the streams, open the spool, and build the bridge.

    If NATS is unreachable at start the bridge still starts and spools (trading never waits on NATS);
    the streams are then ensured by the recorder or the next bridge start.
    """
    if nc is None:
        nc = await connect_nats(settings.nats_url, "oms-bridge")
    js = nc.jetstream(publish_async_max_pending=max(settings.max_inflight * 2, 64))
    await ensure_streams(js, settings)
    spool = Spool(settings.spool_dir, settings.spool_max_bytes, settings.spool_segment_bytes)

    def factory(on_durable: Callable[[int], None], on_rewind: Callable[[], None]) -> FramePublisher:
        return FramePublisher(
            nc,
            js,
            spool,
            on_durable,
            on_rewind,
            max_inflight=settings.max_inflight,
            ack_timeout_s=settings.ack_timeout_s,
        )

    bridge = EventBridge(
        ring,
        factory,
        frame_records=settings.frame_records,
        symbol_of=symbol_of,
        event_source=settings.event_source,
    )
    return nc, bridge
