"""Ring room: lock-free single-producer/single-consumer ring of numpy records in a shared segment.

Touches only the segment it creates or attaches (oms/shm/segment.py). Hot-path functions are njit and
module-level so other njit loops call them directly; `Ring` is the thin Python face.

Layout (`ctrl` = the segment's uint64 words: header words 0..47, ring words from 48; byte = word * 8):

| word | byte | size | field         | writer                      | readers                          |
|------|------|------|---------------|-----------------------------|----------------------------------|
| 0-47 | 0    | 384  | segment header| creator (see segment.py)    | everyone; words 16-18 producer   |
|      |      |      |               |                             | pid/start/heartbeat, 20-22 consumer |
| 48   | 384  | 8    | HEAD          | producer, store_release     | consumer, load_acquire; producer |
|      |      |      |               |                             | relaxed (its own index)          |
| 49   | 392  | 8    | (unused, 0)   | -                           | (was RESERVE, layout v1 kept)    |
| 50   | 400  | 8    | CACHED_TAIL   | producer, only on a refresh | producer                         |
| 51   | 408  | 8    | FULL_COUNT    | producer, only on a refusal | monitors, relaxed                |
| 52-63| 416  | 96   | pad           | -                           | (HEAD's line pair is producer-only)|
| 64   | 512  | 8    | TAIL          | consumer, store_release     | producer, load_acquire           |
| 65   | 520  | 8    | CACHED_HEAD   | consumer, only on a refresh | consumer                         |
| 66-79| 528  | 112  | pad           | -                           |                                  |
| 80   | 640  | 8    | CAPACITY      | creator, before magic       | both (constant)                  |
| 81   | 648  | 8    | MASK          | creator, before magic       | both (constant)                  |
| 82-87| 656  | 48   | pad           |                             |                                  |
| 88.. | 704  | cap*rec | slots      | producer                    | consumer                         |

HEAD and TAIL are 128 bytes apart (separate 64-byte lines, and separate adjacent-line-prefetch pairs),
so the producer's stores never invalidate the consumer's line and vice versa (no false sharing).
Sequences are monotonic 64-bit counters starting at 0; slot of sequence s is `s & MASK`; the ring holds
`HEAD - TAIL` records (0 ≤ HEAD - TAIL ≤ CAPACITY). At 10^9 records/s a 63-bit counter lasts 292 years.

Publication protocol (producer):
 1. `claim(ctrl, n)`: seq = HEAD (relaxed: the producer's own index); free = CAPACITY - (seq -
    CACHED_TAIL). Only if free < n, re-read TAIL with `load_acquire` and store it in CACHED_TAIL (the
    cached opposite index: one shared-line read per ring-full of records, not per record). Still
    short → count FULL_COUNT, return -1. Claim stores nothing on success: the claimed run is
    [seq, seq + n) until step 3 publishes it (claim again before committing and you get the same seq).
 2. Write the payload into slots `(seq + i) & MASK` with plain stores.
 3. `commit(ctrl, seq_end)`: `store_release(HEAD, seq_end)` — the only store of a successful publish.
Consumption protocol (consumer):
 4. `available(ctrl)`: avail = CACHED_HEAD - TAIL; only if 0, re-read HEAD with `load_acquire` and
    store it in CACHED_HEAD when it moved (an empty poll of a spinning consumer only reads);
    `pop_batch(.., max_n)` re-reads when fewer than max_n look readable, so a drain takes everything
    visible.
 5. Read slots `(read_seq + i) & MASK`, i < avail, with plain loads.
 6. `release(ctrl, n)`: `store_release(TAIL, TAIL + n)`, once per drained run (not per record).
`push`/`push_batch`/`pop_batch` are steps 1-3 / 4-6 fused, and every function here is
`inline="always"`: a loop that calls them compiles them into its own body (no call, no cached object
code between them, which LLVM could not inline), and records move as whole 64/128-byte copies. Compile
such a loop with `_nrt=False` (the engine loop, the marketdata kernel, selftest, bench/ring.py do):
with Numba's reference counting on, every inlined call on `ctrl`/`buf` adds an atomic incref/decref
pair of the array (measured: 17 ns of a 19 ns push+pop), more than the ring itself costs.

Memory-ordering argument. (a) Consumer never reads a half-written record: the payload stores of step 2
are sequenced before the release store of HEAD (3); the consumer's acquire load of HEAD (4) that
observes seq_end synchronizes-with it, so every payload store to slots < seq_end happens-before the
consumer's plain loads (5). A stale CACHED_HEAD is safe: it came from an earlier acquire load, so it
only under-reports. (b) Producer never overwrites a slot still being read: the consumer's loads (5) are
sequenced before its release store of TAIL (6); the producer's acquire load of TAIL (1) synchronizes-
with it, so those loads happen-before the producer's later payload stores (2) to the same slots. A stale
CACHED_TAIL only under-reports free space. (c) Each index has exactly one writer, so no read-modify-
write atomics are needed; owners read their own index relaxed. (d) The compiler cannot hoist the
loads out of spin loops or sink the stores: they are LLVM atomics (oms/shm/atomics.py). On x86 (TSO)
acquire/release compile to plain MOVs; the ordering they buy is compiler ordering, which is exactly
what a plain numpy load lacks. (e) A producer restarted over a ring left by a killed one starts from
HEAD: a run the dead producer claimed but never committed is simply claimed again (claim stores
nothing); the cached copies left in the segment are older values of monotonic indices, so they only
under-report, as in (a) and (b).

Producer liveness: the producer registers its pid and start time in the header (words 16-17) and
heartbeats word 18 (CLOCK_MONOTONIC ns). `producer_alive()` is False once that pid is gone, a zombie, or
reused by another process (start time differs), or (with `stale_after_s`) when the heartbeat is older
than that. Detection time is bounded by how often the consumer asks (every idle backoff step is fine).
"""

