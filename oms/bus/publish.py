"""Bus room: batched, asynchronous JetStream publishing with bounded in-flight acks and a disk spool.

Touches the NATS connection it is given and its `Spool` directory. `FramePublisher.submit(frames, n)`
takes the frames built from `n` ring records; `on_durable(n)` is called, strictly in submission order,
once those records are safe: acknowledged by JetStream (stored) or fsynced into the spool. The caller
releases its ring slots only then, so a crash of the bridge loses nothing (the records are read again).

Modes:
- live: frames go out with `publish_async` (Nats-Msg-Id set, so a re-send is de-duplicated); at most
  `max_inflight` frames wait for an ack; `submit` waits for room (back-pressure on the ring reader only,
  never on the engine, which only sees a fuller ring).
- spooling: entered when the connection is down or an ack fails/times out. Unacked frames and every new
  frame go to the spool (order kept); a drain task re-publishes the spool in order once NATS is back and
  goes live again when it is empty. If the spool is full, `submit` returns False and the caller stops
  reading its ring until there is room.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from nats.aio.client import Client as NATS
from nats.js import JetStreamContext

from oms import log
from oms.bus.spool import Spool

_log = log.get(__name__)


@dataclass(slots=True)
class _Pending:
    subject: str
    msg_id: str
    payload: bytes
    future: asyncio.Future | None
    sent_at: float
    release: int  # ring records covered, counted on the chunk's last frame


@dataclass(slots=True)
class PublishStats:
    frames_acked: int = 0
    frames_spooled: int = 0
    frames_drained: int = 0
    duplicates: int = 0
    records_durable: int = 0
    spool_full: int = 0
    failures: int = 0
    last_error: str = ""
    mode_changes: list[str] = field(default_factory=list)


class FramePublisher:
    def __init__(
        self,
        nc: NATS,
        js: JetStreamContext,
        spool: Spool,
        on_durable: Callable[[int], None],
        on_rewind: Callable[[], None],
        *,
        max_inflight: int = 64,
        ack_timeout_s: float = 5.0,
    ) -> None:
        self.nc, self.js, self.spool = nc, js, spool
        self.on_durable = on_durable
        self.on_rewind = on_rewind
        self.max_inflight = max_inflight
        self.ack_timeout_s = ack_timeout_s
        self.stats = PublishStats()
        self._inflight: deque[_Pending] = deque()
        self._spooling = not spool.empty()
        self._drain_task: asyncio.Task | None = None
        self._room = asyncio.Event()
        self._room.set()

    @property
    def spooling(self) -> bool:
        return self._spooling

    def inflight(self) -> int:
        return len(self._inflight)

    # ---- submit ----------------------------------------------------------------------------------
    async def submit(self, frames: list[tuple[str, str, bytes]], n_records: int) -> bool:
        """Send (subject, msg_id, payload) frames covering the next `n_records` ring records.

        Returns False when spooling and the spool is full (nothing taken: the caller rewinds and waits).
        After a failure inside, `on_rewind()` has already been called and True is returned.
        """
        if not self._spooling and not self.nc.is_connected:
            self._fail("not connected")  # rewinds: this chunk and every unacked one are read again
            return True
        if self._spooling:
            return self._to_spool(frames, n_records)
        while len(self._inflight) + len(frames) > self.max_inflight and self._inflight:
            await self._wait_head()
            if self._spooling:  # the failure rewound the reader: this chunk is read again
                return True
        now = time.monotonic()
        last = len(frames) - 1
        for i, (subject, mid, payload) in enumerate(frames):
            try:
                fut = await self.js.publish_async(
                    subject, payload, wait_stall=self.ack_timeout_s, headers={"Nats-Msg-Id": mid}
                )
            except Exception as e:  # connection closed/stalled: the chunk is read again, then spooled
                self._fail(f"publish: {type(e).__name__}: {e}")
                return True
            self._inflight.append(_Pending(subject, mid, payload, fut, now, n_records if i == last else 0))
        self._reap()
        return True

    async def flush(self, timeout_s: float = 30.0) -> None:
        """Wait until every submitted frame is durable (acked, or in the spool and then drained)."""
        deadline = time.monotonic() + timeout_s
        while self._inflight and time.monotonic() < deadline:
            await self._wait_head()
        while self._spooling and time.monotonic() < deadline:
            self._kick_drain()
            await asyncio.sleep(0.01)

    # ---- acks ------------------------------------------------------------------------------------
    def _reap(self) -> None:
        while self._inflight and self._inflight[0].future is not None and self._inflight[0].future.done():
            p = self._inflight[0]
            assert p.future is not None
            exc = p.future.exception() if not p.future.cancelled() else asyncio.CancelledError()
            if exc is not None:
                self._fail(f"ack: {type(exc).__name__}: {exc}")
                return
            if p.future.result().duplicate:
                self.stats.duplicates += 1
            self._inflight.popleft()
            self.stats.frames_acked += 1
            if p.release:
                self.stats.records_durable += p.release
                self.on_durable(p.release)

    async def _wait_head(self) -> None:
        head = self._inflight[0]
        assert head.future is not None
        left = head.sent_at + self.ack_timeout_s - time.monotonic()
        if left > 0:
            await asyncio.wait({head.future}, timeout=left)
        if not head.future.done():
            self._fail(f"ack timeout after {self.ack_timeout_s}s on {head.subject}")
            return
        self._reap()

    async def poll(self) -> None:
        """Reap finished acks (call from the reader loop when idle)."""
        if self._inflight:
            self._reap()
            head = self._inflight[0] if self._inflight else None
            late = head is not None and time.monotonic() - head.sent_at > self.ack_timeout_s
            if head and head.future and not head.future.done() and late:
                self._fail(f"ack timeout after {self.ack_timeout_s}s on {head.subject}")
        if self._spooling:
            self._kick_drain()

    # ---- spooling --------------------------------------------------------------------------------
    def _fail(self, why: str) -> None:
        """An ack failed or timed out: drop every unacked frame and make the reader read them again.

        Their ring records were never released, so `on_rewind()` moves the reader back to the ring's
        release point; in spooling mode they then go to the spool. A frame that did reach JetStream
        is de-duplicated there by its Nats-Msg-Id (and by event id in PostgreSQL after the window).
        """
        self.stats.failures += 1
        self.stats.last_error = why
        self._enter_spooling(why)
        for p in self._inflight:
            if p.future is not None and not p.future.done():
                p.future.cancel()
        self._inflight.clear()
        self.on_rewind()

    def _enter_spooling(self, why: str) -> None:
        if not self._spooling:
            _log.warning("JetStream unavailable (%s); spooling frames to %s", why, self.spool.dir)
            self.stats.mode_changes.append(f"spool: {why}")
        self._spooling = True

    def _to_spool(self, frames: list[tuple[str, str, bytes]], n_records: int) -> bool:
        if self.spool.bytes_used() + sum(len(p) + 256 for _, _, p in frames) > self.spool.max_bytes:
            self.stats.spool_full += 1
            self._kick_drain()
            return False
        for subject, mid, payload in frames:
            self.spool.append(subject, mid, payload)
            self.stats.frames_spooled += 1
        self.spool.sync()
        self.stats.records_durable += n_records
        self.on_durable(n_records)
        self._kick_drain()
        return True

    def _kick_drain(self) -> None:
        if self._drain_task is None or self._drain_task.done():
            self._drain_task = asyncio.get_running_loop().create_task(self._drain())

    async def _drain(self) -> None:
        """Re-publish the spool in order; go live when it is empty."""
        while self._spooling:
            if not self.nc.is_connected:
                await asyncio.sleep(0.05)
                continue
            batch = self.spool.peek(self.max_inflight)
            if not batch:
                self._spooling = False
                _log.info("spool drained; publishing live again")
                self.stats.mode_changes.append("live")
                return
            try:
                futs = [
                    await self.js.publish_async(
                        e.subject, e.payload, wait_stall=self.ack_timeout_s, headers={"Nats-Msg-Id": e.msg_id}
                    )
                    for e in batch
                ]
                done, pending = await asyncio.wait(futs, timeout=self.ack_timeout_s)
                for f in pending:
                    f.cancel()
                ok = 0
                while ok < len(futs):
                    f = futs[ok]
                    if f not in done or f.cancelled() or f.exception() is not None:
                        break
                    if f.result().duplicate:
                        self.stats.duplicates += 1
                    ok += 1
            except Exception as e:
                self.stats.last_error = f"drain: {type(e).__name__}: {e}"
                ok = 0
            if ok:
                self.spool.commit(batch[ok - 1].pos)
                self.stats.frames_drained += ok
            if ok < len(batch):
                await asyncio.sleep(0.1)
