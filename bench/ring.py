"""Benchmark: our shared-memory SPSC ring against multiprocessing.Queue, multiprocessing.Pipe, posix_ipc
MessageQueue and NATS core pub/sub, in one run, for 64-byte records.

Touches: two rings it creates and removes in /dev/shm (prefix bench.<pid>.), one POSIX message queue, a
throwaway nats-server on a free loopback port (oms.services.NatsServer), CPU affinity of its own child
processes (producer on core 0, consumer on core 1; best-effort mapping when those cores do not exist).

Measured per transport (producer and consumer are separate processes):
- throughput, unbatched (one record per send) and batched (64 records per send / per publish);
- one-way latency at a constant offered rate (every transport at the same rate, our ring also at a high
  rate): the producer stamps each record with its *scheduled* send time, so a stall delays every later
  record and shows up in the tail (no coordinated omission); HDR histogram p50/p99/p99.9/max;
- ping-pong round trip / 2 (HDR).
Warm-up (the first 10% of latency samples, and a short throughput warm-up run) is excluded.

The reference ring (issue 21) runs in the same run: a minimal SPSC ring over the same
oms/shm/atomics.py intrinsics (int64 words, 64-byte records, one release store per publish, the consumer
draining everything visible before one release of its tail), pure spin; our ring is reported as a fraction
of it (unbatched, batched 64, ping-pong one-way p50). Both consumers drain up to 64 visible records per
release; "unbatched" means one record per publish.

Targets (issues 4, 21): ring ≥ 50x posix_ipc throughput unbatched and ≥ 300x batched (batched ring vs
posix_ipc one record per message, its natural use; the ratio against posix_ipc sending 64-record messages
is printed too), ≥ 0.8x the reference ring unbatched, ping-pong p50 ≤ 1.2x the reference's, one-way
p50 ≤ 100 ns, p99 ≤ 250 ns, p99.9 ≤ 1 µs.

    .venv/bin/python bench/ring.py [--quick] [--scale 0.01] [--json] [--skip-nats]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing as mp
import os
import struct
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import posix_ipc
from hdrh.histogram import HdrHistogram
from numba import njit

from oms import pinning
from oms.shm import records
from oms.shm.atomics import cpu_pause, load_acquire, load_relaxed, store_release
from oms.shm.ring import Ring, pop_batch, push, push_batch
from oms.shm.wait import Backoff, BackoffConfig, backoff_idle, backoff_reset, monotonic_ns

REC = records.MARKET
# wait policies the ring's throughput is measured with: pure spin (a core of its own) and the default
# spin → yield → sleep backoff (what oms.shm.wait.Backoff does on a machine without spare cores)
POLICIES = {"spin": BackoffConfig(pure_spin=True), "backoff": BackoffConfig(pure_spin=False)}
BATCH = 64
CTX = mp.get_context("fork")  # children inherit the compiled kernels and the ring mappings
TARGETS = {
    "thr_unbatched_x": 50.0,
    "thr_batched_x": 300.0,
    "p50_ns": 100,
    "p99_ns": 250,
    "p999_ns": 1000,
    "ref_unbatched_x": 0.8,  # our ring / the reference ring, same run
    "ref_pingpong_x": 1.2,  # our ping-pong one-way p50 / the reference's (at most)
}


# ---- njit kernels for our ring --------------------------------------------------------------------
@njit(cache=True, _nrt=False)
def ring_send(ctrl: np.ndarray, buf: np.ndarray, n: int, batch: int, src: np.ndarray, bo: np.ndarray) -> int:
    """Publish n records in batches (1 = push per record); waits with the given Backoff state when full."""
    sent = 0
    idle = False
    while sent < n:
        k = min(batch, n - sent)
        for i in range(k):
            src[i].seq = sent + i
        got = (1 if push(ctrl, buf, src, 0) else 0) if batch == 1 else push_batch(ctrl, buf, src, k)
        if got == 0:
            backoff_idle(bo)
            idle = True
            continue
        if idle:
            backoff_reset(bo)
            idle = False
        sent += got
    return sent


@njit(cache=True, _nrt=False)
def ring_recv(
    ctrl: np.ndarray, buf: np.ndarray, n: int, batch: int, out: np.ndarray, times: np.ndarray, bo: np.ndarray
) -> int:
    """Receive n records; times = [first receive ns, last receive ns]; returns seq errors (must be 0)."""
    got = 0
    bad = 0
    idle = False
    while got < n:
        k = pop_batch(ctrl, buf, out, batch)
        if k == 0:
            backoff_idle(bo)
            idle = True
            continue
        if idle:
            backoff_reset(bo)
            idle = False
        if got == 0:
            times[0] = monotonic_ns()
        for i in range(k):
            if out[i].seq != got + i:
                bad += 1
        got += k
    times[1] = monotonic_ns()
    return bad


@njit(cache=True, _nrt=False)
def ring_rate_send(ctrl: np.ndarray, buf: np.ndarray, n: int, period_ns: int, src: np.ndarray) -> None:
    t0 = monotonic_ns() + 2_000_000
    for i in range(n):
        t = t0 + i * period_ns
        while monotonic_ns() < t:
            cpu_pause()
        src[0].ts_ns = t  # scheduled time: lateness of the sender counts as latency
        src[0].ts_venue_ns = monotonic_ns()  # actual send time (transport-only latency, for diagnosis)
        src[0].seq = i
        while not push(ctrl, buf, src, 0):
            cpu_pause()


@njit(cache=True, _nrt=False)
def ring_rate_recv(ctrl: np.ndarray, buf: np.ndarray, n: int, out: np.ndarray, lat: np.ndarray) -> None:
    """lat[0, i] = receive - scheduled send time, lat[1, i] = receive - actual send time."""
    got = 0
    while got < n:
        if pop_batch(ctrl, buf, out, 1) == 0:
            cpu_pause()
            continue
        now = monotonic_ns()
        lat[0, got] = now - out[0].ts_ns
        lat[1, got] = now - out[0].ts_venue_ns
        got += 1


@njit(cache=True, _nrt=False)
def ring_ping(ca: np.ndarray, ba: np.ndarray, cb: np.ndarray, bb: np.ndarray, n: int, src: np.ndarray,
              out: np.ndarray, rtt: np.ndarray) -> None:  # fmt: skip
    for i in range(n):
        t = monotonic_ns()
        src[0].seq = i
        while not push(ca, ba, src, 0):
            cpu_pause()
        while pop_batch(cb, bb, out, 1) == 0:
            cpu_pause()
        rtt[i] = monotonic_ns() - t


@njit(cache=True, _nrt=False)
def ring_pong(
    ca: np.ndarray, ba: np.ndarray, cb: np.ndarray, bb: np.ndarray, n: int, out: np.ndarray
) -> None:
    for _ in range(n):
        while pop_batch(ca, ba, out, 1) == 0:
            cpu_pause()
        while not push(cb, bb, out, 0):
            cpu_pause()


# ---- the reference ring: the minimal SPSC ring over the same atomics, for "our ring / reference" --------
# uint64 words, 64-byte records (8 words), HEAD/TAIL on their own cache lines of the same segment (words
# REF_HEAD/REF_TAIL), the opposite index cached in a register; the producer does one release store per
# publish, the consumer drains everything visible and then does one release store of its tail. No
# capacity word, no counters, no liveness: what a ring costs when it does nothing but move records.
REF_HEAD = 48
REF_TAIL = 64
W = REC.itemsize // 8


@njit(cache=True, _nrt=False)
def ref_send(ctrl: np.ndarray, data: np.ndarray, n: int, batch: int) -> int:
    """data: the slots as int64 words (ring.buf.view(np.int64))."""
    mask = (len(data) // W) - 1
    cap = mask + 1
    head = load_relaxed(ctrl, REF_HEAD)
    tail = load_acquire(ctrl, REF_TAIL)
    sent = 0
    while sent < n:
        k = min(batch, n - sent)
        if head + k - tail > cap:
            tail = load_acquire(ctrl, REF_TAIL)
            if head + k - tail > cap:
                cpu_pause()
                continue
        for i in range(k):
            b = ((head + i) & mask) * W
            s = sent + i
            for w in range(W):
                data[b + w] = s  # word 5 is MARKET.seq (byte 40)
        head += k
        sent += k
        store_release(ctrl, REF_HEAD, head)
    return sent


@njit(cache=True, _nrt=False)
def ref_recv(ctrl: np.ndarray, data: np.ndarray, n: int, times: np.ndarray) -> int:
    mask = (len(data) // W) - 1
    tail = load_relaxed(ctrl, REF_TAIL)
    got = 0
    bad = 0
    while got < n:
        head = load_acquire(ctrl, REF_HEAD)
        if head == tail:
            cpu_pause()
            continue
        if got == 0:
            times[0] = monotonic_ns()
        for q in range(tail, head):
            if data[(q & mask) * W + 5] != got:
                bad += 1
            got += 1
        tail = head
        store_release(ctrl, REF_TAIL, tail)
    times[1] = monotonic_ns()
    return bad


@njit(cache=True, _nrt=False)
def ref_ping(ca: np.ndarray, da: np.ndarray, cb: np.ndarray, db: np.ndarray, n: int, rtt: np.ndarray) -> int:
    mask = (len(da) // W) - 1
    bad = 0
    ha = load_relaxed(ca, REF_HEAD)
    tb = load_relaxed(cb, REF_TAIL)
    for i in range(n):
        t = monotonic_ns()
        b = (ha & mask) * W
        for w in range(W):
            da[b + w] = i
        ha += 1
        store_release(ca, REF_HEAD, ha)  # ring a has room: the pong side answers each record
        while load_acquire(cb, REF_HEAD) == tb:
            cpu_pause()
        bad += db[(tb & mask) * W + 5] != i  # read the answer, as the other rings' pings do
        tb += 1
        store_release(cb, REF_TAIL, tb)
        rtt[i] = monotonic_ns() - t
    return bad


@njit(cache=True, _nrt=False)
def ref_pong(ca: np.ndarray, da: np.ndarray, cb: np.ndarray, db: np.ndarray, n: int) -> None:
    mask = (len(da) // W) - 1
    ta = load_relaxed(ca, REF_TAIL)
    hb = load_relaxed(cb, REF_HEAD)
    for _ in range(n):
        while load_acquire(ca, REF_HEAD) == ta:
            cpu_pause()
        src = (ta & mask) * W
        dst = (hb & mask) * W
        for w in range(W):
            db[dst + w] = da[src + w]
        ta += 1
        store_release(ca, REF_TAIL, ta)
        hb += 1
        store_release(cb, REF_HEAD, hb)


@njit(cache=True, _nrt=False)
def clock_cost_ns(n: int) -> float:
    t0 = monotonic_ns()
    acc = 0
    for _ in range(n):
        acc += monotonic_ns() & 1
    return (monotonic_ns() - t0 + acc * 0) / n


# ---- process plumbing --------------------------------------------------------------------------------
_PLACE: dict[str, int | None] = {}


def _pin(role: str) -> None:
    pinning.pin_self(_PLACE.get(role))


def _run_pair(prod: Callable[..., None], cons: Callable[..., Any], timeout: float = 300.0) -> Any:
    """Run producer and consumer in two pinned child processes; return what the consumer reports.

    The producer starts only once the consumer is about to poll (an Event), so neither process start-up
    nor compilation lands in the measurement (kernels are compiled in the parent before forking)."""
    res: Any = CTX.Queue()
    go = CTX.Event()

    def p_main() -> None:
        _pin("producer")
        if not go.wait(60):
            return
        prod()

    def c_main() -> None:
        _pin("consumer")
        go.set()
        res.put(cons())

    pc = CTX.Process(target=c_main, daemon=True)
    pp = CTX.Process(target=p_main, daemon=True)
    pc.start()
    pp.start()
    try:
        out = res.get(timeout=timeout)
    finally:
        for p in (pp, pc):
            p.join(timeout=10)
            if p.is_alive():
                p.kill()
                p.join()
    return out


def _compile_kernels(prefix: str) -> None:
    """Compile (or load from cache) every njit kernel in the parent, so children inherit machine code."""
    with Ring.create(prefix + "warm", REC, 64) as r:
        one, lat, t = np.zeros(BATCH, REC), np.zeros((2, 1), np.int64), np.zeros(2, np.int64)
        bo = Backoff(BackoffConfig(pure_spin=True)).state
        ring_send(r.ctrl, r.buf, 0, 1, one, bo)
        ring_recv(r.ctrl, r.buf, 0, 1, one, t, bo)
        ring_rate_send(r.ctrl, r.buf, 0, 1, one)
        ring_rate_recv(r.ctrl, r.buf, 0, one, lat)
        ring_ping(r.ctrl, r.buf, r.ctrl, r.buf, 0, one, one, lat[0])
        ring_pong(r.ctrl, r.buf, r.ctrl, r.buf, 0, one)
        d = r.buf.view(np.int64)
        ref_send(r.ctrl, d, 0, 1)
        ref_recv(r.ctrl, d, 0, t)
        ref_ping(r.ctrl, d, r.ctrl, d, 0, lat[0])
        ref_pong(r.ctrl, d, r.ctrl, d, 0)
        r.unlink()


def _hist(samples: np.ndarray) -> dict[str, float]:
    s = samples[len(samples) // 10 :]  # warm-up excluded
    h = HdrHistogram(1, 60_000_000_000, 3)
    vals, counts = np.unique(np.clip(s, 1, 60_000_000_000), return_counts=True)
    for v, c in zip(vals.tolist(), counts.tolist(), strict=True):
        h.record_value(v, c)
    return {
        "p50": h.get_value_at_percentile(50),
        "p99": h.get_value_at_percentile(99),
        "p999": h.get_value_at_percentile(99.9),
        "p9999": h.get_value_at_percentile(99.99),
        "max": h.get_max_value(),
        "n": h.get_total_count(),
    }


# ---- our ring ------------------------------------------------------------------------------------------
def bench_ring(prefix: str, sizes: dict[str, int], rate_hz: dict[str, int]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    a = Ring.create(prefix + "a", REC, 4096)
    b = Ring.create(prefix + "b", REC, 4096)
    try:
        src = np.zeros(BATCH, REC)
        runs = (("thr_unbatched", 1, sizes["ring_unbatched"]), ("thr_batched", BATCH, sizes["ring_batched"]))
        for policy, cfg in POLICIES.items():
            for label, batch, n in runs:

                def prod(batch: int = batch, n: int = n, cfg: BackoffConfig = cfg) -> None:
                    ring_send(a.ctrl, a.buf, n, batch, src, Backoff(cfg).state)

                def cons(batch: int = batch, n: int = n, cfg: BackoffConfig = cfg) -> tuple[int, int]:
                    times = np.zeros(2, np.int64)
                    # the consumer drains up to BATCH visible records per release in both modes (as the
                    # reference ring and the engine loop do); "unbatched" = one record per publish
                    bad = ring_recv(a.ctrl, a.buf, n, BATCH, np.zeros(BATCH, REC), times, Backoff(cfg).state)
                    return bad, int(times[1] - times[0])

                rates = []
                for _ in range(sizes["repeats"]):
                    bad, dt = _run_pair(prod, cons)
                    assert bad == 0, f"ring delivered {bad} out-of-order records"
                    rates.append((n - 1) / (dt / 1e9))
                out.setdefault("policies", {}).setdefault(policy, {})[label] = float(np.median(rates))
                out["policies"][policy][label + "_runs"] = rates
        for label, _, _ in runs:  # the ring's figure: the better wait policy (a config choice, [shm].spin)
            best = max(POLICIES, key=lambda p, label=label: out["policies"][p][label])
            out[label], out[label + "_policy"] = out["policies"][best][label], best
        for key, hz in rate_hz.items():
            n = sizes["ring_rate"] if key == "rate_high" else sizes["peer_rate"]
            period = max(1, 1_000_000_000 // hz)

            def rprod(n: int = n, period: int = period) -> None:
                ring_rate_send(a.ctrl, a.buf, n, period, src)

            def rcons(n: int = n) -> np.ndarray:
                lat = np.zeros((2, n), np.int64)
                ring_rate_recv(a.ctrl, a.buf, n, np.zeros(1, REC), lat)
                return lat

            lat = _run_pair(rprod, rcons)
            out[key] = _hist(lat[0]) | {"rate_hz": hz, "from_actual_send": _hist(lat[1])}
        n = sizes["ring_pingpong"]

        def ping() -> np.ndarray:
            rtt = np.zeros(n, np.int64)
            ring_ping(a.ctrl, a.buf, b.ctrl, b.buf, n, src, np.zeros(1, REC), rtt)
            return rtt // 2

        def pong() -> None:
            ring_pong(a.ctrl, a.buf, b.ctrl, b.buf, n, np.zeros(1, REC))

        out["pingpong_half"] = _hist(_run_pair(pong, ping))
    finally:
        for r in (a, b):
            r.close()
            r.unlink()
    return out


def bench_reference(prefix: str, sizes: dict[str, int]) -> dict[str, Any]:
    """The reference ring (ref_*) on a segment of the same geometry, pure spin, in the same run."""
    out: dict[str, Any] = {}
    a = Ring.create(prefix + "ra", REC, 4096)
    b = Ring.create(prefix + "rb", REC, 4096)
    try:
        da, db = a.buf.view(np.int64), b.buf.view(np.int64)
        for label, batch, n in (
            ("thr_unbatched", 1, sizes["ring_unbatched"]),
            ("thr_batched", BATCH, sizes["ring_batched"]),
        ):
            rates = []
            for _ in range(sizes["repeats"]):

                def prod(batch: int = batch, n: int = n) -> None:
                    ref_send(a.ctrl, da, n, batch)

                def cons(n: int = n) -> tuple[int, int]:
                    times = np.zeros(2, np.int64)
                    return ref_recv(a.ctrl, da, n, times), int(times[1] - times[0])

                bad, dt = _run_pair(prod, cons)
                assert bad == 0, f"reference ring delivered {bad} out-of-order records"
                rates.append((n - 1) / (dt / 1e9))
            out[label] = float(np.median(rates))
            out[label + "_runs"] = rates
        n = sizes["ring_pingpong"]

        def ping() -> np.ndarray:
            rtt = np.zeros(n, np.int64)
            ref_ping(a.ctrl, da, b.ctrl, db, n, rtt)
            return rtt // 2

        def pong() -> None:
            ref_pong(a.ctrl, da, b.ctrl, db, n)

        out["pingpong_half"] = _hist(_run_pair(pong, ping))
    finally:
        for r in (a, b):
            r.close()
            r.unlink()
    return out


# ---- Python peers (multiprocessing.Queue / Pipe, posix_ipc MessageQueue) ------------------------------
PAYLOAD = bytes(REC.itemsize)
_TS = struct.Struct("<qq")


def _now() -> int:
    return time.monotonic_ns()


def peer_throughput(
    send: Callable[[bytes], Any], recv: Callable[[], Any], n_msgs: int, batch: int, repeats: int = 1
) -> float:
    payload = PAYLOAD * batch

    def prod() -> None:
        for _ in range(n_msgs):
            send(payload)

    def cons() -> int:
        recv()
        t0 = _now()
        for _ in range(n_msgs - 1):
            recv()
        return _now() - t0

    rates = [(n_msgs - 1) * batch / (_run_pair(prod, cons) / 1e9) for _ in range(repeats)]
    return float(np.median(rates))


def peer_rate(send: Callable[[bytes], Any], recv: Callable[[], bytes], n: int, hz: int) -> dict[str, float]:
    period = 1_000_000_000 // hz
    pad = bytes(REC.itemsize - _TS.size)

    def prod() -> None:
        t0 = _now() + 2_000_000
        for i in range(n):
            t = t0 + i * period
            while _now() < t:
                pass
            send(_TS.pack(t, _now()) + pad)

    def cons() -> np.ndarray:
        lat = np.zeros((2, n), np.int64)
        for i in range(n):
            m = recv()
            now = _now()
            sched, actual = _TS.unpack_from(m)
            lat[0, i], lat[1, i] = now - sched, now - actual
        return lat

    lat = _run_pair(prod, cons)
    return _hist(lat[0]) | {"rate_hz": hz, "from_actual_send": _hist(lat[1])}


def peer_pingpong(
    send_a: Callable[[bytes], Any], recv_a: Callable[[], bytes], send_b: Callable[[bytes], Any],
    recv_b: Callable[[], bytes], n: int,
) -> dict[str, float]:  # fmt: skip
    def pong() -> None:
        for _ in range(n):
            send_b(recv_a())

    def ping() -> np.ndarray:
        rtt = np.zeros(n, np.int64)
        for i in range(n):
            t = _now()
            send_a(PAYLOAD)
            recv_b()
            rtt[i] = _now() - t
        return rtt // 2

    return _hist(_run_pair(pong, ping))


def bench_peer(make: Callable[[], tuple[Any, ...]], sizes: dict[str, int], hz: int) -> dict[str, Any]:
    """make() -> (send_a, recv_a, send_b, recv_b, cleanup): two one-way channels a and b."""
    send_a, recv_a, send_b, recv_b, cleanup = make()
    try:
        return {
            "thr_unbatched": peer_throughput(send_a, recv_a, sizes["peer_unbatched"], 1, sizes["repeats"]),
            "thr_batched": peer_throughput(send_a, recv_a, sizes["peer_batched"], BATCH, sizes["repeats"]),
            "rate": peer_rate(send_a, recv_a, sizes["peer_rate"], hz),
            "pingpong_half": peer_pingpong(send_a, recv_a, send_b, recv_b, sizes["peer_pingpong"]),
        }
    finally:
        cleanup()


def make_queue() -> tuple[Any, ...]:
    qa, qb = CTX.Queue(), CTX.Queue()
    return qa.put, qa.get, qb.put, qb.get, lambda: None


def make_pipe() -> tuple[Any, ...]:
    ra, sa = CTX.Pipe(duplex=False)
    rb, sb = CTX.Pipe(duplex=False)
    return sa.send_bytes, ra.recv_bytes, sb.send_bytes, rb.recv_bytes, lambda: None


MQ_DEPTH: list[int] = []


def make_mq(prefix: str) -> Callable[[], tuple[Any, ...]]:
    def make() -> tuple[Any, ...]:
        qs = []
        for tag in ("a", "b"):
            name = f"/{prefix}{tag}"
            try:  # as deep as our ring when allowed (root), else the system default (msg_max, often 10)
                q = posix_ipc.MessageQueue(name, posix_ipc.O_CREX, max_messages=4096, max_message_size=8192)
            except (ValueError, posix_ipc.Error):
                q = posix_ipc.MessageQueue(name, posix_ipc.O_CREX, max_message_size=8192)
            qs.append(q)
        MQ_DEPTH[:] = [qs[0].max_messages]

        def cleanup() -> None:
            for q in qs:
                q.close()
                q.unlink()

        return qs[0].send, lambda: qs[0].receive()[0], qs[1].send, lambda: qs[1].receive()[0], cleanup

    return make


# ---- NATS core pub/sub -----------------------------------------------------------------------------------
def _nats_pair(url: str, subj: str, n: int, producer: Callable[..., Any], on_msg: Callable[..., Any],
               result: Callable[[], Any], timeout: float = 60.0) -> Any:  # fmt: skip
    """Subscriber process calls on_msg(data) per message until n arrive (or timeout); producer(nc) sends."""
    import nats

    ready = CTX.Event()

    def cons() -> Any:
        async def main() -> Any:
            nc = await nats.connect(url)
            done = asyncio.Event()
            count = [0]

            async def cb(msg: Any) -> None:
                on_msg(msg.data)
                count[0] += 1
                if count[0] >= n:
                    done.set()

            await nc.subscribe(subj, cb=cb, pending_msgs_limit=10_000_000, pending_bytes_limit=2**31)
            await nc.flush()
            ready.set()
            with contextlib.suppress(TimeoutError):  # lost messages are reported, not fatal
                await asyncio.wait_for(done.wait(), timeout)
            await nc.close()
            return result()

        return asyncio.run(main())

    def prod() -> None:
        async def main() -> None:
            nc = await nats.connect(url)
            ready.wait(timeout)
            await producer(nc)
            await nc.flush()
            await nc.close()

        asyncio.run(main())

    return _run_pair(prod, cons, timeout=timeout + 30)


def bench_nats(url: str, sizes: dict[str, int], hz: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    runs = (("thr_unbatched", 1, sizes["peer_unbatched"]), ("thr_batched", BATCH, sizes["peer_batched"]))
    for label, batch, n in runs:
        payload = PAYLOAD * batch
        seen = {"t0": 0, "t1": 0, "n": 0}

        def on_msg(data: bytes, seen: dict[str, int] = seen) -> None:
            t = _now()
            if seen["n"] == 0:
                seen["t0"] = t
            seen["t1"] = t
            seen["n"] += 1

        async def producer(nc: Any, n: int = n, payload: bytes = payload) -> None:
            for _ in range(n):
                await nc.publish("bench.thr", payload)

        def result(seen: dict[str, int] = seen) -> tuple[int, int]:
            return seen["n"], seen["t1"] - seen["t0"]

        rates, lost = [], 0
        for _ in range(sizes["repeats"]):
            got, dt = _nats_pair(url, "bench.thr", n, producer, on_msg, result)
            rates.append((got - 1) * batch / (dt / 1e9) if dt > 0 else 0.0)
            lost += n - got
        out[label] = float(np.median(rates))
        out[label + "_lost"] = lost

    n = sizes["peer_rate"]
    period = 1_000_000_000 // hz
    pad = bytes(REC.itemsize - _TS.size)
    lat: list[tuple[int, int]] = []

    async def rate_producer(nc: Any) -> None:
        t0 = _now() + 2_000_000
        for i in range(n):
            t = t0 + i * period
            while _now() < t:
                await asyncio.sleep(0)  # a yielding spin: the client's flusher task runs meanwhile
            await nc.publish("bench.rate", _TS.pack(t, _now()) + pad)

    def on_rate(data: bytes) -> None:
        now = _now()
        sched, actual = _TS.unpack_from(data)
        lat.append((now - sched, now - actual))

    got = np.array(_nats_pair(url, "bench.rate", n, rate_producer, on_rate, lambda: lat), np.int64)
    got = got.reshape(-1, 2)
    out["rate"] = _hist(got[:, 0]) | {"rate_hz": hz, "from_actual_send": _hist(got[:, 1])}
    out["pingpong_half"] = _hist(_nats_pingpong(url, sizes["peer_pingpong"]) // 2)
    return out


def _nats_pingpong(url: str, n: int) -> np.ndarray:
    import nats

    ready = CTX.Event()

    def pong() -> None:
        async def main() -> None:
            nc = await nats.connect(url)
            count = [0]
            done = asyncio.Event()

            async def cb(msg: Any) -> None:
                await nc.publish("bench.pong", msg.data)
                count[0] += 1
                if count[0] >= n:
                    done.set()

            await nc.subscribe("bench.ping", cb=cb)
            await nc.flush()
            ready.set()
            await asyncio.wait_for(done.wait(), 120)
            await nc.flush()
            await nc.close()

        asyncio.run(main())

    def ping() -> np.ndarray:
        async def main() -> np.ndarray:
            nc = await nats.connect(url)
            q: asyncio.Queue[bytes] = asyncio.Queue()

            async def cb(msg: Any) -> None:
                q.put_nowait(msg.data)

            await nc.subscribe("bench.pong", cb=cb)
            await nc.flush()
            ready.wait(60)
            rtt = np.zeros(n, np.int64)
            for i in range(n):
                t = _now()
                await nc.publish("bench.ping", PAYLOAD)
                await q.get()
                rtt[i] = _now() - t
            await nc.close()
            return rtt

        return asyncio.run(main())

    return _run_pair(pong, ping)


# ---- report ------------------------------------------------------------------------------------------------
SIZES = {
    "full": {
        "ring_unbatched": 20_000_000, "ring_batched": 100_000_000, "ring_rate": 2_000_000,
        "ring_pingpong": 1_000_000, "peer_unbatched": 200_000, "peer_batched": 20_000,
        "peer_rate": 20_000, "peer_pingpong": 20_000, "repeats": 3,
    },
    "quick": {
        "ring_unbatched": 2_000_000, "ring_batched": 10_000_000, "ring_rate": 200_000,
        "ring_pingpong": 100_000, "peer_unbatched": 20_000, "peer_batched": 2_000,
        "peer_rate": 2_000, "peer_pingpong": 2_000, "repeats": 1,
    },
}  # fmt: skip
HIGH_RATE_HZ = 1_000_000  # our ring only
PEER_RATE_HZ = 10_000  # every transport, ring included


def _fmt_rate(v: float) -> str:
    return f"{v / 1e6:.2f} M/s" if v >= 1e5 else f"{v / 1e3:.1f} k/s"


def _fmt_ns(v: float) -> str:
    if v < 10_000:
        return f"{v:,.0f} ns"
    return f"{v / 1000:,.1f} µs" if v < 10_000_000 else f"{v / 1e6:,.1f} ms"


def verdicts(res: dict[str, Any]) -> list[dict[str, Any]]:
    ring, mq = res["ring"], res["posix_mq"]
    lat = ring["rate_high"]
    floor = ring["pingpong_half"]["p50"]
    clock = res["machine"]["clock_read_ns"]
    actual = lat["from_actual_send"]
    why_thr = (
        f"unbatched, each record costs a cross-core cache-line hand-off (HEAD and the slot) when the "
        f"consumer keeps up; with this machine's hand-off time (ping-pong/2 p50 {floor} ns; ~40-80 ns on a "
        f"bare-metal core pair) that bounds the ring near {1e3 / max(floor, 1):.1f} M records/s, and the 2 "
        "shared vCPUs preempt the spinning processes"
    )
    why_lat = (
        f"the one-way floor here is one cross-core cache-line transfer (ping-pong/2 p50 {floor} ns on this "
        f"VM) plus a clock read on each side (~{clock:.0f} ns); the tail is preemption: the 2 vCPUs are "
        "shared with other users, so a pinned spinning process still loses its core for milliseconds "
        f"(measured from the actual send instead of the schedule: p50 {_fmt_ns(actual['p50'])}, "
        f"p99 {_fmt_ns(actual['p99'])}, p99.9 {_fmt_ns(actual['p999'])})"
    )
    why_ref = (
        "the reference ring does nothing but move records (no capacity word, no liveness, no counters, "
        "indices in registers); the ratio is the price of our ring's features per record"
    )
    items = [
        ("throughput unbatched vs posix_ipc", ring["thr_unbatched"] / mq["thr_unbatched"], "thr_unbatched_x",
         why_thr),
        ("throughput batched(64) vs posix_ipc", ring["thr_batched"] / mq["thr_unbatched"], "thr_batched_x",
         why_thr),
        ("unbatched vs reference ring", res["vs_reference"]["unbatched"], "ref_unbatched_x", why_ref),
        ("ping-pong p50 / reference's", res["vs_reference"]["pingpong_p50"], "ref_pingpong_x", why_ref),
        ("one-way p50 @ 1M/s", lat["p50"], "p50_ns", why_lat),
        ("one-way p99 @ 1M/s", lat["p99"], "p99_ns", why_lat),
        ("one-way p99.9 @ 1M/s", lat["p999"], "p999_ns", why_lat),
    ]  # fmt: skip
    out = []
    for name, value, key, why in items:
        target = TARGETS[key]
        unit = "x" if key.endswith("_x") else "ns"
        at_most = unit == "ns" or key == "ref_pingpong_x"
        met = value <= target if at_most else value >= target
        if met:
            note = "met"
        elif at_most and unit == "x":
            note = f"missed: {value / target:.2f}x over"
        elif unit == "x":
            note = f"missed: {target / value:.2f}x short"
        else:
            note = f"missed by {value - target:,.0f} ns ({value / target:.1f}x the target)"
        out.append(
            {"target": name, "value": float(value), "goal": target, "unit": unit, "met": met, "note": note,
             "at_most": at_most, "why": "" if met else why}
        )  # fmt: skip
    return out


def _lat_row(name: str, what: str, h: dict[str, float]) -> str:
    cells = (_fmt_ns(h["p50"]), _fmt_ns(h["p99"]), _fmt_ns(h["p999"]), _fmt_ns(h["max"]))
    return f"  {name:9} {what:34} " + " ".join(f"{c:>11}" for c in cells)


def print_table(res: dict[str, Any]) -> None:
    names = [k for k in ("ring", "mp_queue", "mp_pipe", "posix_mq", "nats") if k in res]
    cores = res["machine"]["cores"]
    print(
        f"bench/ring.py ({res['mode']} run): 64-byte records, producer on core {cores['producer']}, "
        f"consumer on core {cores['consumer']}; throughput = median of {res['sizes']['repeats']} run(s)"
    )
    m = res["machine"]
    load = m["loadavg_start"][0]  # the end value includes our own two spinning processes
    print(
        f"load average (1 min) {m['loadavg_start'][0]:.2f} at start, {m['loadavg_end'][0]:.2f} at end on "
        f"{len(m['available_cores'])} cores"
        + ("  <-- other work competes for these cores: figures below are depressed" if load > 1.0 else "")
    )
    print(f"\nthroughput (records/s)  {'unbatched':>12} {'batched(64)':>12}   ring/peer: unbatched  batched")
    for policy, r in res["ring"]["policies"].items():
        label = f"ring ({policy})"
        print(f"  {label:21} {_fmt_rate(r['thr_unbatched']):>12} {_fmt_rate(r['thr_batched']):>12}")
    ref, vs = res["reference"], res["vs_reference"]
    print(
        f"  {'reference ring (spin)':21} {_fmt_rate(ref['thr_unbatched']):>12} "
        f"{_fmt_rate(ref['thr_batched']):>12}"
        f"   ring (spin)/reference: {vs['unbatched']:.2f}  {vs['batched']:.2f}"
    )
    for k in names[1:]:
        r = res[k]
        ratio = res["ratios"][k]
        tail = f"{ratio['unbatched']:17.1f}x {ratio['batched']:8.1f}x"
        print(f"  {k:21} {_fmt_rate(r['thr_unbatched']):>12} {_fmt_rate(r['thr_batched']):>12}   {tail}")
    ring = res["ring"]
    print(
        f"  (ratios use the better ring policy: unbatched {ring['thr_unbatched_policy']}, "
        f"batched {ring['thr_batched_policy']})"
    )
    print(f"\nlatency (HDR, first 10% excluded)            {'p50':>11} {'p99':>11} {'p99.9':>11} {'max':>11}")
    hi = res["ring"]["rate_high"]
    print(_lat_row("ring", f"one-way @ {HIGH_RATE_HZ / 1e6:.0f}M/s (from schedule)", hi))
    print(
        _lat_row("ring", f"one-way @ {HIGH_RATE_HZ / 1e6:.0f}M/s (from actual send)", hi["from_actual_send"])
    )
    for k in names:
        r = res[k]
        print(_lat_row(k, f"one-way @ {PEER_RATE_HZ // 1000}k/s (from schedule)", r["rate"]))
        print(
            _lat_row(
                k, f"one-way @ {PEER_RATE_HZ // 1000}k/s (from actual send)", r["rate"]["from_actual_send"]
            )
        )
        print(_lat_row(k, "ping-pong round trip / 2", r["pingpong_half"]))
        if k == "ring":
            print(_lat_row("reference", "ping-pong round trip / 2", res["reference"]["pingpong_half"]))
    if res.get("skipped"):
        print(f"\nskipped: {res['skipped']}")
    mq_depth = res["posix_mq"].get("queue_depth")
    print(
        f"\ntargets (ring; throughput ratios vs posix_ipc MessageQueue, 1 record/message, depth {mq_depth}):"
    )
    for v in res["verdicts"]:
        shown = f"{v['value']:.1f}x" if v["unit"] == "x" else _fmt_ns(v["value"])
        if v["unit"] == "ns":
            goal = f"<= {v['goal']} ns"
        else:
            goal = f"{'<=' if v.get('at_most') else '>='} {v['goal']:g}x"
        print(f"  {'OK  ' if v['met'] else 'MISS'} {v['target']:36} {shown:>11}  goal {goal:>9}  {v['note']}")
    for w in sorted({v["why"] for v in res["verdicts"] if not v["met"]}):
        print(f"  why: {w}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="short run (~10x fewer messages)")
    ap.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    ap.add_argument("--skip-nats", action="store_true", help="leave NATS out (say so in the output)")
    ap.add_argument("--cores", default="0,1", help="producer,consumer cores (default 0,1)")
    ap.add_argument(
        "--scale", type=float, default=1.0, help="multiply every message count (e.g. 0.01 for a sanity run)"
    )
    a = ap.parse_args(argv)
    if not 0 < a.scale <= 100:
        print(f"--scale {a.scale} must be in (0, 100]", file=sys.stderr)
        return 2
    mode = "quick" if a.quick else "full"
    sizes = {k: (v if k == "repeats" else max(1000, int(v * a.scale))) for k, v in SIZES[mode].items()}
    if a.scale != 1.0:
        mode += f" x{a.scale:g}"
    try:
        pc, cc = (int(x) for x in a.cores.split(","))
    except ValueError:
        print(f"--cores {a.cores!r} must be two integers like 0,1", file=sys.stderr)
        return 2
    plan = pinning.plan({"producer": pc, "consumer": cc})
    _PLACE.update({k: v.core for k, v in plan.items()})
    prefix = f"bench.{os.getpid()}."
    res: dict[str, Any] = {
        "mode": mode,
        "record_bytes": REC.itemsize,
        "batch": BATCH,
        "sizes": sizes,
        "warmup": "first 10% of latency samples excluded",
        "machine": {
            "cores": {"producer": _PLACE["producer"], "consumer": _PLACE["consumer"]},
            "available_cores": pinning.available_cores(),
            "clock_read_ns": float(clock_cost_ns(1000)) and float(clock_cost_ns(1_000_000)),
            "loadavg_start": list(os.getloadavg()),
        },
    }
    _compile_kernels(prefix)
    res["ring"] = bench_ring(prefix, sizes, {"rate_high": HIGH_RATE_HZ, "rate": PEER_RATE_HZ})
    res["reference"] = bench_reference(prefix, sizes)
    res["vs_reference"] = {
        # same wait policy as the reference (pure spin): like for like
        "unbatched": res["ring"]["policies"]["spin"]["thr_unbatched"] / res["reference"]["thr_unbatched"],
        "batched": res["ring"]["policies"]["spin"]["thr_batched"] / res["reference"]["thr_batched"],
        "pingpong_p50": res["ring"]["pingpong_half"]["p50"]
        / max(1, res["reference"]["pingpong_half"]["p50"]),
    }
    res["mp_queue"] = bench_peer(make_queue, sizes, PEER_RATE_HZ)
    res["mp_pipe"] = bench_peer(make_pipe, sizes, PEER_RATE_HZ)
    res["posix_mq"] = bench_peer(make_mq(prefix.replace(".", "_")), sizes, PEER_RATE_HZ)
    res["posix_mq"]["queue_depth"] = MQ_DEPTH[0] if MQ_DEPTH else None
    if a.skip_nats:
        res["skipped"] = "nats (--skip-nats)"
    else:
        from oms.services.nats import NatsServer

        with tempfile.TemporaryDirectory(prefix="bench-nats-") as d:
            srv = NatsServer(d, sync_interval="2m")  # core NATS peer: no JetStream writes anyway
            srv.start()
            try:
                res["nats"] = bench_nats(srv.admin_url, sizes, PEER_RATE_HZ)
            finally:
                srv.stop()
    res["ratios"] = {
        k: {
            "unbatched": res["ring"]["thr_unbatched"] / res[k]["thr_unbatched"],
            "batched": res["ring"]["thr_batched"] / res[k]["thr_batched"],
            "batched_vs_unbatched": res["ring"]["thr_batched"] / res[k]["thr_unbatched"],
        }
        for k in ("mp_queue", "mp_pipe", "posix_mq", "nats")
        if k in res
    }
    res["machine"]["loadavg_end"] = list(os.getloadavg())
    res["verdicts"] = verdicts(res)
    if a.json:
        print(json.dumps(res, default=float))
    else:
        print_table(res)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
