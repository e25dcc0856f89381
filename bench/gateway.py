"""Benchmark (gateway room): orders/s and ack latency through the gateway's bidi OrderStream vs unary
SubmitOrder, in the same run, over real TLS 1.3 on loopback, through the real shm rings.

Touches a temporary directory (certs, token file, audit file), loopback ports and two shm rings of a
unique prefix; everything is stopped and removed at the end. Processes: the gateway (TLS front +
grpc.aio), the engine room's REAL process (python -m oms.procs.engine, risk limits that need market data
off, started by the gateway tests' launcher tests/integration/gateway/engine_proc.py), a ring sink
standing in for the connector (this file with --sink: drains the engine's connector and bridge rings so
they never fill; no venue, so an accepted order is acked OrderSubmitted), the bare echo PEER (this file
with --echo-peer: grpc.aio generic bytes handler behind the same TLS 1.3 front, no auth, no protobuf
work) and this client (grpc.aio). A 2-core machine runs them all.

Phases (warm-up of --warmup s excluded from every figure, stated in the output):
 1. throughput, closed loop: the stream keeps --window orders in flight in frames of --batch orders;
    unary keeps --concurrency calls in flight. orders/s each, and the ratio stream/unary.
 2. latency, open loop at a constant offered rate (coordinated omission corrected: latency counts from
    each order's scheduled send time): the stream at --rate orders/s (frames of --batch every
    batch/rate s), and both stream and unary at --peer-rate (a rate unary can sustain), so the peer
    comparison is at the same load. HDR histograms (µs): p50, p99, p99.9, max.
 3. the floor: the bare echo peer, unary, closed loop (one call at a time) and open loop at --peer-rate
    with the same request bytes; printed with the ratio gateway-unary / echo at p50 and p99.
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


ECHO_METHOD = "/bench.Echo/Echo"


def ok_kinds() -> tuple[int, ...]:
    from oms.api.gen.oms.v1 import types_pb2 as pb

    return (pb.EVENT_KIND_ORDER_ACCEPTED, pb.EVENT_KIND_ORDER_SUBMITTED)


OK_KINDS: tuple[int, ...] = ()


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
            if ack.kind not in OK_KINDS:
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
        if ack.kind not in OK_KINDS:
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


async def echo_closed(ch: Any, payload: bytes, seconds: float, warmup: float) -> dict[str, float]:
    """The bare echo, one call at a time: the floor of a grpc.aio unary round trip over this TLS."""
    call = ch.unary_unary(ECHO_METHOD)
    lat = Lat()
    t_measure = time.perf_counter() + warmup
    stop = t_measure + seconds
    while (t := time.perf_counter()) < stop:
        await call(payload)
        if t >= t_measure:
            lat.add((time.perf_counter() - t) * 1e6)
    return {"achieved_per_s": lat.h.get_total_count() / seconds, "errors": 0, **lat.row()}


async def echo_open(ch: Any, payload: bytes, seconds: float, warmup: float, rate: float) -> dict[str, float]:
    """The bare echo at a constant offered rate, latency from each call's scheduled time."""
    call = ch.unary_unary(ECHO_METHOD)
    period = 1.0 / rate
    n = int((warmup + seconds) * rate)
    measure_from = int(warmup * rate)
    lat = Lat()
    start = time.perf_counter() + 0.05
    tasks = []

    async def one(i: int, t: float) -> None:
        await call(payload)
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
        "errors": 0,
        **lat.row(),
    }


def echo_peer(cert: str, key: str) -> int:
    """The peer: grpc.aio, one generic unary bytes handler that returns its request (no auth, no
    protobuf), behind the gateway's own TLS 1.3 front (oms/api/tls_front.py)."""
    import grpc

    from oms.api.tls_front import TlsFiles, TlsFront

    async def run() -> None:
        async def echo(req: bytes, ctx: Any) -> bytes:
            return req

        handler = grpc.method_handlers_generic_handler(
            "bench.Echo", {"Echo": grpc.unary_unary_rpc_method_handler(echo)}
        )
        server = grpc.aio.server()
        server.add_generic_rpc_handlers((handler,))
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        front = TlsFront("127.0.0.1", 0, ("127.0.0.1", port), TlsFiles(Path(cert), Path(key)))
        await front.start()
        print(f"echo ready port={front.port}", flush=True)
        await server.wait_for_termination()

    import signal

    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))  # nothing to flush; no loop-closed noise
    asyncio.run(run())
    return 0


def sink(prefix: str) -> int:
    """Stand-in for the connector: drain the engine's connector ring and its bridge event ring (both
    blocking for the engine when full) until SIGTERM; prints how many records it took."""
    import signal

    import numpy as np

    from oms.shm import names
    from oms.shm import records as r
    from oms.shm.ring import open_ring
    from oms.shm.wait import Backoff, BackoffConfig

    stop = False

    def _term(*_: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, _term)
    cmd = open_ring(names.engine_commands_to_venue("binance", prefix), r.COMMAND, 1 << 16, producer=False)
    ev = open_ring(names.engine_events_to_bridge(prefix), r.EVENT, 1 << 16, producer=False)
    cbuf, ebuf = np.zeros(4096, r.COMMAND), np.zeros(4096, r.EVENT)
    wait = Backoff(BackoffConfig(spin=100, yields=20, sleep_min_us=50, sleep_max_us=500, pure_spin=False))
    print("sink ready", flush=True)
    n = 0
    while not stop:
        k = cmd.consume(cbuf) + ev.consume(ebuf)
        n += k
        if k:
            wait.reset()
        else:
            wait.idle()
    print(f"sink took {n} records", flush=True)
    return 0