from __future__ import annotations

import os
import time
from types import TracebackType

import numpy as np
from numba import njit

from oms.errors import Rejected
from oms.shm.atomics import load_acquire, load_relaxed, store_relaxed, store_release
from oms.shm.segment import (
    H_READER,
    H_WRITER,
    KIND_RING,
    Segment,
    SegmentError,
    SegmentNotFound,
    process_alive,
)

HEAD = 48
CACHED_TAIL = 50
FULL_COUNT = 51
TAIL = 64
CACHED_HEAD = 65
CAPACITY = 80
MASK = 81
RING_CTRL_WORDS = 40  # words 48..87
MAX_CAPACITY = 1 << 30


# ---- producer -------------------------------------------------------------------------------------
@njit(cache=True, inline="always")
def _free(ctrl: np.ndarray, head: int, cap: int, n: int) -> int:
    """Free slots for the producer, refreshing CACHED_TAIL only when fewer than n look free."""
    free = cap - (head - load_relaxed(ctrl, CACHED_TAIL))
    if free < n:
        tail = load_acquire(ctrl, TAIL)  # protocol step 1: the only read of the consumer's line
        store_relaxed(ctrl, CACHED_TAIL, tail)
        free = cap - (head - tail)
    return free


@njit(cache=True, inline="always")
def _refused(ctrl: np.ndarray) -> None:
    store_relaxed(ctrl, FULL_COUNT, load_relaxed(ctrl, FULL_COUNT) + 1)


@njit(cache=True, inline="always")
def claim(ctrl: np.ndarray, n: int) -> int:
    """First sequence of n free slots (write them, then commit), or -1 if fewer than n are free."""
    h = load_relaxed(ctrl, HEAD)  # the producer's own index
    if n <= 0:
        return h if n == 0 else -1
    if _free(ctrl, h, load_relaxed(ctrl, CAPACITY), n) < n:
        _refused(ctrl)
        return -1
    return h


@njit(cache=True, inline="always")
def commit(ctrl: np.ndarray, seq_end: int) -> None:
    """Publish every claimed record below seq_end (protocol step 3: release store of HEAD)."""
    store_release(ctrl, HEAD, seq_end)


