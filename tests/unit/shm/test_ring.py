"""Ring: full and empty edges, batch sizes 1..capacity, cached opposite index, the njit contract."""

from __future__ import annotations

import numpy as np
import pytest
from numba import njit

from oms.errors import Rejected
from oms.shm import records
from oms.shm import ring as R
from oms.shm.ring import Ring

CAP = 64


def _recs(start: int, n: int) -> np.ndarray:
    a = np.zeros(n, records.MARKET)
    a["seq"] = np.arange(start, start + n)
    a["price"] = a["seq"] * 7 + 1
    return a


def test_empty_and_full_edges(shm_prefix: str) -> None:
    with Ring.create(shm_prefix + "r", records.MARKET, CAP) as r:
        out = np.zeros(CAP * 2, records.MARKET)
        assert r.consume(out) == 0 and r.depth() == 0  # empty
        assert R.available(r.ctrl) == 0 and R.claim(r.ctrl, CAP + 1) == -1  # more than capacity never fits
        assert r.publish_batch(_recs(0, CAP)) == CAP and r.depth() == CAP  # exactly full
        assert not r.publish(_recs(CAP, 1)[0])  # full: refused, nothing changed
        assert r.publish_batch(_recs(CAP, 5)) == 0 and r.full_count() == 3  # claim(CAP+1) counted too
        assert r.consume(out[:1]) == 1 and out[0]["seq"] == 0
        assert r.publish(_recs(CAP, 1)[0]) and not r.publish(_recs(CAP + 1, 1)[0])  # one slot freed, used
        assert r.consume(out) == CAP
        assert out["seq"][:CAP].tolist() == list(range(1, CAP + 1))
        assert r.consume(out) == 0 and r.depth() == 0


@pytest.mark.parametrize("batch", [*range(1, CAP + 1)])
def test_batch_sizes_wrap_many_times(shm_prefix: str, batch: int) -> None:
    """Publish in batches of `batch`, consume in a different batch size, across ~20 wraps."""
    with Ring.create(shm_prefix + "r", records.MARKET, CAP) as r:
        total = CAP * 20 + batch
        sent = got = 0
        out = np.zeros(CAP, records.MARKET)
        seen: list[int] = []
        take = max(1, CAP - batch + 1)  # consume sizes vary inversely with the publish batch
        while got < total:
            if sent < total:
                sent += r.publish_batch(_recs(sent, min(batch, total - sent)))
            n = r.consume(out[:take])
            seen.extend(out["seq"][:n].tolist())
            assert (out["price"][:n] == out["seq"][:n] * 7 + 1).all()
            got += n
        assert seen == list(range(total))
        assert int(r.ctrl[R.HEAD]) == total == int(r.ctrl[R.TAIL])  # monotonic sequences, never reset


def test_producer_reads_tail_only_when_ring_looks_full(shm_prefix: str) -> None:
    with Ring.create(shm_prefix + "r", records.MARKET, 8) as r:
        out = np.zeros(8, records.MARKET)
        for i in range(8):
            assert r.publish(_recs(i, 1)[0])
        assert int(r.ctrl[R.CACHED_TAIL]) == 0
        assert r.consume(out[:3]) == 3
        assert int(r.ctrl[R.CACHED_TAIL]) == 0  # producer has not looked yet
        assert r.publish(_recs(8, 1)[0])  # looked full: refreshed the cache once
        assert int(r.ctrl[R.CACHED_TAIL]) == 3
        # consumer side: CACHED_HEAD refreshes only when the cached view says empty
        assert r.consume(out[:1]) == 1
        head_cache = int(r.ctrl[R.CACHED_HEAD])
        assert r.publish(_recs(9, 1)[0])
        assert int(r.ctrl[R.CACHED_HEAD]) == head_cache  # still had cached records, no re-read


