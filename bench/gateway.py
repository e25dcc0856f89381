"""Benchmark (gateway room): orders/s and ack latency through the gateway's bidi OrderStream vs unary
SubmitOrder, in the same run, over real TLS 1.3 on loopback, through the real shm rings.

Touches a temporary directory (certs, token file, audit file), loopback ports and two shm rings of a
unique prefix; everything is stopped and removed at the end. Three processes: the gateway (TLS front +
grpc.aio), the FAKE engine (oms/api/fake_engine.py: answers each command on the event ring; the engine
room's process is not used here) and this client (grpc.aio). A 2-core machine runs all three.

Phases (warm-up of --warmup s excluded from every figure, stated in the output):
 1. throughput, closed loop: the stream keeps --window orders in flight in frames of --batch orders;
    unary keeps --concurrency calls in flight. orders/s each, and the ratio stream/unary.
 2. latency, open loop at a constant offered rate (coordinated omission corrected: latency counts from
    each order's scheduled send time): the stream at --rate orders/s (frames of --batch every
    batch/rate s), and both stream and unary at --peer-rate (a rate unary can sustain), so the peer
    comparison is at the same load. HDR histograms (µs): p50, p99, p99.9, max.
Usage: .venv/bin/python bench/gateway.py [--seconds 4] [--rate 50000] [--json]   (CI=true: shorter)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from hdrh.histogram import HdrHistogram

ROOT = Path(__file__).resolve().parent.parent
CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


class Lat:
    def __init__(self) -> None:
        self.h = HdrHistogram(1, 60_000_000, 3)  # µs

    def add(self, us: float) -> None:
        self.h.record_value(max(1, int(us)))

    def row(self) -> dict[str, float]:
        h = self.h
        return {
            "count": h.get_total_count(),
            "p50_us": h.get_value_at_percentile(50),
            "p99_us": h.get_value_at_percentile(99),
            "p999_us": h.get_value_at_percentile(99.9),
            "max_us": h.get_max_value(),
        }


def order(pb: Any, i: int) -> Any:
    return pb.SubmitOrder(
        account=1,
        venue="binance",
        symbol="BTC/USDT",
        side=pb.SIDE_BUY if i & 1 else pb.SIDE_SELL,
        order_type=pb.ORDER_TYPE_LIMIT,
        price=f"{50000 + (i % 50)}",
        quantity="0.001",
    )


async def stream_closed(
    stub: Any, md: Any, gw: Any, pb: Any, seconds: float, warmup: float, window: int, batch: int
) -> dict[str, float]:
    """Keep `window` orders in flight; count acks after the warm-up."""
    q: asyncio.Queue[Any] = asyncio.Queue()
    credit = asyncio.Semaphore(window // batch)
    stop = time.perf_counter() + warmup + seconds
    frames = [
        gw.OrderStreamRequest(request_id=i, submit=[order(pb, i * batch + k) for k in range(batch)])
        for i in range(64)
    ]

    async def reqs() -> Any:
        i = 0
        while time.perf_counter() < stop:
            await credit.acquire()
            yield frames[i & 63]
            i += 1

    call = stub.OrderStream(reqs(), metadata=md)
    t_measure = time.perf_counter() + warmup
    n = errors = 0
    got = 0
    async for resp in call:
        for a in resp.acks:
            got += 1
            if a.error:
                errors += 1
            if got % batch == 0:
                credit.release()
        now = time.perf_counter()
        if now >= t_measure:
            if n == 0:
                t0, n = now, 1
            else:
                n += len(resp.acks)
    elapsed = time.perf_counter() - t0
    _ = q
    return {"orders_per_s": n / elapsed, "orders": n, "errors": errors, "window": window, "batch": batch}


async def unary_closed(
    stub: Any, md: Any, pb: Any, seconds: float, warmup: float, conc: int
) -> dict[str, float]:
    t_measure = time.perf_counter() + warmup
    stop = t_measure + seconds
    counts = [0] * conc
    errors = 0

    async def worker(w: int) -> None:
        nonlocal errors
        i = w
        while True:
            now = time.perf_counter()
            if now >= stop:
                return
            ack = await stub.SubmitOrder(order(pb, i), metadata=md)
            if ack.kind != pb.EVENT_KIND_ORDER_ACCEPTED:
                errors += 1
            if time.perf_counter() >= t_measure:
                counts[w] += 1
            i += conc

    await asyncio.gather(*(worker(w) for w in range(conc)))
    return {
        "orders_per_s": sum(counts) / seconds,
        "orders": sum(counts),
        "errors": errors,
        "concurrency": conc,
    }


async def stream_open(
    stub: Any, md: Any, gw: Any, pb: Any, seconds: float, warmup: float, rate: float, batch: int
) -> dict[str, float]:
    """Frames of `batch` orders on a fixed schedule; latency from each frame's scheduled time."""
    period = batch / rate
    n_frames = int((warmup + seconds) / period)
    sched: dict[int, float] = {}
    lat = Lat()
    start = time.perf_counter() + 0.05
    measure_from = int(warmup / period)
    pending: dict[int, int] = {}

    async def reqs() -> Any:
        for i in range(n_frames):
            t = start + i * period
            delay = t - time.perf_counter()
            if delay > 0.0005:
                await asyncio.sleep(delay)
            sched[i] = t
            pending[i] = batch
            yield gw.OrderStreamRequest(request_id=i, submit=[order(pb, i * batch + k) for k in range(batch)])

    errors = 0
    sent_ok = 0
    async for resp in stub.OrderStream(reqs(), metadata=md):
        now = time.perf_counter()
        for a in resp.acks:
            rid = a.request_id
            if a.error:
                errors += 1
            if rid >= measure_from:
                lat.add((now - sched[rid]) * 1e6)
                sent_ok += 1
    elapsed = (n_frames - measure_from) * period
    return {
        "offered_per_s": rate,
        "achieved_per_s": sent_ok / elapsed,
        "errors": errors,
        "batch": batch,
        **lat.row(),
    }