@njit(cache=True, inline="always")
def push(ctrl: np.ndarray, buf: np.ndarray, src: np.ndarray, i: int) -> bool:
    """Copy src[i] into the ring and publish it; False if the ring is full."""
    h = load_relaxed(ctrl, HEAD)
    cap = len(buf)
    if _free(ctrl, h, cap, 1) < 1:
        _refused(ctrl)
        return False
    buf[h & (cap - 1)] = src[i]
    store_release(ctrl, HEAD, h + 1)
    return True


@njit(cache=True, inline="always")
def push_batch(ctrl: np.ndarray, buf: np.ndarray, src: np.ndarray, n: int) -> int:
    """Copy up to n records src[0:n] (as many as fit) and publish them with one release store."""
    h = load_relaxed(ctrl, HEAD)
    cap = len(buf)
    k = min(n, _free(ctrl, h, cap, n))
    if k <= 0:
        if n > 0:
            _refused(ctrl)
        return 0
    mask = cap - 1
    for i in range(k):
        buf[(h + i) & mask] = src[i]
    store_release(ctrl, HEAD, h + k)
    return k


# ---- consumer -------------------------------------------------------------------------------------
@njit(cache=True, inline="always")
def read_seq(ctrl: np.ndarray) -> int:
    """The consumer's next sequence: record i of the readable run is buf[(read_seq + i) & mask]."""
    return load_relaxed(ctrl, TAIL)


@njit(cache=True, inline="always")
def _avail(ctrl: np.ndarray, t: int, want: int) -> int:
    """Readable records, re-reading HEAD only when fewer than `want` look readable."""
    c = load_relaxed(ctrl, CACHED_HEAD)
    if c - t >= want:
        return c - t
    h = load_acquire(ctrl, HEAD)  # protocol step 4: the only read of the producer's line
    if h != c:  # an empty poll stores nothing (a spinning consumer only reads)
        store_relaxed(ctrl, CACHED_HEAD, h)
    return h - t


@njit(cache=True, inline="always")
def available(ctrl: np.ndarray) -> int:
    """Records readable now; re-reads the producer's HEAD only when the cached copy says empty."""
    return _avail(ctrl, load_relaxed(ctrl, TAIL), 1)


@njit(cache=True, inline="always")
def release(ctrl: np.ndarray, n: int) -> None:
    """Hand n read slots back to the producer (protocol step 6: release store of TAIL)."""
    store_release(ctrl, TAIL, load_relaxed(ctrl, TAIL) + n)


@njit(cache=True, inline="always")
def pop_batch(ctrl: np.ndarray, buf: np.ndarray, out: np.ndarray, max_n: int) -> int:
    """Copy up to max_n records into out[0:n], release them, return n (0 if empty)."""
    t = load_relaxed(ctrl, TAIL)
    want = min(max_n, len(out))
    k = min(_avail(ctrl, t, want), want)
    if k <= 0:
        return 0
    mask = len(buf) - 1
    for i in range(k):
        out[i] = buf[(t + i) & mask]
    store_release(ctrl, TAIL, t + k)
    return k


# ---- shared -------------------------------------------------------------------------------------
@njit(cache=True)
def depth(ctrl: np.ndarray) -> int:
    """Records published and not yet released (a snapshot; either side may move right after).

    TAIL is read before HEAD so the result is never negative; clamped to the capacity."""
    t = load_acquire(ctrl, TAIL)
    h = load_acquire(ctrl, HEAD)
    return min(max(h - t, 0), load_relaxed(ctrl, CAPACITY))


@njit(cache=True)
def beat(ctrl: np.ndarray, now_ns: int) -> None:
    """Producer heartbeat from njit code (now_ns = CLOCK_MONOTONIC ns, e.g. oms.shm.wait.monotonic_ns())."""
    store_relaxed(ctrl, H_WRITER + 2, now_ns)


@njit(cache=True)
def _init(ctrl: np.ndarray, capacity: int) -> None:
    store_relaxed(ctrl, CAPACITY, capacity)
    store_relaxed(ctrl, MASK, capacity - 1)


