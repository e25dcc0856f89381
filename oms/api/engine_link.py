"""Gateway room (oms/api): the gateway's two rings to the engine, and ack correlation.

Touches the rings `names.gateway_commands(prefix)` (producer: COMMAND rows) and
`names.engine_events_to_gateway(prefix)` (consumer: EVENT rows). Each command gets a gateway sequence
(COMMAND.seq, monotonic from a per-start base); the engine's first EVENT whose `ref_seq` equals it is the
ack. One reader task drains the event ring in batches (`.tolist()`: one C call per batch, no per-field
access), answers waiters (unary futures or stream sinks), feeds the order state and fans events out to
StreamEvents subscribers and to streams that own the order. After a batch it yields once (`sleep(0)`)
and polls again; with acks pending and the ring empty a waiter thread polls the ring every ~20-100 µs
and wakes the loop when a record is there (asyncio.sleep(0.0002) slept >= 1 ms: epoll's timeout is in
ms; spinning through the event loop measured worse on 2 cores: the CPU it burns is the CPU gRPC needs,
`spin_s` > 0 re-enables it); idle, it waits for a publish (or 2 ms).
A waiter not answered within `ack_timeout_s` gets DEADLINE_EXCEEDED ("outcome unknown: query it").
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

import grpc
import numpy as np

from oms import log
from oms.api.state import E_ACCOUNT, E_COID, E_KIND, E_REF_SEQ, E_STATUS, OrderState
from oms.api.status import ApiError
from oms.engine.constants import TERMINAL
from oms.shm import names
from oms.shm import records as r
from oms.shm.ring import Ring, open_ring

_log = log.get(__name__)
MAX_FOLLOWED = 1_000_000  # orders whose later events are routed back to the stream that sent them
_REFUSALS = frozenset({r.ORDER_REJECTED, r.CANCEL_REJECTED, r.MODIFY_REJECTED})


class AckSink(Protocol):
    def ack(self, token: Any, event: tuple | None, err: ApiError | None) -> None: ...

    def event(self, event: tuple) -> None: ...


class _FutureSink:
    __slots__ = ()

    def ack(self, token: Any, event: tuple | None, err: ApiError | None) -> None:
        if not token.done():
            if err is not None:
                token.set_exception(err)
            else:
                token.set_result(event)

    def event(self, event: tuple) -> None:  # unary callers do not follow later events
        pass


FUTURE_SINK = _FutureSink()


def _wait_for_events(ring: Ring, timeout_s: float) -> None:
    """In the waiter thread, acks pending: return as soon as the event ring holds a record (or after
    `timeout_s`). time.sleep(20 µs) is a nanosleep that releases the GIL (~60-100 µs with timer slack);
    the executor hands the result back through the loop's self-pipe, so the loop wakes at once. Measured:
    asyncio.sleep(0.0002) took 1.1 ms p50 here, which every unary ack paid."""
    end = time.monotonic() + timeout_s
    while ring.depth() == 0 and time.monotonic() < end:
        time.sleep(0.00002)


def _resolve(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


class EngineLink:
    def __init__(
        self,
        prefix: str,
        *,
        capacity: int = 1 << 16,
        create: bool = True,
        ack_timeout_s: float = 2.0,
        spin_s: float = 0.0,
    ) -> None:
        self.prefix = prefix
        self.capacity = capacity
        self.create = create
        self.ack_timeout_s = ack_timeout_s
        self.spin_s = spin_s
        self.state = OrderState()
        self.cmd: Ring | None = None
        self.evt: Ring | None = None
        self._seq = (time.time_ns() // 1_000_000) << 20  # unique across restarts (ms << 20)
        # client order ids the gateway assigns: below 2^48 (engine constants.MAX_COID), unique across
        # restarts while fewer than 2^18 ids a second are assigned on average (seconds since 2024 << 18,
        # which stays below 2^48 until 2058)
        self._coid = max(0, int(time.time()) - 1_704_067_200) << 18
        # seq -> (sink, token, sent at, (account, client_order_id) to follow after an accept, or None)
        self._pending: dict[int, tuple[AckSink, Any, float, tuple[int, int] | None]] = {}
        self._followers: dict[tuple[int, int], AckSink] = {}  # (account, coid) -> stream that sent it
        self._subs: list[Callable[[tuple], None]] = []
        self._task: asyncio.Task[None] | None = None
        self._stop = False
        self._out = np.zeros(4096, r.EVENT)
        self._wake: asyncio.Future[None] | None = None  # the idle reader's wake-up future
        self._waiter: ThreadPoolExecutor | None = None  # the pending-ack wait (_wait_for_events)
        self._alive = False
        self._alive_at = -1.0
        self.events_seen = 0

    # ---- lifetime ------------------------------------------------------------------------------
    def open(self) -> None:
        self.cmd = open_ring(
            names.gateway_commands(self.prefix), r.COMMAND, self.capacity, producer=True, create=self.create
        )
        self.evt = open_ring(
            names.engine_events_to_gateway(self.prefix),
            r.EVENT,
            self.capacity,
            producer=False,
            create=self.create,
        )

    async def start(self) -> None:
        if self.cmd is None:
            self.open()
        self._stop = False
        self._waiter = ThreadPoolExecutor(1, thread_name_prefix="gw-evt-wait")
        self._task = asyncio.get_running_loop().create_task(self._reader(), name="engine-events")

    async def stop(self) -> None:
        self._stop = True
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        self._fail_all(ApiError(grpc.StatusCode.UNAVAILABLE, "gateway shutting down"))
        if self._waiter is not None:
            self._waiter.shutdown(wait=True)
            self._waiter = None
        for ring in (self.cmd, self.evt):
            if ring is not None:
                ring.close()
        self.cmd = self.evt = None

    def engine_alive(self) -> bool:
        """Is a live producer attached to the event ring? (checked at most every 50 ms: it reads /proc)"""
        now = time.monotonic()
        if now - self._alive_at > 0.05:
            self._alive = self.evt is not None and self.evt.producer_alive()
            self._alive_at = now
        return self._alive

    # ---- commands ------------------------------------------------------------------------------
    def next_coid(self) -> int:
        self._coid += 1
        return self._coid

    def publish(
        self, rows: list[list[Any]], sink: AckSink, tokens: list[Any], follow: bool = False
    ) -> list[int]:
        """Publish rows (one release store); register each for its ack. Returns the sequences; rows that
        did not fit get an UNAVAILABLE ack at once (seq 0)."""
        assert self.cmd is not None
        if not self.engine_alive():
            raise ApiError(
                grpc.StatusCode.UNAVAILABLE,
                "engine is not running (no live producer on the event ring); retry when it is up",
            )
        now = time.time_ns()
        t0 = time.monotonic()
        seqs = []
        tuples = []
        for row in rows:
            self._seq += 1
            row[12] = now
            row[13] = self._seq
            seqs.append(self._seq)
            tuples.append(tuple(row))
        arr = np.array(tuples, dtype=r.COMMAND)
        n = self.cmd.publish_batch(arr)
        wake = self._wake
        if wake is not None and not wake.done():
            wake.set_result(None)
        pending = self._pending
        for i in range(n):
            row = rows[i]
            if row[0] == r.SUBMIT_ORDER:
                self.state.submitted(row)
                pending[seqs[i]] = (sink, tokens[i], t0, (row[4], row[6]) if follow else None)
            else:
                pending[seqs[i]] = (sink, tokens[i], t0, None)
        if n < len(rows):
            err = ApiError(
                grpc.StatusCode.UNAVAILABLE, "engine command ring is full; retry shortly", retry_after=0.01
            )
            for i in range(n, len(rows)):
                seqs[i] = 0
                sink.ack(tokens[i], None, err)
        return seqs

    def forget(self, sink: AckSink) -> None:
        """A stream closed: drop its waiters and followed orders."""
        for seq in [s for s, w in self._pending.items() if w[0] is sink]:
            del self._pending[seq]
        for key in [k for k, s in self._followers.items() if s is sink]:
            del self._followers[key]

    def subscribe(self, fn: Callable[[tuple], None]) -> Callable[[], None]:
        self._subs.append(fn)
        return lambda: self._subs.remove(fn) if fn in self._subs else None

    # ---- events --------------------------------------------------------------------------------
    async def _reader(self) -> None:
        assert self.evt is not None
        ring, out, waiter = self.evt, self._out, self._waiter
        last_event = time.monotonic()
        last_sweep = last_event
        loop = asyncio.get_running_loop()
        while not self._stop:
            n = ring.consume(out)
            now = time.monotonic()
            if n:
                last_event = now
                try:
                    self._dispatch(out[:n].tolist())
                except Exception:  # a bug here must not stop acks for everyone else
                    _log.exception("event dispatch failed")
                await asyncio.sleep(0)
                continue
            if now - last_sweep > 0.1:
                last_sweep = now
                self._sweep(now)
            if self._pending and now - last_event < self.spin_s:
                await asyncio.sleep(0)  # yield to the gRPC work, then poll again
            elif self._pending:  # wait off the loop: asyncio.sleep(0.0002) sleeps >= 1 ms (epoll ms timeout)
                await loop.run_in_executor(waiter, _wait_for_events, ring, 0.002)
            else:  # idle: sleep until a command is published (or 2 ms for unsolicited events)
                fut = self._wake = loop.create_future()
                timer = loop.call_later(0.002, _resolve, fut)
                await fut
                timer.cancel()
                last_event = time.monotonic()

    def _dispatch(self, events: list[tuple]) -> None:
        pending, followers, apply = self._pending, self._followers, self.state.apply
        self.events_seen += len(events)
        for e in events:
            apply(e)
            ref = e[E_REF_SEQ]
            w = pending.pop(ref, None) if ref else None
            if w is not None:
                w[0].ack(w[1], e, None)
                if w[3] is not None:
                    self._follow(w[3], w[0], e)
            else:
                key = (e[E_ACCOUNT], e[E_COID])
                f = followers.get(key)
                if f is not None:
                    f.event(e)
                    if e[E_STATUS] in TERMINAL:  # nothing more will come for this order
                        del followers[key]
            for fn in self._subs:
                fn(e)

    def _follow(self, key: tuple[int, int], sink: AckSink, e: tuple) -> None:
        """A stream follows an order's later events only once the engine took it for that stream's
        account: the ack is not a refusal and names the same (account, client_order_id). Claiming
        another account's id (or a duplicate of one's own) never moves its events to this stream."""
        if e[E_KIND] in _REFUSALS or (e[E_ACCOUNT], e[E_COID]) != key or e[E_STATUS] in TERMINAL:
            return
        followers = self._followers
        followers[key] = sink
        if len(followers) > MAX_FOLLOWED:  # long-lived streams of resting orders
            del followers[next(iter(followers))]

    def _sweep(self, now: float) -> None:
        dead = (
            None
            if self.engine_alive()
            else ApiError(
                grpc.StatusCode.UNAVAILABLE,
                "engine stopped before answering: outcome unknown, query the order",
            )
        )
        late = [s for s, w in self._pending.items() if dead is not None or now - w[2] > self.ack_timeout_s]
        for seq in late:
            sink, token, _, _ = self._pending.pop(seq)
            sink.ack(
                token,
                None,
                dead
                or ApiError(
                    grpc.StatusCode.DEADLINE_EXCEEDED,
                    f"engine did not answer command seq {seq} within {self.ack_timeout_s:g} s: "
                    "outcome unknown, "
                    "query the order before retrying",
                ),
            )

    def _fail_all(self, err: ApiError) -> None:
        pending, self._pending = self._pending, {}
        for sink, token, _, _ in pending.values():
            sink.ack(token, None, err)