@njit(cache=True)
def _njit_roundtrip(ctrl: np.ndarray, buf: np.ndarray, n: int) -> int:
    """Claim/commit/available/read_seq/release exactly as another njit loop would use them."""
    mask = len(buf) - 1
    total = 0
    for _ in range(n):
        seq = R.claim(ctrl, 3)
        if seq < 0:
            return -1
        for i in range(3):
            buf[(seq + i) & mask].seq = seq + i
        R.commit(ctrl, seq + 3)
        a = R.available(ctrl)
        t = R.read_seq(ctrl)
        for i in range(a):
            if buf[(t + i) & mask].seq != t + i:
                return -2
            total += 1
        R.release(ctrl, a)
    return total


def test_njit_contract(shm_prefix: str) -> None:
    with Ring.create(shm_prefix + "r", records.MARKET, 8) as r:
        assert _njit_roundtrip(r.ctrl, r.buf, 100) == 300
        assert R.claim(r.ctrl, 0) == 300 and R.claim(r.ctrl, -1) == -1
        src = _recs(300, 8)
        assert R.push(r.ctrl, r.buf, src, 0)
        assert R.push_batch(r.ctrl, r.buf, src[1:], 10) == 7  # partial: only 7 free
        out = np.zeros(8, records.MARKET)
        assert R.pop_batch(r.ctrl, r.buf, out, 5) == 5 and R.depth(r.ctrl) == 3


def test_python_face_rejects_wrong_arrays(shm_prefix: str) -> None:
    with Ring.create(shm_prefix + "r", records.MARKET, 8) as r:
        with pytest.raises(Rejected, match="takes a 1-D array of dtype MARKET"):
            r.publish_batch(np.zeros(2, records.COMMAND))
        with pytest.raises(Rejected, match="consume\\(\\) needs a 1-D array of dtype MARKET"):
            r.consume(np.zeros(2, np.int64))


def test_attach_sees_same_ring_and_producer_liveness(shm_prefix: str, run_py) -> None:  # type: ignore[no-untyped-def]
    name = shm_prefix + "r"
    with Ring.create(name, records.MARKET, 16, consumer=True) as r:
        assert not r.producer_alive() and r.heartbeat_age() is None  # no producer registered yet
        code = (
            "import numpy as np\nfrom oms.shm.ring import Ring\nfrom oms.shm import records\n"
            f"r = Ring.attach({name!r}, records.MARKET)\nprint(r.publish_batch(np.zeros(5, records.MARKET)))"
        )
        res = run_py(code)
        assert res.returncode == 0 and res.stdout.strip() == "5", res.stderr
        assert r.depth() == 5 and r.producer_pid() not in (0,)
        assert not r.producer_alive()  # it exited
        r.heartbeat()  # now this process is the producer
        assert r.producer_alive() and r.producer_alive(stale_after_s=60.0)
        assert not r.producer_alive(stale_after_s=-1.0)  # heartbeat age check


@njit(_nrt=False)
def _hot_caller(ctrl: np.ndarray, buf: np.ndarray, src: np.ndarray, out: np.ndarray) -> int:
    k = 0
    if R.push(ctrl, buf, src, 0):
        k += R.push_batch(ctrl, buf, src, 2)
        k += R.pop_batch(ctrl, buf, out, 4)
        n = R.available(ctrl)
        R.release(ctrl, n)
        s = R.claim(ctrl, 1)
        R.commit(ctrl, s + 1)
    return k


def test_ring_functions_compile_into_the_caller(shm_prefix: str) -> None:
    """No call into a ring function and no reference counting in a hot caller's machine code: the
    per-record cost the issue measured was exactly such calls and refcount pairs."""
    with Ring.create(shm_prefix + "r", records.MARKET, 8) as r:
        src, out = _recs(0, 2), np.zeros(4, records.MARKET)
        assert _hot_caller(r.ctrl, r.buf, src, out) == 5
        asm = _hot_caller.inspect_asm(_hot_caller.signatures[0])
        body = asm[: asm.index("_ZN7cpython")]  # the compiled function, not its Python wrapper
        assert "NRT_incref" not in body and "NRT_decref" not in body
        for fn in ("push", "push_batch", "pop_batch", "available", "release", "claim", "commit"):
            assert f"4ring{len(fn)}{fn}" not in body, f"ring.{fn} was called, not inlined"