def depth_of(words: tuple[int, ...]) -> int:
    """Depth from a header+ctrl snapshot (segment.inspect), for `oms shm ls`."""
    return max(words[HEAD] - words[TAIL], 0) if len(words) > TAIL else 0


def check_capacity(capacity: object) -> int:
    if not isinstance(capacity, (int, np.integer)) or isinstance(capacity, bool):
        raise Rejected(f"ring capacity must be an int, got {capacity!r}")
    c = int(capacity)
    if c < 2 or c > MAX_CAPACITY or c & (c - 1):
        lo = 1 << max(1, (max(c, 2) - 1).bit_length() - 1)
        raise Rejected(
            f"ring capacity {c} is not a power of two in [2, {MAX_CAPACITY}]: use e.g. {lo} or {lo * 2}"
        )
    return c


def check_dtype(dtype: object) -> np.dtype:
    try:
        dt = np.dtype(dtype)  # type: ignore[call-overload]
    except TypeError as e:
        raise Rejected(f"ring dtype {dtype!r} is not a numpy dtype: {e}") from None
    if dt.names is None or dt.hasobject or dt.itemsize == 0:
        raise Rejected(
            f"ring dtype {dt} must be a numpy structured dtype of fixed-size fields "
            "(e.g. oms.shm.records.COMMAND/EVENT/MARKET)"
        )
    return dt


