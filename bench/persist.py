"""Benchmark (bus/store room): events/s end to end, ring → bridge → JetStream → recorder → PostgreSQL.

Touches only what it starts: its own nats-server (JetStream file store), PostgreSQL and (with --redis)
Redis on free loopback ports under a temp dir, a ring under a unique prefix, and a recorder subprocess
(`python -m oms.procs.recorder`, as in production). All are stopped at the end.

Two paths in the same run, each on fresh streams and empty tables:
- batched (ours): OMSF frames of `--frame` EVENT records per JetStream message, async publish with
  bounded in-flight acks, recorder COPY per fetched batch;
- peer: the unbatched path, one event per JetStream publish (same bridge and recorder code with
  frame_records=1; the recorder still fetches up to 1024 messages per batch, so it is only the
  one-event-per-publish choice that differs).

Measured: time from the first record entering the ring until the ring is drained and acked by JetStream
("publish") and until every record is committed in PostgreSQL ("end to end"); the events table is
then checked to hold exactly N distinct rows. Warm-up (numba compile, server start, stream creation) is
excluded. Throughput benchmark: no latency histogram here (see bench/ring.py style for latencies).

The PostgreSQL stage alone runs twice in the same run: one writer (the former single COPY writer, the
reference) and `--writers` parallel writers, each checked for exactly-once too.

    .venv/bin/python bench/persist.py [--events N] [--peer-events N] [--frame 2048] [--writers 4]
                                      [--redis] [--json]   (sanity: --events 100000 --peer-events 2000)
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

import msgspec
import nats
import numpy as np
import psycopg

from oms.bus.bridge import open_bridge
from oms.bus.settings import Settings as BusSettings
from oms.bus.settings import StreamLimits
from oms.services.nats import NatsServer
from oms.services.postgres import PostgresServer
from oms.services.redis import RedisServer
from oms.shm import names
from oms.shm import records as R
from oms.shm.ring import Ring
from oms.store.migrate import migrate
from oms.store.writer import ParallelEventWriter

CI = bool(os.environ.get("CI"))
# the bench's own server, sized for bulk ingest (the test fixture's 64 MB shared_buffers is for tests)
PG_CONF = {
    "shared_buffers": "1GB",
    "wal_buffers": "64MB",
    "max_wal_size": "4GB",
    "checkpoint_timeout": "30min",
    "synchronous_commit": "off",
}


def make_events(n: int) -> np.ndarray:
    r = R.new(R.EVENT, n)
    seq = np.arange(n, dtype=np.uint64)
    r["seq"], r["source"], r["venue"], r["market"], r["instrument"], r["account"] = seq, 1, 1, 1, 7, 3
    r["client_order_id"] = 1_000_000 + seq // 4
    r["kind"] = np.where(seq % 4 == 3, R.ORDER_FILLED, R.ORDER_ACCEPTED)
    r["side"] = np.where((seq // 4) % 2 == 0, R.SIDE_BUY, R.SIDE_SELL)
    r["price"], r["qty"] = 50_000 + (seq % 100).astype(np.int64), 10
    r["ts_ns"] = time.time_ns()
    return r


def toml_of(bus: BusSettings, writers: int) -> str:
    d = msgspec.to_builtins(bus)
    lines = ["[store]", f"writers = {writers}", "[bus]"] + [
        f"{k} = {json.dumps(v)}" for k, v in d.items() if not isinstance(v, dict)
    ]
    for kind, lim in d["streams"].items():
        lines.append(f"[bus.streams.{kind}]")
        lines += [f"{k} = {json.dumps(v)}" for k, v in lim.items()]
    return "\n".join(lines) + "\n"


def count(dsn: str) -> int:
    with psycopg.connect(dsn) as c:
        return int(c.execute("SELECT count(*) FROM events").fetchone()[0])  # type: ignore[index]


async def run_path(
    name: str,
    n: int,
    frame: int,
    fetch: int,
    nats_url: str,
    dsn: str,
    redis_url: str,
    use_redis: bool,
    tmp: Path,
    writers: int,
) -> dict[str, object]:
    prefix = f"bp{uuid.uuid4().hex[:6]}"
    lim = StreamLimits(max_bytes=512 * 1024**2, max_age_s=3600.0)
    bus = BusSettings(
        nats_url=nats_url,
        exchanges=["binance"],
        streams={k: lim for k in ("orders", "fills", "market", "positions", "risk", "audit")},
        frame_records=frame,
        max_inflight=256 if frame == 1 else 64,
        fetch_batch=fetch,
        spool_dir=str(tmp / f"spool-{name}"),
        durable_prefix=f"bench-{name}",
    )
    # fresh streams and tables
    nc0 = await nats.connect(nats_url)
    js0 = nc0.jetstream()
    for s in await js0.streams_info():
        await js0.delete_stream(s.config.name)
    await nc0.close()
    with psycopg.connect(dsn, autocommit=True) as c:
        c.execute("TRUNCATE events, fills, orders")
    cfg = tmp / f"{name}.toml"
    cfg.write_text(toml_of(bus, writers))
    ring = Ring.create(names.engine_events_to_bridge(prefix), R.EVENT, 1 << 18)
    try:
        nc, bridge = await open_bridge(ring, bus)
    except BaseException:
        ring.unlink()
        ring.close()
        raise
    argv = [
        sys.executable,
        "-m",
        "oms.procs.recorder",
        "--config",
        str(cfg),
        "--dsn",
        dsn,
        "--redis-url",
        redis_url,
    ]
    if not use_redis:
        argv.append("--no-cache")
    rec = subprocess.Popen(argv, stderr=subprocess.DEVNULL, env={**os.environ, "PYTHONPATH": os.getcwd()})
    try:
        # warm-up: let the recorder bind its consumers and numba compile (excluded from timing)
        warm = make_events(8)
        warm["seq"] += np.uint64(10**12)
        ring.publish_batch(warm)
        await bridge.drain(30)
        deadline = time.monotonic() + 60
        while count(dsn) < 8 and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        with psycopg.connect(dsn, autocommit=True) as c:
            c.execute("TRUNCATE events, fills, orders")
        ev = make_events(n)
        t0 = time.perf_counter()
        sent = 0
        task = asyncio.get_running_loop().create_task(bridge.run(idle_sleep_s=0.0002, max_idle_sleep_s=0.001))
        while sent < n:
            sent += ring.publish_batch(ev[sent : sent + 65536])
            await asyncio.sleep(0)
        await bridge.drain(600)
        t_pub = time.perf_counter() - t0
        bridge.stop()
        await task
        # completion poll: an index-only max(seq) while loading (a count(*) every 100 ms would eat the
        # very CPU PostgreSQL is ingesting with), then count(*) for the exact figure
        deadline = time.monotonic() + 900
        with psycopg.connect(dsn, autocommit=True) as c:
            q = "SELECT coalesce(max(seq), -1) FROM events WHERE source = 1"
            while c.execute(q).fetchone()[0] < n - 1 and time.monotonic() < deadline:  # type: ignore[index]
                await asyncio.sleep(0.02)
        got = count(dsn)
        while got < n and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
            got = count(dsn)
        t_e2e = time.perf_counter() - t0
        with psycopg.connect(dsn) as c:
            rows, distinct = c.execute(
                "SELECT count(*), count(DISTINCT (source, seq)) FROM events"
            ).fetchone()  # type: ignore[misc]
        return {
            "path": name,
            "events": n,
            "records_per_msg": frame,
            "publish_s": round(t_pub, 3),
            "e2e_s": round(t_e2e, 3),
            "publish_events_per_s": round(n / t_pub),
            "e2e_events_per_s": round(n / t_e2e),
            "rows": rows,
            "distinct_rows": distinct,
            "exactly_once": rows == distinct == n,
            "lost": n - distinct,
            "duplicated": rows - distinct,
            "pg_writers_per_stream": writers,
            "frames_acked": bridge.publisher.stats.frames_acked,
        }
    finally:
        rec.terminate()
        try:
            rec.wait(15)
        except subprocess.TimeoutExpired:
            rec.kill()
            rec.wait(5)
        await nc.close()
        ring.unlink()
        ring.close()


def writer_only(dsn: str, n: int, parts: int) -> dict[str, object]:
    """The PostgreSQL stage alone (131,072-event batches, `parts` writers per batch): this machine's
    ingest ceiling; parts=1 is the single COPY writer (the reference), then the parallel one."""
    with psycopg.connect(dsn, autocommit=True) as c:
        c.execute("TRUNCATE events, fills, orders")
    ev = make_events(n)
    w = ParallelEventWriter(dsn, parts=parts)
    w.write(make_events(64))  # connect and compile (excluded)
    with psycopg.connect(dsn, autocommit=True) as c:
        c.execute("TRUNCATE events, fills, orders")
    t0 = time.perf_counter()
    for i in range(0, n, 131_072):
        w.write(ev[i : i + 131_072])
    dt = time.perf_counter() - t0
    w.close()
    with psycopg.connect(dsn) as c:
        rows, distinct = c.execute("SELECT count(*), count(DISTINCT (source, seq)) FROM events").fetchone()  # type: ignore[misc]
    return {
        "events": n,
        "writers": parts,
        "seconds": round(dt, 3),
        "events_per_s": round(n / dt),
        "exactly_once": rows == distinct == n,
    }


async def main_async(args: argparse.Namespace) -> dict[str, object]:
    tmp = Path(tempfile.mkdtemp(prefix="oms-bench-persist-"))
    # speed chosen explicitly, as before durable defaults (#23): the stack's own defaults are
    # JetStream sync "always" and PostgreSQL fsync + synchronous_commit on
    srv_n = NatsServer(tmp / "nats", max_file_store="4GB", max_payload="8MB", sync_interval="2m")
    srv_p = PostgresServer(tmp / "pg", extra_conf=PG_CONF, fsync=False)
    srv_r = RedisServer(tmp / "redis")
    started = []
    try:
        for s in (srv_n, srv_p, srv_r):
            s.start()
            started.append(s)
        srv_p.ensure_database("oms")
        dsn = srv_p.dsn_for("oms")
        migrate(dsn)
        ours = await run_path(
            "batched",
            args.events,
            args.frame,
            64,
            srv_n.admin_url,
            dsn,
            srv_r.admin_url,
            args.redis,
            tmp,
            args.writers,
        )
        peer = await run_path(
            "unbatched", args.peer_events, 1, 1024, srv_n.admin_url, dsn, srv_r.admin_url, args.redis, tmp, 1
        )
        pg_only = writer_only(dsn, min(args.events, 524_288), 1)
        pg_par = writer_only(dsn, min(args.events, 524_288), args.writers)
    finally:
        for s in reversed(started):
            s.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    return {
        "bench": "persist",
        "target_e2e_events_per_s": 300_000,
        "redis_cache": args.redis,
        "cores": len(os.sched_getaffinity(0)),
        "batched": ours,
        "unbatched_peer": peer,
        "postgres_writer_only": pg_only,
        "postgres_parallel_writers_only": pg_par,
        "ratio_e2e": round(ours["e2e_events_per_s"] / max(1, peer["e2e_events_per_s"]), 1),  # type: ignore[operator]
        "ratio_publish": round(ours["publish_events_per_s"] / max(1, peer["publish_events_per_s"]), 1),  # type: ignore[operator]
    }


def main() -> int:
    p = argparse.ArgumentParser(description="ring → JetStream → PostgreSQL throughput, batched vs unbatched")
    p.add_argument("--events", type=int, default=300_000 if CI else 2_000_000)
    p.add_argument("--peer-events", type=int, default=20_000 if CI else 100_000)
    p.add_argument("--frame", type=int, default=2048, help="records per JetStream message (batched path)")
    p.add_argument("--redis", action="store_true", help="recorder also updates the Redis hot cache")
    p.add_argument("--writers", type=int, default=4, help="PostgreSQL writers per stream ([store].writers)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    args = p.parse_args()
    for k in ("events", "peer_events", "frame", "writers"):
        if getattr(args, k) <= 0:
            p.error(f"--{k.replace('_', '-')} must be > 0")
    res = asyncio.run(main_async(args))
    if args.json:
        print(json.dumps(res))
        return 0
    print(f"persist: ring → JetStream → PostgreSQL ({res['cores']} cores, redis cache {res['redis_cache']})")
    hdr = f"{'path':<10} {'events':>10} {'rec/msg':>8} {'publish ev/s':>13} {'e2e ev/s':>11} {'e2e s':>8}"
    hdr += f" {'lost':>6} {'dup':>5} {'exactly once':>13}"
    print(hdr)
    print("-" * len(hdr))
    for r in (res["batched"], res["unbatched_peer"]):
        assert isinstance(r, dict)
        print(
            f"{r['path']:<10} {r['events']:>10,} {r['records_per_msg']:>8} {r['publish_events_per_s']:>13,} "
            f"{r['e2e_events_per_s']:>11,} {r['e2e_s']:>8} {r['lost']:>6} {r['duplicated']:>5} "
            f"{r['exactly_once']!s:>13}"
        )
    w = res["postgres_writer_only"]
    assert isinstance(w, dict)
    wp = res["postgres_parallel_writers_only"]
    assert isinstance(wp, dict)
    print(f"PostgreSQL stage alone (COPY, 131k-event batches): one writer (reference) {w['events_per_s']:,} "
          f"ev/s, {wp['writers']} parallel writers {wp['events_per_s']:,} ev/s")  # fmt: skip
    print(f"ratio batched/unbatched: e2e {res['ratio_e2e']}x, publish {res['ratio_publish']}x "
          f"(target e2e >= {res['target_e2e_events_per_s']:,} ev/s)")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