async def unary_open(
    stub: Any, md: Any, pb: Any, seconds: float, warmup: float, rate: float
) -> dict[str, float]:
    period = 1.0 / rate
    n = int((warmup + seconds) * rate)
    measure_from = int(warmup * rate)
    lat = Lat()
    start = time.perf_counter() + 0.05
    errors = 0
    tasks = []

    async def one(i: int, t: float) -> None:
        nonlocal errors
        ack = await stub.SubmitOrder(order(pb, i), metadata=md)
        if ack.kind != pb.EVENT_KIND_ORDER_ACCEPTED:
            errors += 1
        if i >= measure_from:
            lat.add((time.perf_counter() - t) * 1e6)

    for i in range(n):
        t = start + i * period
        delay = t - time.perf_counter()
        if delay > 0.0005:
            await asyncio.sleep(delay)
        tasks.append(asyncio.ensure_future(one(i, t)))
    await asyncio.gather(*tasks)
    return {
        "offered_per_s": rate,
        "achieved_per_s": lat.h.get_total_count() / seconds,
        "errors": errors,
        **lat.row(),
    }


class Cpu:
    """CPU seconds used by the gateway, the fake engine and this client during a phase (psutil)."""

    def __init__(self, pids: dict[str, int]) -> None:
        import psutil

        self.procs = {k: psutil.Process(p) for k, p in pids.items()}
        self.procs["client"] = psutil.Process()

    def snap(self) -> dict[str, float]:
        return {k: (lambda t: t.user + t.system)(p.cpu_times()) for k, p in self.procs.items()}

    @staticmethod
    def per_order(a: dict[str, float], b: dict[str, float], n: float) -> dict[str, float]:
        return {f"cpu_us_per_order_{k}": round((b[k] - a[k]) / n * 1e6, 1) if n else 0.0 for k in a}


async def phase(cpu: Cpu, coro: Any, key: str) -> dict[str, Any]:
    before = cpu.snap()
    res = await coro
    n = res.get("orders") or res.get("count") or 0
    res.update(Cpu.per_order(before, cpu.snap(), n))
    return res