class Ring:
    """Python face of one SPSC ring. `.ctrl` and `.buf` go into njit code; methods are for edges/tests."""

    def __init__(self, seg: Segment, dtype: np.dtype, producer: bool, consumer: bool) -> None:
        self.segment = seg
        self.name = seg.name
        self.dtype = dtype
        self.ctrl: np.ndarray = seg.words
        self.buf: np.ndarray = seg.data(dtype)
        self.capacity = seg.capacity
        self._one = np.zeros(1, dtype)
        self._pid = os.getpid()
        self._is_producer = False
        self._is_consumer = False
        if producer:
            self.register_producer()
        if consumer:
            self.register_consumer()

    @classmethod
    def create(
        cls,
        name: str,
        dtype: np.dtype,
        capacity: int,
        *,
        producer: bool = False,
        consumer: bool = False,
        replace_stale: bool = False,
    ) -> Ring:
        """Create the segment (fails if the name exists: see SegmentError's message for the fix)."""
        dt, cap = check_dtype(dtype), check_capacity(capacity)
        seg = Segment.create(
            name,
            KIND_RING,
            dt,
            cap,
            RING_CTRL_WORDS,
            replace_stale=replace_stale,
            init=lambda words: _init(words, cap),
        )
        return cls(seg, dt, producer, consumer)

    @classmethod
    def attach(
        cls,
        name: str,
        dtype: np.dtype,
        *,
        producer: bool = False,
        consumer: bool = False,
        allow_stale: bool = False,
        timeout: float = 1.0,
    ) -> Ring:
        """Attach to an existing ring; a wrong dtype, kind, or a stale/foreign segment is a SegmentError."""
        dt = check_dtype(dtype)
        seg = Segment.attach(name, KIND_RING, dt, allow_stale=allow_stale, timeout=timeout)
        cap = int(seg.words[CAPACITY])
        if cap != seg.capacity or cap & (cap - 1):
            seg.close()
            raise SegmentError(f"ring {name!r} has a corrupt control block (capacity {cap})")
        return cls(seg, dt, producer, consumer)

    # ---- roles and liveness ------------------------------------------------------------------
    def register_producer(self) -> None:
        """Record this process as the producer (pid, start time) and beat; publish() does it lazily."""
        self.segment.register(H_WRITER)
        self._is_producer = True
        self._pid = os.getpid()

    def register_consumer(self) -> None:
        self.segment.register(H_READER)
        self._is_consumer = True

    def heartbeat(self) -> None:
        """Producer heartbeat (call from the producer's loop, e.g. every 100 ms)."""
        if not self._is_producer or self._pid != os.getpid():
            self.register_producer()
        else:
            self.segment.beat(H_WRITER)

    def producer_pid(self) -> int:
        return self.segment.party(H_WRITER)[0]

    def heartbeat_age(self) -> float | None:
        """Seconds since the producer's last heartbeat; None if no producer ever registered."""
        beat_ns = self.segment.party(H_WRITER)[2]
        return None if beat_ns == 0 else (time.monotonic_ns() - beat_ns) / 1e9

    def producer_alive(self, stale_after_s: float | None = None) -> bool:
        """False if no producer registered, its process is gone/zombie/reused, or (when stale_after_s is
        given) its heartbeat is older than that many seconds."""
        pid, start_us, beat_ns = self.segment.party(H_WRITER)
        if not process_alive(pid, start_us):
            return False
        return stale_after_s is None or (time.monotonic_ns() - beat_ns) / 1e9 <= stale_after_s

    # ---- data --------------------------------------------------------------------------------
    def publish(self, rec: object) -> bool:
        """Copy one record in and publish it; False if the ring is full."""
        if not self._is_producer:
            self.register_producer()
        self._one[0] = rec
        return bool(push(self.ctrl, self.buf, self._one, 0))

    def publish_batch(self, arr: np.ndarray) -> int:
        """Publish as many of arr's records as fit (one release store); returns how many."""
        if not self._is_producer:
            self.register_producer()
        if not isinstance(arr, np.ndarray) or arr.dtype != self.dtype or arr.ndim != 1:
            raise Rejected(
                f"ring {self.name!r} takes a 1-D array of dtype {self.segment.label}, got "
                f"{getattr(arr, 'dtype', type(arr).__name__)}"
            )
        return int(push_batch(self.ctrl, self.buf, np.ascontiguousarray(arr), len(arr)))

    def consume(self, out: np.ndarray) -> int:
        """Copy up to len(out) records into out and release them; returns how many (0 if empty)."""
        if not self._is_consumer:
            self.register_consumer()
        if not isinstance(out, np.ndarray) or out.dtype != self.dtype or out.ndim != 1:
            raise Rejected(
                f"ring {self.name!r} consume() needs a 1-D array of dtype {self.segment.label}, got "
                f"{getattr(out, 'dtype', type(out).__name__)}"
            )
        return int(pop_batch(self.ctrl, self.buf, out, len(out)))

    def depth(self) -> int:
        return int(depth(self.ctrl))

    def full_count(self) -> int:
        """How many claims/publishes found the ring full (producer back-pressure events)."""
        return int(self.ctrl[FULL_COUNT])

    # ---- lifetime ----------------------------------------------------------------------------
    def close(self) -> None:
        self.buf = self.ctrl = self._one = None  # type: ignore[assignment]
        self.segment.close()

    def unlink(self) -> None:
        self.segment.unlink()

    def __enter__(self) -> Ring:
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Ring({self.name!r}, {self.segment.label}, capacity={self.capacity})"


def open_ring(
    name: str,
    dtype: np.dtype,
    capacity: int,
    *,
    producer: bool,
    create: bool = True,
    timeout: float = 3.0,
) -> Ring:
    """The one way a program opens its end of a ring: attach, or create when missing (`create`).

    Whichever side starts first creates the ring. A ring whose creator is gone (the previous run of
    either side, killed) is attached as it is — never replaced — so records queued while a program was
    down are still delivered in order, and both sides of a restarted pair always meet on the same
    segment. A segment caught half-initialised by its creator is retried until `timeout`; a wrong
    dtype or a foreign segment is a SegmentError at once (its message says how to fix it).
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            return Ring.attach(
                name, dtype, producer=producer, consumer=not producer, timeout=0.05, allow_stale=True
            )
        except SegmentNotFound:
            if create:
                try:
                    return Ring.create(name, dtype, capacity, producer=producer, consumer=not producer)
                except SegmentError:
                    # the other side created it a moment ago: attach, waiting for its header
                    wait = max(1.0, deadline - time.monotonic())
                    return Ring.attach(
                        name, dtype, producer=producer, consumer=not producer, timeout=wait, allow_stale=True
                    )
            if time.monotonic() > deadline:
                raise
        time.sleep(0.01)
