"""Ring stress between two real processes: no loss, duplicate or reorder over 10^8 records (10^7 with
CI=true; OMS_SHM_STRESS_N overrides), many wrap-arounds, full/empty edges; SIGKILL of the producer is
detected by the consumer within a bounded time.

The producer is `python -m oms.shm.selftest produce` (its own interpreter); this test process is the
consumer. Every record's fields derive from its sequence number and the consumer checks each one, so a
torn, lost, duplicated or reordered record fails at the first bad sequence; the checksum of everything
read must equal the producer's and the closed-form expectation.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from oms.shm import records, selftest
from oms.shm.ring import Ring
from oms.shm.wait import Backoff, BackoffConfig

CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
N = int(os.environ.get("OMS_SHM_STRESS_N", 10**7 if CI else 10**8))


def _producer(name: str, n: int, batch: int) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "oms.shm.selftest", "produce", name, str(n), "--batch", str(batch)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _consume_all(ring: Ring, proc: subprocess.Popen[str], n: int, batch: int) -> np.ndarray:
    st = np.zeros(selftest.STATE_WORDS, np.int64)
    bo = Backoff(BackoffConfig(pure_spin=False))
    deadline = time.monotonic() + 240
    while True:
        rc = selftest.consume(ring.ctrl, ring.buf, st, n, batch, bo.state, 2_000_000_000)
        if rc != selftest.IDLE:
            break
        if proc.poll() is not None and ring.depth() == 0:
            pytest.fail(f"producer exited ({proc.returncode}) after {st[0]} records: {proc.stderr.read()}")
        assert time.monotonic() < deadline, f"no progress: {st[0]} of {n} records"
    assert rc == selftest.DONE, f"record {st[selftest.C_FIRST_BAD]} was lost, duplicated, reordered or torn"
    return st


@pytest.mark.slow
@pytest.mark.parametrize(
    ("capacity", "pbatch", "cbatch", "n"),
    [
        pytest.param(4096, 64, 4096, N, id="batched-64"),
        pytest.param(256, 1, 1, N // 10, id="unbatched"),
        pytest.param(64, 7, 13, N // 20, id="small-ring-odd-batches"),
    ],
)
def test_two_processes_exchange(shm_prefix: str, capacity: int, pbatch: int, cbatch: int, n: int) -> None:
    name = shm_prefix + "stress"
    with Ring.create(name, records.MARKET, capacity, consumer=True) as ring:
        proc = _producer(name, n, pbatch)
        try:
            t0 = time.perf_counter()
            st = _consume_all(ring, proc, n, cbatch)
            dt = time.perf_counter() - t0
            out, err = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        assert proc.returncode == 0, err
        assert int(st[selftest.C_GOT]) == n and int(st[selftest.C_ERRORS]) == 0
        sent, psum = out.split()[1], int(out.split()[3])
        assert int(sent) == n
        assert int(st[selftest.C_SUM]) == psum == selftest.expected_sum(n)
        assert ring.depth() == 0 and int(ring.ctrl[selftest.P_SENT + 48]) == n  # HEAD == n
        wraps = n // capacity
        print(
            f"\n{n} records, {wraps} wraps, {dt:.2f}s, {n / dt / 1e6:.1f} M rec/s, full={ring.full_count()}"
        )
        assert wraps >= 1000


def test_sigkill_of_producer_is_detected_quickly(shm_prefix: str) -> None:
    name = shm_prefix + "kill"
    bound_s = 1.0
    with Ring.create(name, records.MARKET, 1024, consumer=True) as ring:
        proc = _producer(name, 10**15, 64)  # would run for days
        try:
            st = np.zeros(selftest.STATE_WORDS, np.int64)
            bo = Backoff(BackoffConfig(pure_spin=False))
            # read (and verify) until well past warm-up
            target = 200_000
            deadline = time.monotonic() + 60
            while st[selftest.C_GOT] < target:
                rc = selftest.consume(ring.ctrl, ring.buf, st, target, 256, bo.state, 50_000_000)
                assert rc != selftest.BAD
                assert time.monotonic() < deadline and proc.poll() is None, proc.stderr.read()
            assert ring.producer_alive()
            os.kill(proc.pid, signal.SIGKILL)  # not reaped yet: a zombie must count as dead
            t_kill = time.monotonic()
            while True:
                rc = selftest.consume(ring.ctrl, ring.buf, st, 10**15, 256, bo.state, 20_000_000)
                assert rc != selftest.BAD, f"torn/lost record {st[selftest.C_FIRST_BAD]}"
                if not ring.producer_alive():
                    break
                assert time.monotonic() - t_kill < bound_s * 5, "producer death not detected"
            detected = time.monotonic() - t_kill
        finally:
            proc.kill()
            proc.wait()
        print(f"\nproducer SIGKILL detected after {detected * 1e3:.1f} ms, {st[0]} records verified")
        assert detected < bound_s
        assert ring.depth() == 0  # everything it published before dying was read