class Cpu:
    """CPU seconds used by the gateway, the engine and this client during a phase (psutil)."""

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
    port: int, echo_port: int, token: str, ca: Path, a: argparse.Namespace, pids: dict[str, int]
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
    payload = order(pb, 1).SerializeToString()  # the same bytes a SubmitOrder carries
    async with aio_channel(f"127.0.0.1:{echo_port}", ca) as ch:
        await ch.unary_unary(ECHO_METHOD)(payload)  # connection + TLS handshake outside timing
        out["echo_closed_loop"] = await echo_closed(ch, payload, a.seconds, a.warmup)
        out["echo_latency_peer_rate"] = await echo_open(ch, payload, a.seconds, a.warmup, a.peer_rate)
    e, u = out["echo_latency_peer_rate"], out["unary_latency_peer_rate"]
    out["ratio_unary_vs_echo_p50"] = u["p50_us"] / e["p50_us"] if e["p50_us"] else None
    out["ratio_unary_vs_echo_p99"] = u["p99_us"] / e["p99_us"] if e["p99_us"] else None
    st, un = out["stream_throughput"]["orders_per_s"], out["unary_throughput"]["orders_per_s"]
    out["stream_orders_per_s"], out["unary_orders_per_s"] = round(st), round(un)
    out["stream_p99_us_at_rate"] = out["stream_latency"]["p99_us"]
    out["ratio_stream_vs_unary_throughput"] = st / un if un else None
    sp, up = out["stream_latency_peer_rate"]["p99_us"], out["unary_latency_peer_rate"]["p99_us"]
    out["ratio_unary_vs_stream_p99_at_peer_rate"] = up / sp if sp else None
    return out


class _Proc(subprocess.Popen[bytes]):
    ready: bytes = b""


def _child(args: list[str], marker: bytes) -> _Proc:
    p = _Proc([sys.executable, *args], cwd=ROOT, stdout=subprocess.PIPE)
    assert p.stdout is not None
    p.ready = p.stdout.readline().strip()
    if marker not in p.ready:
        raise SystemExit(f"{args[1]} did not start: {p.ready!r}")
    return p


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
    ap.add_argument(
        "--engine-orders",
        type=int,
        default=1 << 21,
        help="engine order_capacity (no venue: orders stay open)",
    )
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--sink", metavar="PREFIX", help=argparse.SUPPRESS)  # child: the ring sink
    ap.add_argument("--echo-peer", nargs=2, metavar=("CERT", "KEY"), help=argparse.SUPPRESS)  # child
    a = ap.parse_args()
    if a.sink:
        return sink(a.sink)
    if a.echo_peer:
        return echo_peer(*a.echo_peer)
    global OK_KINDS
    OK_KINDS = ok_kinds()
    sys.path.insert(0, str(ROOT))
    from tests.integration.gateway.engine_proc import start_real_engine, unlink_engine_rings

    if not (a.seconds > 0 and a.rate > 0 and a.peer_rate > 0 and 1 <= a.batch <= 256 and a.window >= a.batch):
        ap.error("need seconds > 0, rates > 0, 1 <= batch <= 256, window >= batch")

    import signal

    from oms.api import certs
    from oms.api.tokens import TokenStore
    from oms.shm import names, segment

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the cleanup below on SIGTERM too
    tmp = Path(tempfile.mkdtemp(prefix="omsbench-gw-"))
    prefix = "b" + uuid.uuid4().hex[:10]
    gw_proc = eng = snk = echo = None
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
        eng = start_real_engine(prefix, tmp / "engine", orders=a.engine_orders)
        snk = _child([__file__, "--sink", prefix], b"sink ready")
        echo = _child([__file__, "--echo-peer", str(paths.server_cert), str(paths.server_key)], b"echo ready")
        echo_port = int(echo.ready.rsplit(b"=", 1)[1])
        pids = {"gateway": gw_proc.pid, "engine": eng.pid}
        res = asyncio.run(client_main(port, echo_port, token, paths.ca_cert, a, pids))
    finally:
        for p in (echo, snk, eng, gw_proc):
            if p is not None:
                p.terminate()
                p.wait(10)
        for name in (names.gateway_commands(prefix), names.engine_events_to_gateway(prefix)):
            segment.unlink(name)
        unlink_engine_rings(prefix)
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
        "engine": "real (python -m oms.procs.engine), connector ring drained by a sink",
        "engine_orders": a.engine_orders,
        "tls": "TLS 1.3 via the gateway's front",
    }
    if a.json:
        print(json.dumps(res))
        return 0
    c = res["config"]
    print(
        f"gateway bench: TLS 1.3 loopback, real engine on shm rings, {c['cpus']} CPUs, "
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
    for key, label in (
        ("echo_closed_loop", "PEER bare echo, closed loop (1 in flight)"),
        ("echo_latency_peer_rate", f"PEER bare echo, open loop {a.peer_rate:,.0f}/s"),
    ):
        r = res[key]
        print(
            f"{label:44} {r['achieved_per_s']:>10,.0f} {r['p50_us']:>8} {r['p99_us']:>8} {r['p999_us']:>9} "
            f"{r['max_us']:>8} {r['errors']:>4}"
        )
    print(
        "CPU µs per order gateway/engine/client (incl. warm-up): "
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
    print(
        f"gateway unary / bare echo at {a.peer_rate:,.0f}/s: p50 {res['ratio_unary_vs_echo_p50']:.2f}x, "
        f"p99 {res['ratio_unary_vs_echo_p99']:.2f}x (targets: <= 1.3x, <= 2x)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