async def client_main(
    port: int, token: str, ca: Path, a: argparse.Namespace, pids: dict[str, int]
) -> dict[str, Any]:
    from oms.api.gen.oms.v1 import gateway_pb2 as gw
    from oms.api.gen.oms.v1 import gateway_pb2_grpc as gw_grpc
    from oms.api.gen.oms.v1 import types_pb2 as pb
    from oms.client import aio_channel, metadata

    md = metadata(token)
    async with aio_channel(f"127.0.0.1:{port}", ca) as ch:
        stub = gw_grpc.GatewayStub(ch)
        await stub.SubmitOrder(order(pb, 0), metadata=md)  # connection + TLS handshake outside timing
        out: dict[str, Any] = {}
        cpu = Cpu(pids)
        run = (
            ("stream_throughput", stream_closed(stub, md, gw, pb, a.seconds, a.warmup, a.window, a.batch)),
            ("unary_throughput", unary_closed(stub, md, pb, a.seconds, a.warmup, a.concurrency)),
            ("stream_latency", stream_open(stub, md, gw, pb, a.seconds, a.warmup, a.rate, a.batch)),
            (
                "stream_latency_mid_rate",
                stream_open(stub, md, gw, pb, a.seconds, a.warmup, a.mid_rate, a.batch),
            ),
            ("stream_latency_peer_rate", stream_open(stub, md, gw, pb, a.seconds, a.warmup, a.peer_rate, 1)),
            ("unary_latency_peer_rate", unary_open(stub, md, pb, a.seconds, a.warmup, a.peer_rate)),
        )
        for key, coro in run:
            out[key] = await phase(cpu, coro, key)
    st, un = out["stream_throughput"]["orders_per_s"], out["unary_throughput"]["orders_per_s"]
    out["stream_orders_per_s"], out["unary_orders_per_s"] = round(st), round(un)
    out["stream_p99_us_at_rate"] = out["stream_latency"]["p99_us"]
    out["ratio_stream_vs_unary_throughput"] = st / un if un else None
    sp, up = out["stream_latency_peer_rate"]["p99_us"], out["unary_latency_peer_rate"]["p99_us"]
    out["ratio_unary_vs_stream_p99_at_peer_rate"] = up / sp if sp else None
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=2.0 if CI else 4.0, help="measured seconds per phase")
    ap.add_argument("--warmup", type=float, default=0.5 if CI else 1.0)
    ap.add_argument("--rate", type=float, default=50_000.0, help="stream offered rate, orders/s")
    ap.add_argument("--mid-rate", type=float, default=10_000.0, help="a second stream rate, below saturation")
    ap.add_argument(
        "--peer-rate", type=float, default=1_000.0, help="rate for the stream-vs-unary latency peer"
    )
    ap.add_argument("--batch", type=int, default=50, help="orders per stream frame")
    ap.add_argument("--window", type=int, default=2000, help="stream orders in flight (throughput phase)")
    ap.add_argument("--concurrency", type=int, default=64, help="unary calls in flight (throughput phase)")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    if not (a.seconds > 0 and a.rate > 0 and a.peer_rate > 0 and 1 <= a.batch <= 256 and a.window >= a.batch):
        ap.error("need seconds > 0, rates > 0, 1 <= batch <= 256, window >= batch")

    import signal

    from oms.api import certs
    from oms.api.tokens import TokenStore
    from oms.shm import names, segment

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the cleanup below on SIGTERM too
    tmp = Path(tempfile.mkdtemp(prefix="omsbench-gw-"))
    prefix = "b" + uuid.uuid4().hex[:10]
    gw_proc = eng = None
    try:
        paths = certs.init(tmp / "certs")
        _, token = TokenStore(tmp / "tokens.json").add("bench", ["trader"], [1], rate=1e9, burst=10**9)
        settings = {
            "port": 0,
            "cert": str(paths.server_cert),
            "key": str(paths.server_key),
            "tokens_file": str(tmp / "tokens.json"),
            "audit_file": str(tmp / "audit.jsonl"),
            "ack_timeout_s": 5.0,
            "ring_capacity": 1 << 16,
        }
        gw_proc = subprocess.Popen(
            [sys.executable, "-m", "oms.api.server", "--settings", json.dumps(settings), "--prefix", prefix],
            cwd=ROOT,
            stdout=subprocess.PIPE,
        )
        assert gw_proc.stdout is not None
        line = gw_proc.stdout.readline().decode()
        if "gateway ready" not in line:
            raise SystemExit(f"gateway did not start: {line!r}")
        port = int(line.rsplit("=", 1)[1])
        eng = subprocess.Popen(
            [sys.executable, "-m", "oms.api.fake_engine", "--prefix", prefix],
            cwd=ROOT,
            stdout=subprocess.PIPE,
        )
        assert eng.stdout is not None and b"ready" in eng.stdout.readline()
        pids = {"gateway": gw_proc.pid, "engine": eng.pid}
        res = asyncio.run(client_main(port, token, paths.ca_cert, a, pids))
    finally:
        if eng is not None:
            eng.terminate()
            eng.wait(10)
        if gw_proc is not None:
            gw_proc.terminate()
            gw_proc.wait(10)
        for name in (names.gateway_commands(prefix), names.engine_events_to_gateway(prefix)):
            segment.unlink(name)
        shutil.rmtree(tmp, ignore_errors=True)
    res["config"] = {
        "seconds": a.seconds,
        "warmup_excluded_s": a.warmup,
        "rate": a.rate,
        "mid_rate": a.mid_rate,
        "peer_rate": a.peer_rate,
        "batch": a.batch,
        "window": a.window,
        "concurrency": a.concurrency,
        "cpus": os.cpu_count(),
        "engine": "fake (oms/api/fake_engine.py)",
        "tls": "TLS 1.3 via the gateway's front",
    }
    if a.json:
        print(json.dumps(res))
        return 0
    c = res["config"]
    print(
        f"gateway bench: TLS 1.3 loopback, fake engine on shm rings, {c['cpus']} CPUs, "
        f"{a.seconds:g} s measured per phase after {a.warmup:g} s warm-up (excluded)"
    )
    print(
        f"{'phase':44} {'orders/s':>10} {'p50 µs':>8} {'p99 µs':>8} {'p99.9 µs':>9} {'max µs':>8} {'err':>4}"
    )
    st, un = res["stream_throughput"], res["unary_throughput"]
    print(
        f"{f'stream, closed loop (window {a.window}, batch {a.batch})':44} {st['orders_per_s']:>10,.0f}"
        f" {'':>8} {'':>8} {'':>9} {'':>8} {st['errors']:>4}"
    )
    print(
        f"{f'unary, closed loop ({a.concurrency} in flight)':44} {un['orders_per_s']:>10,.0f}"
        f" {'':>8} {'':>8} {'':>9} {'':>8} {un['errors']:>4}"
    )
    for key, label in (
        ("stream_latency", f"stream, open loop {a.rate:,.0f}/s (batch {a.batch})"),
        ("stream_latency_mid_rate", f"stream, open loop {a.mid_rate:,.0f}/s (batch {a.batch})"),
        ("stream_latency_peer_rate", f"stream, open loop {a.peer_rate:,.0f}/s (batch 1)"),
        ("unary_latency_peer_rate", f"unary, open loop {a.peer_rate:,.0f}/s"),
    ):
        r = res[key]
        print(
            f"{label:44} {r['achieved_per_s']:>10,.0f} {r['p50_us']:>8} {r['p99_us']:>8} {r['p999_us']:>9} "
            f"{r['max_us']:>8} {r['errors']:>4}"
        )
    print(
        "CPU µs per order gateway/fake engine/client (incl. warm-up): "
        + "; ".join(
            f"{k}: {res[k]['cpu_us_per_order_gateway']:.0f}/{res[k]['cpu_us_per_order_engine']:.0f}/"
            f"{res[k]['cpu_us_per_order_client']:.0f}"
            for k in ("stream_throughput", "unary_throughput")
        )
    )
    with open("/proc/loadavg") as f:
        print(f"machine load average (1 min) at the end: {f.read().split()[0]} on {os.cpu_count()} CPUs")
    print(
        f"ratio stream/unary throughput: {res['ratio_stream_vs_unary_throughput']:.2f}x; "
        f"unary/stream p99 at {a.peer_rate:,.0f}/s: {res['ratio_unary_vs_stream_p99_at_peer_rate']:.2f}x"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
