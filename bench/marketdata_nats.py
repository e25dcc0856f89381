"""Benchmark (bus room): market data to NATS — md.bridge ring → MarketPublisher → JetStream MARKET stream.

Touches only what it starts: its own nats-server (JetStream file store) under a temp dir, a ring under a
unique prefix, both removed at the end.

Ours: a producer thread offers BBO and trade records for `--instruments` instruments at a constant
`--rate` (records/s, in 1 ms slices so stalls are not hidden) into the md.bridge ring for `--seconds`;
the publisher (the bridge's code) drains it every `--interval-ms` and publishes one OMSF frame per
changed instrument (latest BBO + every trade) to the MARKET_BINANCE stream. A core-NATS subscriber on
`market.>` measures the latency from a record's creation (`ts_ns`) to its frame's arrival (HDR
histogram; conflated BBOs count as delivered by the frame that replaced them: staleness is bounded by
the interval) and counts what arrived.

Peer, in the same run: the obvious design, one JetStream publish per record (no frames, no conflation),
as fast as it goes with bounded in-flight acks, for `--peer-records` records; its records/s is the
ceiling a per-record design reaches on this machine. Warm-up (server start, stream creation) excluded.

    .venv/bin/python bench/marketdata_nats.py [--rate 20000] [--seconds 5] [--instruments 50]
                                              [--interval-ms 100] [--peer-records 20000] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import nats
import numpy as np
from hdrh.histogram import HdrHistogram

from oms.bus import frames as F
from oms.bus.market import MarketPublisher
from oms.bus.settings import Settings as BusSettings
from oms.bus.settings import StreamLimits
from oms.bus.streams import ensure_streams
from oms.services.nats import NatsServer
from oms.shm import names
from oms.shm import records as R
from oms.shm.ring import Ring


def _settings(url: str) -> BusSettings:
    small = StreamLimits(max_bytes=256 * 1024**2, max_age_s=600.0, storage="file")
    return BusSettings(nats_url=url, exchanges=["binance"], streams={"market": small})


def _produce(ring: Ring, rate: int, seconds: float, n_inst: int, stop: threading.Event, out: dict) -> None:
    recs = R.new(R.MARKET, max(1, rate // 1000) + 1)
    offered = dropped = 0
    t0 = time.perf_counter()
    seq = 0
    while not stop.is_set():
        elapsed = time.perf_counter() - t0
        if elapsed >= seconds:
            break
        due = int(elapsed * rate) - offered
        if due <= 0:
            time.sleep(0.0002)
            continue
        n = min(due, len(recs))
        idx = np.arange(seq, seq + n)
        b = recs[:n]
        b["kind"] = np.where(idx % 4 == 3, R.MD_TRADE, R.MD_BBO)
        b["instrument"] = 1 + idx % n_inst
        b["price"] = 6_000_000 + idx % 100
        b["ask_price"] = b["price"] + 1
        b["qty"] = b["ask_qty"] = 5
        b["seq"] = idx
        b["ts_ns"] = time.time_ns()
        put = ring.publish_batch(b)
        dropped += n - put
        offered += n
        seq += n
    out.update(offered=offered, dropped=dropped, seconds=time.perf_counter() - t0)


async def ours(url: str, args: argparse.Namespace) -> dict[str, object]:
    ring = Ring.create(
        names.market_data_to_bridge("bm" + uuid.uuid4().hex[:8]), R.MARKET, 1 << 18, producer=True
    )
    nc = await nats.connect(url)
    sub_nc = await nats.connect(url)
    try:
        js = nc.jetstream(publish_async_max_pending=4096)
        await ensure_streams(js, _settings(url))
        where = {i: ("binance", "spot", f"SYM{i}") for i in range(1, args.instruments + 1)}
        pub = MarketPublisher(ring, js, where.get, interval_s=args.interval_ms / 1000)
        hist = HdrHistogram(1, 60_000_000_000, 3)
        got = {"frames": 0, "records": 0, "bytes": 0}

        async def on_msg(m: nats.aio.msg.Msg) -> None:
            now = time.time_ns()
            _, recs = F.decode(m.data)
            got["frames"] += 1
            got["records"] += len(recs)
            got["bytes"] += len(m.data)
            for ts in recs["ts_ns"].tolist():
                hist.record_value(max(1, now - ts))

        await sub_nc.subscribe("market.>", cb=on_msg)
        await sub_nc.flush()
        stop = threading.Event()
        prod: dict[str, float] = {}
        th = threading.Thread(
            target=_produce, args=(ring, args.rate, args.seconds, args.instruments, stop, prod)
        )
        task = asyncio.get_running_loop().create_task(pub.run())
        t0 = time.perf_counter()
        th.start()
        while th.is_alive():
            await asyncio.sleep(0.05)
        await asyncio.sleep(args.interval_ms / 1000 * 2)
        pub.stop()
        await task
        await pub.drain()
        await asyncio.sleep(0.2)
        wall = time.perf_counter() - t0
        info = await js.stream_info("MARKET_BINANCE")
        st = pub.stats
        return {
            "offered_records": int(prod["offered"]),
            "offered_per_s": round(prod["offered"] / prod["seconds"]),
            "ring_drops": int(prod["dropped"]),
            "frames_published": st.frames,
            "frames_per_s": round(st.frames / wall),
            "bbo_conflated": st.bbo_conflated,
            "trades_published": st.trades_published,
            "failures": st.failures,
            "stream_messages": int(info.state.messages),
            "subscriber_records": got["records"],
            "subscriber_bytes_per_s": round(got["bytes"] / wall),
            "latency_us": {
                k: round(hist.get_value_at_percentile(p) / 1000, 1)
                for k, p in (("p50", 50), ("p99", 99), ("p999", 99.9), ("p9999", 99.99))
            }
            | {"max": round(hist.get_max_value() / 1000, 1)},
        }
    finally:
        await nc.close()
        await sub_nc.close()
        ring.close()
        ring.unlink()


async def peer(url: str, n: int) -> dict[str, object]:
    """One JetStream publish per record, bounded in-flight acks (4096)."""
    nc = await nats.connect(url)
    try:
        js = nc.jetstream(publish_async_max_pending=4096)
        rec = R.new(R.MARKET, 1)
        rec["kind"], rec["instrument"], rec["price"], rec["ask_price"] = R.MD_BBO, 1, 6_000_000, 6_000_001
        payload = rec.tobytes()
        t0 = time.perf_counter()
        pending = []
        for i in range(n):
            pending.append(await js.publish_async(f"market.binance.spot.SYM{1 + i % 50}", payload))
            if len(pending) >= 4096:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
        dt = time.perf_counter() - t0
        return {"records": n, "records_per_s": round(n / dt)}
    finally:
        await nc.close()


async def main_async(args: argparse.Namespace) -> dict[str, object]:
    tmp = Path(tempfile.mkdtemp(prefix="oms-bench-md-"))
    srv = NatsServer(tmp / "nats")
    srv.start()
    try:
        res = {"ours": await ours(srv.url, args)}
        res["peer_per_record_publish"] = await peer(srv.url, args.peer_records)
        o, p = res["ours"], res["peer_per_record_publish"]
        res["ratio_offered_vs_peer_ceiling"] = round(o["offered_per_s"] / max(1, p["records_per_s"]), 2)  # type: ignore[index,operator]
        res["params"] = vars(args)
        return res
    finally:
        srv.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> int:
    p = argparse.ArgumentParser(
        description="market data ring → NATS: conflated frames vs one publish per record"
    )
    p.add_argument("--rate", type=int, default=20_000, help="records/s offered (BBO:trade 3:1)")
    p.add_argument("--seconds", type=float, default=5.0)
    p.add_argument("--instruments", type=int, default=50)
    p.add_argument("--interval-ms", type=int, default=100)
    p.add_argument("--peer-records", type=int, default=20_000)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    args = p.parse_args()
    res = asyncio.run(main_async(args))
    if args.json:
        print(json.dumps(res))
        return 0
    o, pr = res["ours"], res["peer_per_record_publish"]
    rows = [
        ("records offered / s (constant rate)", o["offered_per_s"]),  # type: ignore[index]
        ("ring drops", o["ring_drops"]),  # type: ignore[index]
        ("frames published / s", o["frames_per_s"]),  # type: ignore[index]
        ("BBOs conflated away", o["bbo_conflated"]),  # type: ignore[index]
        ("trades published (all kept)", o["trades_published"]),  # type: ignore[index]
        ("MARKET_BINANCE messages", o["stream_messages"]),  # type: ignore[index]
        ("subscriber bytes / s", o["subscriber_bytes_per_s"]),  # type: ignore[index]
        (
            "record age at subscriber µs p50/p99/p99.9/max",
            "/".join(str(o["latency_us"][k]) for k in ("p50", "p99", "p999", "max")),
        ),  # type: ignore[index]
        ("peer: one JetStream publish per record, records / s", pr["records_per_s"]),  # type: ignore[index]
        ("offered / peer ceiling", res["ratio_offered_vs_peer_ceiling"]),
    ]
    w = max(len(k) for k, _ in rows)
    for k, v in rows:
        print(f"{k:<{w}}  {v}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
