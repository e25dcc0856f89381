"""Atomics: each intrinsic's semantics, and a spin-wait on another process's store that terminates."""

from __future__ import annotations

import subprocess
import sys
import time

import numpy as np
import pytest
from numba import njit
from numba.core.errors import TypingError

from oms.shm import records
from oms.shm.atomics import (
    compare_exchange,
    cpu_pause,
    fence_acquire,
    fence_release,
    fence_seq_cst,
    fetch_add,
    load_acquire,
    load_relaxed,
    store_relaxed,
    store_release,
)
from oms.shm.segment import KIND_RING, Segment

WORD = 50  # a control word past the header


@njit(cache=True)
def _exercise(a: np.ndarray) -> tuple[int, int, bool, bool, int, int]:
    store_release(a, 0, 5)
    x = load_acquire(a, 0)
    old = fetch_add(a, 1, 3)
    old2 = fetch_add(a, 1, 4)
    ok = compare_exchange(a, 2, 0, 9)
    bad = compare_exchange(a, 2, 0, 10)
    fence_acquire()
    fence_release()
    fence_seq_cst()
    cpu_pause()
    store_relaxed(a, 3, -1)
    return x, old + old2, ok, bad, load_relaxed(a, 3), load_relaxed(a, 1)


def test_semantics() -> None:
    a = np.zeros(4, np.uint64)
    x, olds, ok, bad, neg, total = _exercise(a)
    assert (x, olds, ok, bad, neg, total) == (5, 3, True, False, -1, 7)
    assert a.tolist() == [5, 7, 9, 2**64 - 1]  # -1 stored as the uint64 bit pattern


def test_rejects_wrong_array_type() -> None:
    @njit
    def bad(a: np.ndarray) -> int:
        return load_acquire(a, 0)

    with pytest.raises((TypeError, TypingError), match="1-D uint64 array"):
        bad(np.zeros(4, np.int32))


@njit(cache=True)
def _spin_atomic(a: np.ndarray, i: int, limit: int) -> int:
    n = 0
    while load_acquire(a, i) == 0 and n < limit:
        n += 1
    return n


@njit(cache=True)
def _spin_plain(a: np.ndarray, i: int, limit: int) -> int:
    n = 0
    while a[i] == 0 and n < limit:
        n += 1
    return n


_WRITER = (
    "import mmap, sys, time, numpy as np, posix_ipc\n"
    "s = posix_ipc.SharedMemory('/' + sys.argv[1]); m = mmap.mmap(s.fd, s.size)\n"
    f"a = np.frombuffer(m, np.uint64, 56); time.sleep(0.2); a[{WORD}] = 1\n"
)


def _spin_against_other_process(shm_prefix: str, fn) -> tuple[int, float]:  # type: ignore[no-untyped-def]
    seg = Segment.create(shm_prefix + "spin", KIND_RING, records.MARKET, 2, 8)
    try:
        fn(seg.words, WORD, 1)  # compile before the writer starts its clock
        seg.words[WORD] = 0
        p = subprocess.Popen([sys.executable, "-c", _WRITER, shm_prefix + "spin"])
        t0 = time.perf_counter()
        n = fn(seg.words, WORD, 10**11)  # ~minutes of real spinning: never reached when the store is seen
        dt = time.perf_counter() - t0
        assert p.wait(timeout=30) == 0
        return n, dt
    finally:
        seg.close()
        seg.unlink()


def test_spin_wait_sees_other_process_store(shm_prefix: str) -> None:
    n, dt = _spin_against_other_process(shm_prefix, _spin_atomic)
    assert n < 10**11, "spin loop ran to its limit: the other process's store was never observed"
    assert 0.05 < dt < 20


def test_premise_plain_load_is_hoisted(shm_prefix: str) -> None:
    """Why atomics.py exists: LLVM hoists a plain load out of the loop, which then 'finishes' 10^11
    iterations at once without ever seeing the other process's store."""
    n, dt = _spin_against_other_process(shm_prefix, _spin_plain)
    assert n == 10**11 and dt < 0.1
