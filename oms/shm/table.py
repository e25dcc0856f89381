"""Table room: seqlock-protected snapshot tables in shared memory (the BBO per instrument).

Touches only the segment it creates or attaches. One writer process (marketdata), any number of readers
(engine, gateway, router), no locks: readers never block the writer and detect torn reads themselves.

Layout (`ctrl` = the whole segment as uint64 words, rows included: row i's seq word is
`ctrl[H_DATA_OFFSET / 8 + 8 * i]`):

| offset         | size | field                       | writer                          | readers         |
|----------------|------|-----------------------------|---------------------------------|-----------------|
| 0              | 384  | segment header (16-18: writer pid/start/heartbeat) | creator, writer | all     |
| 384            | 64   | table ctrl: word 48 = rows  | creator                         | all             |
| 448 + 64*i     | 8    | row i `seq` (seqlock word)  | writer: relaxed odd, release even | acquire/relaxed |
| 448 + 64*i + 8 | 56   | row i payload (records.BBO) | writer, plain stores            | plain loads     |

Row i is instrument id i, one 64-byte cache line (seq and payload together: one line miss per read).

Write protocol (one writer per table):
 1. s = seq (relaxed; only the writer writes it, s is even).
 2. store_relaxed(seq, s + 1)      (odd: "being written")
 3. fence_release()                (orders step 2 before the payload stores of step 4)
 4. plain stores of the payload
 5. store_release(seq, s + 2)      (payload stores become visible no later than the even seq)
Read protocol (`bbo_read`):
 1. s1 = load_acquire(seq); odd → writer busy: pause and retry.
 2. copy the row (plain loads)
 3. fence_acquire()                (orders the loads of step 2 before the load of step 4)
 4. s2 = load_relaxed(seq); s1 == s2 → the copy is one writer's complete update; else retry.

Why it holds (Boehm, "Can seqlocks get along with programming language memory models?", 2012): if the
copy read any store of update k+1, the fence pair (writer 3 / reader 3) makes the reader's step 4 see
at least the odd value written by update k+1's step 2, so s2 != s1. If s1 == s2 is even, every payload
load saw update s1/2 exactly. Readers retry up to `max_tries`; `bbo_read` returns False when the row
stayed busy (a writer updating one row continuously), never a torn copy.
"""

from __future__ import annotations

from types import TracebackType

import numpy as np
from numba import njit

from oms.errors import Rejected, Transient
from oms.shm import records
from oms.shm.atomics import (
    cpu_pause,
    fence_acquire,
    fence_release,
    load_acquire,
    load_relaxed,
    store_relaxed,
    store_release,
)
from oms.shm.segment import H_DATA_OFFSET, H_WRITER, KIND_TABLE, Segment, process_alive

ROWS = 48
TABLE_CTRL_WORDS = 8
ROW_WORDS = 8
MAX_ROWS = 1 << 24
READ_TRIES = 1000


@njit(cache=True, inline="always")
def _seq_word(ctrl: np.ndarray, i: int) -> int:
    return load_relaxed(ctrl, H_DATA_OFFSET) // 8 + i * ROW_WORDS


@njit(cache=True)
def bbo_write(ctrl: np.ndarray, rows: np.ndarray, i: int, bid_px: int, bid_qty: int,
              ask_px: int, ask_qty: int, mark_px: int, ts_ns: int) -> bool:  # fmt: skip
    """Publish one instrument's BBO (write protocol above); False if `i` is not a row."""
    if i < 0 or i >= len(rows):
        return False
    w = _seq_word(ctrl, i)
    s = load_relaxed(ctrl, w)
    store_relaxed(ctrl, w, s + 1)
    fence_release()
    r = rows[i]
    r.bid_px = bid_px
    r.bid_qty = bid_qty
    r.ask_px = ask_px
    r.ask_qty = ask_qty
    r.mark_px = mark_px
    r.ts_ns = ts_ns
    r.instrument = i
    store_release(ctrl, w, s + 2)
    return True


