"""Selftest room: verifying producer/consumer loops for rings, used by the stress tests and bench/ring.py.

Touches only the ring it is given. The producer writes MARKET records whose every field is a function of
the record's sequence number; the consumer checks each record against that function (catches torn,
lost, duplicated and reordered records at once) and folds them into a checksum the producer computes
too. Both loops are njit, resumable (progress lives in an int64 state array) and return to Python after
`max_idle_ns` without progress, so the caller can check whether the peer is alive.

Run a producer as its own process: `python -m oms.shm.selftest produce NAME N [--batch B]`, or a BBO
table writer: `python -m oms.shm.selftest table-writer NAME SECONDS`.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
from numba import njit

from oms.shm import records
from oms.shm.ring import Ring, available, beat, claim, commit, read_seq, release
from oms.shm.table import BboTable, bbo_read_tries, bbo_write
from oms.shm.wait import Backoff, backoff_idle, backoff_reset, monotonic_ns

# state words
P_SENT, P_SUM = 0, 1
C_GOT, C_SUM, C_ERRORS, C_FIRST_BAD = 0, 1, 2, 3
STATE_WORDS = 8

DONE = 0
IDLE = 1  # no progress for max_idle_ns: peer may be gone
BAD = 2  # consumer saw a wrong record (C_FIRST_BAD = its expected sequence)

_GOLDEN = -7046029254386353131  # 0x9E3779B97F4A7C15 as int64


@njit(cache=True, inline="always")
def mix(s: int) -> int:
    """splitmix64-style finaliser on int64 (wrapping arithmetic): the payload derived from a sequence."""
    x = s * _GOLDEN
    x ^= (x >> 31) & 0x1FFFFFFFF
    x *= -4658895280553007687  # 0xBF58476D1CE4E5B9
    x ^= (x >> 29) & 0x7FFFFFFFF
    return x


@njit(cache=True, inline="always")
def _fill(buf: np.ndarray, j: int, s: int) -> int:
    r = buf[j]
    m = mix(s)
    r.kind = records.MD_TRADE
    r.side = 1 if m & 1 else -1
    r.flags = s & 0xFFFF
    r.instrument = s & 0xFFFFFFFF
    r.price = m
    r.qty = ~m
    r.ask_price = m ^ s
    r.ask_qty = s * 3
    r.seq = s
    r.ts_venue_ns = m + 7
    r.ts_ns = s
    return m


@njit(cache=True, inline="always")
def _check(buf: np.ndarray, j: int, s: int) -> bool:
    r = buf[j]
    m = mix(s)
    return (
        r.seq == s
        and r.price == m
        and r.qty == ~m
        and r.ask_price == (m ^ s)
        and r.ask_qty == s * 3
        and r.ts_venue_ns == m + 7
        and r.ts_ns == s
        and r.instrument == (s & 0xFFFFFFFF)
        and r.flags == (s & 0xFFFF)
    )


@njit(cache=True, _nrt=False)
def produce(ctrl: np.ndarray, buf: np.ndarray, st: np.ndarray, n: int, batch: int,
            backoff: np.ndarray, max_idle_ns: int) -> int:  # fmt: skip
    """Publish records st[P_SENT]..n-1 in claims of `batch`; DONE, or IDLE if the ring stayed full."""
    mask = len(buf) - 1
    idle_since = 0
    while st[P_SENT] < n:
        k = min(batch, n - st[P_SENT])
        seq = claim(ctrl, k)
        if seq < 0:
            if idle_since == 0:
                idle_since = monotonic_ns()
            elif monotonic_ns() - idle_since > max_idle_ns:
                return IDLE
            backoff_idle(backoff)
            continue
        if idle_since != 0:
            idle_since = 0
            backoff_reset(backoff)
        acc = st[P_SUM]
        for i in range(k):
            acc += _fill(buf, (seq + i) & mask, seq + i)
        commit(ctrl, seq + k)
        st[P_SUM] = acc
        sent = st[P_SENT] + k
        st[P_SENT] = sent
        if (sent & 0xFFFFF) < k:
            beat(ctrl, monotonic_ns())
    beat(ctrl, monotonic_ns())
    return DONE


@njit(cache=True, _nrt=False)
def consume(ctrl: np.ndarray, buf: np.ndarray, st: np.ndarray, n: int, batch: int,
            backoff: np.ndarray, max_idle_ns: int) -> int:  # fmt: skip
    """Read and verify records until st[C_GOT] == n, reading at most `batch` per release."""
    mask = len(buf) - 1
    idle_since = 0
    while st[C_GOT] < n:
        a = available(ctrl)
        if a == 0:
            if idle_since == 0:
                idle_since = monotonic_ns()
            elif monotonic_ns() - idle_since > max_idle_ns:
                return IDLE
            backoff_idle(backoff)
            continue
        if idle_since != 0:
            idle_since = 0
            backoff_reset(backoff)
        k = min(a, batch)
        t = read_seq(ctrl)
        acc = st[C_SUM]
        for i in range(k):
            s = t + i
            if s != st[C_GOT] + i or not _check(buf, (s) & mask, s):
                st[C_ERRORS] += 1
                st[C_FIRST_BAD] = st[C_GOT] + i
                return BAD
            acc += buf[s & mask].price
        release(ctrl, k)
        st[C_SUM] = acc
        st[C_GOT] += k
    return DONE


@njit(cache=True)
def table_write_loop(ctrl: np.ndarray, rows: np.ndarray, seconds: float, beat_every: int) -> int:
    """Rewrite every row round-robin for `seconds`; row values all derive from one counter v, so a
    torn copy is detectable. Returns the number of row updates."""
    end = monotonic_ns() + int(seconds * 1e9)
    v = 0
    n = len(rows)
    while True:
        for i in range(n):
            v += 1
            bbo_write(ctrl, rows, i, v, v * 3, v + 1, v * 5, v ^ 0x5555, v * 7)
        if (v // n) % beat_every == 0:
            beat(ctrl, monotonic_ns())
            if monotonic_ns() > end:
                return v


@njit(cache=True)
def table_read_check(ctrl: np.ndarray, rows: np.ndarray, reads: int, out: np.ndarray,
                     st: np.ndarray) -> int:  # fmt: skip
    """Read rows round-robin `reads` times; st = [ok, retried, busy, torn, max_seq]. Returns torn."""
    n = len(rows)
    for k in range(reads):
        i = k % n
        tries = bbo_read_tries(ctrl, rows, i, out, 1000)
        if tries == 0:
            st[2] += 1
            continue
        if tries > 1:
            st[1] += 1
        r = out[0]
        v = r.bid_px
        if r.seq != 0 and (
            r.bid_qty != v * 3
            or r.ask_px != v + 1
            or r.ask_qty != v * 5
            or r.mark_px != (v ^ 0x5555)
            or r.ts_ns != v * 7
            or r.instrument != i
        ):
            st[3] += 1
        else:
            st[0] += 1
        if r.seq > st[4]:
            st[4] = r.seq
    return st[3]


def run_table_writer(name: str, seconds: float) -> int:
    table = BboTable.attach(name, timeout=10.0)
    table.heartbeat()
    n = table_write_loop(table.ctrl, table.rows, seconds, 64)
    print(f"updates {n}", flush=True)
    table.close()
    return 0


@njit(cache=True)
def expected_sum(n: int) -> int:
    acc = 0
    for s in range(n):
        acc += mix(s)
    return acc


def run_producer(name: str, n: int, batch: int, max_idle_s: float = 10.0) -> int:
    """Attach as producer and publish n verifiable records; returns a process exit code."""
    ring = Ring.attach(name, records.MARKET, producer=True, timeout=10.0)
    st = np.zeros(STATE_WORDS, np.int64)
    bo = Backoff()
    while True:
        rc = produce(ring.ctrl, ring.buf, st, n, batch, bo.state, int(max_idle_s * 1e9))
        if rc == DONE:
            print(f"sent {int(st[P_SENT])} sum {int(st[P_SUM])}", flush=True)
            ring.close()
            return 0
        ring.heartbeat()
        print(f"producer idle: ring full for {max_idle_s}s at {int(st[P_SENT])}", file=sys.stderr)
        ring.close()
        return 3


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m oms.shm.selftest")
    sub = p.add_subparsers(dest="cmd", required=True)
    pp = sub.add_parser("produce", help="publish N verifiable MARKET records into an existing ring")
    pp.add_argument("name")
    pp.add_argument("n", type=int)
    pp.add_argument("--batch", type=int, default=64)
    pp.add_argument("--core", type=int, default=None)
    pp.add_argument("--max-idle-s", type=float, default=10.0)
    tw = sub.add_parser("table-writer", help="rewrite every row of an existing BBO table for SECONDS")
    tw.add_argument("name")
    tw.add_argument("seconds", type=float)
    tw.add_argument("--core", type=int, default=None)
    a = p.parse_args(argv)
    if a.core is not None:
        from oms import pinning

        pinning.pin_self(a.core)
    if a.cmd == "table-writer":
        return run_table_writer(a.name, a.seconds)
    return run_producer(a.name, a.n, a.batch, a.max_idle_s)


if __name__ == "__main__":
    raise SystemExit(main())
