"""Benchmark (deploy room): kill -9 of a JetStream stream's leader under constant event load, and its restart.

Touches only what it starts: a 3-node NATS cluster on loopback (oms/services/nats_cluster.py), a
throwaway PostgreSQL and Redis (unless given), one ring in /dev/shm, temp dirs. Load: EVENT records
pushed into the engine→bridge ring at a constant --rate (never waiting, as the engine would), through the
bridge → JetStream (every stream R3) → recorder → PostgreSQL. Mid-run the node leading ORDERS_BINANCE
is SIGKILLed; once the flow has resumed it is restarted on its old ports and store. Reported:
 - leader_s: kill → every stream the dead node led has a new leader;
 - flow_s: kill → an event produced after the kill is in PostgreSQL (the whole path flows again);
 - catchup_s: restart → the restarted node is a current replica of every stream again;
 - lost / duplicated: events sent − distinct (source, seq) in PostgreSQL / rows − distinct.
Peer in the same run: one nats-server (R1), SIGKILLed and restarted at once (the bridge spools meanwhile).
Usage: .venv/bin/python bench/nats_cluster.py [--rate 2000] [--seconds 10] [--no-peer] [--json]
(CI=true: smaller). The test tests/integration/deploy/test_deploy_nats_cluster.py runs run_failover.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import nats
import numpy as np
import psycopg

from oms import log
from oms.bus.bridge import open_bridge
from oms.bus.settings import Settings as BusSettings
from oms.bus.settings import StreamLimits
from oms.services.nats import NatsServer
from oms.services.nats_cluster import NatsCluster
from oms.shm import names
from oms.shm import records as R
from oms.shm.ring import Ring
from oms.store.recorder import Recorder
from oms.store.settings import Settings as StoreSettings
from oms.testing import eventually_async

CI = bool(os.environ.get("CI"))
_log = log.get("bench.nats_cluster")
KINDS = ("orders", "fills", "market", "positions", "risk", "audit")


@dataclass
class Failover:
    nodes: int
    events: int
    stored: int
    lost: int
    duplicated: int
    refused: int  # records the ring refused (full): the engine side would have seen backpressure
    leader_s: float
    flow_s: float
    catchup_s: float


def events(n: int) -> np.ndarray:
    """n EVENT records, seq 0..n-1, per order Accepted then (every 4th) Filled, on binance spot."""
    r = R.new(R.EVENT, n)
    seq = np.arange(n, dtype=np.uint64)
    r["seq"], r["source"] = seq, 1
    r["venue"], r["market"], r["instrument"], r["account"] = 1, 1, 7, 3
    r["client_order_id"] = 1_000_000 + seq // 4
    r["kind"] = np.where(seq % 4 == 3, R.ORDER_FILLED, R.ORDER_ACCEPTED)
    r["side"] = R.SIDE_BUY
    r["price"], r["qty"] = 50_000, 10
    r["cum_qty"] = np.where(r["kind"] == R.ORDER_FILLED, 10, 0)
    r["leaves_qty"] = np.where(r["kind"] == R.ORDER_FILLED, 0, 10)
    r["trade_id"] = np.where(r["kind"] == R.ORDER_FILLED, seq, 0)
    r["ts_ns"] = 1_700_000_000_000_000_000 + seq.astype(np.int64)
    return r


async def produce(ring: Ring, ev: np.ndarray, rate: int, counts: dict[str, int]) -> None:
    """Offer `ev` at `rate` records/s on a fixed schedule (coordinated omission: never waits on the ring)."""
    t0, sent = time.monotonic(), 0
    while sent < len(ev):
        due = min(len(ev), int((time.monotonic() - t0) * rate) + 1)
        if due > sent:
            n = ring.publish_batch(ev[sent:due])
            counts["refused"] += (due - sent) - n
            sent += n
            counts["sent"] = sent
        await asyncio.sleep(0.005)


def pg_max_seq(dsn: str) -> int:
    with psycopg.connect(dsn, connect_timeout=2) as c:
        row = c.execute("SELECT coalesce(max(seq), -1) FROM events").fetchone()
    return int(row[0])  # type: ignore[index]


def pg_counts(dsn: str) -> tuple[int, int]:
    with psycopg.connect(dsn, connect_timeout=2) as c:
        row = c.execute("SELECT count(*), count(DISTINCT (source, seq)) FROM events").fetchone()
    return int(row[0]), int(row[1])  # type: ignore[index]


def bus_for(url: str, replicas: int, spool: Path) -> BusSettings:
    lim = StreamLimits(max_bytes=16 * 1024**2, max_age_s=3600.0, replicas=replicas)
    return BusSettings(
        nats_url=url,
        exchanges=["binance", "all"],
        streams=dict.fromkeys(KINDS, lim),
        spool_dir=str(spool),
        spool_max_bytes=64 * 1024**2,
        spool_segment_bytes=4 * 1024**2,
        ack_timeout_s=2.0,
        ack_wait_s=3.0,
        durable_prefix=f"rec{uuid.uuid4().hex[:6]}",
    )


async def _leaders(js: Any, streams: list[str]) -> dict[str, str]:
    out = {}
    for s in streams:
        try:
            info = await js.stream_info(s)
            out[s] = (info.cluster.leader if info.cluster else "") or ""
        except Exception:  # no leader (election under way) or the node we asked is gone
            out[s] = ""
    return out


async def run_failover(
    nats_: NatsCluster | NatsServer, dsn: str, redis_url: str, *, rate: int, seconds: float, tmp: Path
) -> Failover:
    """The scenario of the module docstring on running servers; the dead node is back at the end."""
    cluster = isinstance(nats_, NatsCluster)
    prefix = f"b{uuid.uuid4().hex[:8]}"
    bus = bus_for(nats_.admin_url, 3 if cluster else 1, tmp / "spool")  # the servers refuse anonymous clients
    store = StoreSettings(postgres_dsn=dsn, redis_url=redis_url, redis_prefix=prefix, reconnect_s=0.2)
    ring = Ring.create(names.engine_events_to_bridge(prefix), R.EVENT, 1 << 16)
    urls = nats_.admin_url.split(",")
    watcher = await nats.connect(urls, max_reconnect_attempts=-1, reconnect_time_wait=0.1)
    nc, bridge = await open_bridge(ring, bus)
    btask = asyncio.get_running_loop().create_task(bridge.run())
    rec = Recorder(bus, store)
    ptask: asyncio.Task[None] | None = None
    try:
        await rec.start()
        ev = events(int(rate * seconds))
        counts = {"refused": 0, "sent": 0}
        ptask = asyncio.get_running_loop().create_task(produce(ring, ev, rate, counts))
        _log.info("load: %d events at %d/s through bridge -> JetStream -> recorder", len(ev), rate)
        js = watcher.jetstream()
        await eventually_async(
            lambda: pg_counts(dsn)[0] > rate * seconds * 0.2, seconds + 30, max_interval=0.2
        )
        streams = [
            i.config.name for i in await js.streams_info() if i.config.name.endswith(("_BINANCE", "_ALL"))
        ]
        leaders = await _leaders(js, streams) if cluster else {}
        victim = nats_.node_named(leaders["ORDERS_BINANCE"]) if isinstance(nats_, NatsCluster) else 0
        dead = leaders.get("ORDERS_BINANCE", "")
        at_kill = pg_counts(dsn)[0]
        _log.info(
            "killing %s (leader of ORDERS_BINANCE) with %d events stored", dead or "the server", at_kill
        )
        t_kill = time.monotonic()
        sent_at_kill = counts["sent"]
        if isinstance(nats_, NatsCluster):
            nats_.kill(victim)

            async def new_leaders() -> bool:
                now = await _leaders(js, streams)
                return all(now[s] and now[s] != dead for s, old in leaders.items() if old == dead)

            await eventually_async(new_leaders, 60, interval=0.02, max_interval=0.1)
        else:  # the peer: SIGKILL the one server and start it again at once, same port and store
            nats_._auto_port = nats_._auto_monitor = False
            assert nats_.proc is not None
            os.kill(nats_.proc.pid, 9)
            nats_.proc.wait(10)
            nats_.proc = None
            nats_.start()
        leader_s = time.monotonic() - t_kill
        # flowing again = an event the engine side produced after the kill is in PostgreSQL
        await eventually_async(lambda: pg_max_seq(dsn) >= sent_at_kill, 60, interval=0.02, max_interval=0.1)
        flow_s = time.monotonic() - t_kill
        _log.info("new leaders after %.2f s, recorder writing again after %.2f s", leader_s, flow_s)
        catchup_s = 0.0
        if isinstance(nats_, NatsCluster):
            t_restart = time.monotonic()
            nats_.restart(victim)

            async def current() -> bool:
                """The restarted node leads or is a current, online replica of every stream."""
                for s in streams:
                    info = await js.stream_info(s)
                    if info.cluster is None:
                        return False
                    if info.cluster.leader == dead:
                        continue
                    rep = next((r for r in info.cluster.replicas or [] if r.name == dead), None)
                    if rep is None or not rep.current or rep.offline:
                        return False
                return True

            await eventually_async(current, 60, interval=0.05, max_interval=0.2)
            catchup_s = time.monotonic() - t_restart
        await ptask
        _log.info("load done (%d events); waiting for PostgreSQL to have them all", len(ev))
        await eventually_async(lambda: pg_counts(dsn)[1] >= len(ev), 90, max_interval=0.2)
        rows, distinct = pg_counts(dsn)
        return Failover(
            nodes=3 if cluster else 1,
            events=len(ev),
            stored=distinct,
            lost=len(ev) - distinct,
            duplicated=rows - distinct,
            refused=counts["refused"],
            leader_s=round(leader_s, 3),
            flow_s=round(flow_s, 3),
            catchup_s=round(catchup_s, 3),
        )
    finally:
        if ptask is not None and not ptask.done():
            ptask.cancel()
        bridge.stop()
        await asyncio.wait_for(btask, 30)
        await rec.stop()
        await nc.close()
        await watcher.close()
        ring.unlink()
        ring.close()


def _database(pg: Any) -> str:
    from oms.store.migrate import migrate

    name = f"bench_{uuid.uuid4().hex[:8]}"
    pg.ensure_database(name)
    dsn = f"host=127.0.0.1 port={pg.port} user=postgres dbname={name}"
    migrate(dsn)
    return dsn


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    from oms.services.postgres import PostgresServer
    from oms.services.redis import RedisServer

    out: dict[str, Any] = {"rate": args.rate, "seconds": args.seconds}
    with tempfile.TemporaryDirectory(prefix="oms-bench-nats-") as d:
        tmp = Path(d)
        with PostgresServer(tmp / "pg") as pg, RedisServer(tmp / "redis") as rd:
            with NatsCluster(tmp / "cluster", 3) as c:
                r = await run_failover(
                    c, _database(pg), rd.admin_url, rate=args.rate, seconds=args.seconds, tmp=tmp / "a"
                )
                out["cluster_r3"] = asdict(r)
            if not args.no_peer:
                with NatsServer(tmp / "single") as s:
                    r = await run_failover(
                        s, _database(pg), rd.admin_url, rate=args.rate, seconds=args.seconds, tmp=tmp / "b"
                    )
                    out["single_r1"] = asdict(r)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rate", type=int, default=1000 if CI else 2000, help="events/s offered")
    ap.add_argument("--seconds", type=float, default=6.0 if CI else 10.0, help="length of the load")
    ap.add_argument("--no-peer", action="store_true", help="skip the single-node peer")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    log.setup(level="WARNING" if args.json else "INFO")
    out = asyncio.run(main_async(args))
    if args.json:
        print(json.dumps(out))
        return 0
    print(f"kill -9 of the ORDERS_BINANCE leader under {args.rate} events/s for {args.seconds:.0f} s")
    head = (
        f"{'setup':<26} {'events':>8} {'lost':>5} {'dup':>5} {'leader s':>9} {'flow s':>7} {'catch-up s':>10}"
    )
    print(head)
    print("-" * len(head))
    for key, label in (("cluster_r3", "3-node cluster, R3"), ("single_r1", "1 node, R1 (restart)")):
        r = out.get(key)
        if r:
            print(
                f"{label:<26} {r['events']:>8} {r['lost']:>5} {r['duplicated']:>5} "
                f"{r['leader_s']:>9.2f} {r['flow_s']:>7.2f} {r['catchup_s']:>10.2f}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