@njit(cache=True)
def bbo_read_tries(ctrl: np.ndarray, rows: np.ndarray, i: int, out: np.ndarray, max_tries: int) -> int:
    """Copy row i into out[0]; returns the number of attempts used (1 = first try), or 0 if the row
    stayed busy for max_tries attempts or `i` is not a row (out[0] is then unspecified)."""
    if i < 0 or i >= len(rows):
        return 0
    w = _seq_word(ctrl, i)
    for attempt in range(max_tries):
        s1 = load_acquire(ctrl, w)
        if s1 & 1:
            cpu_pause()
            continue
        out[0] = rows[i]
        fence_acquire()
        s2 = load_relaxed(ctrl, w)
        if s1 == s2:
            out[0].seq = s1  # the copy's own seq word was a racy plain load; use the validated value
            return attempt + 1
        cpu_pause()
    return 0


@njit(cache=True)
def bbo_read(ctrl: np.ndarray, rows: np.ndarray, i: int, out: np.ndarray) -> bool:
    """Consistent snapshot of row i into out[0] (out[0].seq == 0: never written). False if the row
    stayed busy for READ_TRIES attempts or `i` is not a row; never a torn copy."""
    return bbo_read_tries(ctrl, rows, i, out, READ_TRIES) > 0


@njit(cache=True)
def _init(ctrl: np.ndarray, n: int) -> None:
    store_relaxed(ctrl, ROWS, n)


class BboTable:
    """Python face of the BBO table. `.ctrl` and `.rows` go into njit code (bbo_read / bbo_write)."""

    def __init__(self, seg: Segment) -> None:
        self.segment = seg
        self.name = seg.name
        self.ctrl: np.ndarray = seg.all_words()
        self.rows: np.ndarray = seg.data(records.BBO)
        self.n_instruments = seg.capacity
        self._out = np.zeros(1, records.BBO)
        self._writer = False

    @classmethod
    def create(cls, name: str, n_instruments: int, *, replace_stale: bool = False) -> BboTable:
        if not isinstance(n_instruments, (int, np.integer)) or not 1 <= int(n_instruments) <= MAX_ROWS:
            raise Rejected(
                f"BBO table size {n_instruments!r} must be an int in [1, {MAX_ROWS}] "
                "(one row per instrument id: use max instrument id + 1)"
            )
        n = int(n_instruments)
        seg = Segment.create(
            name,
            KIND_TABLE,
            records.BBO,
            n,
            TABLE_CTRL_WORDS,
            replace_stale=replace_stale,
            init=lambda words: _init(words, n),
        )
        return cls(seg)

    @classmethod
    def attach(cls, name: str, *, allow_stale: bool = False, timeout: float = 1.0) -> BboTable:
        return cls(Segment.attach(name, KIND_TABLE, records.BBO, allow_stale=allow_stale, timeout=timeout))

    def _row_index(self, instrument: int) -> int:
        if not isinstance(instrument, (int, np.integer)) or not 0 <= int(instrument) < self.n_instruments:
            raise Rejected(
                f"instrument {instrument!r} is outside BBO table {self.name!r} "
                f"(rows 0..{self.n_instruments - 1}): create the table with n_instruments > the "
                "largest instrument id"
            )
        return int(instrument)

    def write(self, instrument: int, bid_px: int, bid_qty: int, ask_px: int, ask_qty: int,
              mark_px: int, ts_ns: int) -> None:  # fmt: skip
        if not self._writer:
            self.segment.register(H_WRITER)
            self._writer = True
        i = self._row_index(instrument)
        bbo_write(self.ctrl, self.rows, i, bid_px, bid_qty, ask_px, ask_qty, mark_px, ts_ns)

    def heartbeat(self) -> None:
        if not self._writer:
            self.segment.register(H_WRITER)
            self._writer = True
        else:
            self.segment.beat(H_WRITER)

    def writer_alive(self) -> bool:
        pid, start_us, _ = self.segment.party(H_WRITER)
        return process_alive(pid, start_us)

    def read(self, instrument: int) -> np.void:
        """A consistent copy of the instrument's row (`.seq == 0`: never written)."""
        i = self._row_index(instrument)
        if not bbo_read(self.ctrl, self.rows, i, self._out):
            raise Transient(f"BBO row {i} of {self.name!r} stayed busy for {READ_TRIES} read attempts")
        return self._out[0].copy()

    def close(self) -> None:
        self.rows = self.ctrl = self._out = None  # type: ignore[assignment]
        self.segment.close()

    def unlink(self) -> None:
        self.segment.unlink()

    def __enter__(self) -> BboTable:
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
