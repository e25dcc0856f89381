"""Both Grafana dashboards against a REAL Prometheus (Debian's `prometheus`, installed by `make tools`)
scraping a running monitor every 0.5 s: every panel's query returns data.

The monitor is fed the way the stack feeds it: StatsFrames POSTed to /ingest with the latency stages the
producers really use (`venue_ack` from oms/conn/service.py, `probe_rtt` from oms/monitor/probe.py — a
test checks those names are still in that code), EVENT records with reject reasons, venue reports,
positions and a producer alert; a real shm ring; CPU/RSS of real pids and a real nats-server's /varz and
/jsz with a JetStream stream.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import time
import uuid
from pathlib import Path

import aiohttp
import pytest

from oms.engine import constants as ec
from oms.monitor.feed import StatsFeed, http_publisher
from oms.monitor.frames import AlertReport, PositionReport, StatsFrame, VenueReport, encode
from oms.monitor.rings import RingWatcher, stack_rings
from oms.monitor.server import MonitorServer
from oms.monitor.settings import Settings
from oms.monitor.system import SystemSampler
from oms.services.nats import NatsServer
from oms.services.ports import free_port
from oms.shm import names, segment
from oms.shm import records as r
from oms.shm.ring import open_ring
from oms.testing import eventually_async
from tests.unit.monitor.monitor_helpers import events

ROOT = Path(__file__).resolve().parents[3]
PROMETHEUS = shutil.which("prometheus")
DASHBOARDS = ("oms.json", "oms-exchange.json")


def test_dashboard_latency_stages_are_the_producers_stage_names() -> None:
    assert 'record_latency("venue_ack"' in (ROOT / "oms/conn/service.py").read_text()
    assert 'LatencyBatch("probe_rtt"' in (ROOT / "oms/monitor/probe.py").read_text()
    for name in DASHBOARDS:
        exprs = [
            t["expr"]
            for p in json.loads((ROOT / "configs/grafana" / name).read_text())["panels"]
            for t in p["targets"]
        ]
        stages = {s for e in exprs for s in re.findall(r'stage="([a-z_]+)"', e)}
        assert stages <= {"venue_ack", "probe_rtt"}, stages


async def _feed(base: str, session: aiohttp.ClientSession, stop: asyncio.Event) -> None:
    feed = StatsFeed("conn-binance", http_publisher(base, session))
    n = 0
    while not stop.is_set():
        ev = events([r.ORDER_SUBMITTED, r.ORDER_FILLED, r.ORDER_REJECTED])
        ev["reason"] = [0, 0, ec.R_PRICE_DEVIATION]
        feed.record_events(ev)
        feed.record_events(events([r.ORDER_SUBMITTED, r.ORDER_FILLED], market="usdm"))
        feed.record_latency("venue_ack", "binance", 400_000 + n * 1000)
        feed.record_latency("probe_rtt", "binance_spot", 150_000 + n * 1000)
        feed.record_latency("probe_rtt", "binance_usdm", 170_000)
        for m in ("spot", "usdm"):
            feed.set_venue(
                VenueReport(
                    exchange=f"binance_{m}", reconnects=n // 4, rate_limit_used=60 + n, rate_limit_max=1200
                )
            )
        feed.set_positions(
            [
                PositionReport(
                    exchange="binance_spot", symbol="BTCUSDT", qty=0.5, realized_pnl=1.5, unrealized_pnl=-0.2
                )
            ],
            "active",
        )
        await feed.flush()
        if n == 1:  # a producer's alert, as the keys program sends one
            frame = StatsFrame(
                program="keys",
                ts_ns=time.time_ns(),
                alerts=[
                    AlertReport(kind="rotation_soon", subject="binance_spot v1", message="rotate (test)")
                ],
            )
            async with session.post(base + "/ingest", data=encode(frame)) as resp:
                assert resp.status == 204
        n += 1
        await asyncio.sleep(0.2)


async def _query(session: aiohttp.ClientSession, prom: str, expr: str) -> list[dict[str, object]]:
    async with session.get(f"{prom}/api/v1/query", params={"query": expr}) as resp:
        body = await resp.json()
    assert body["status"] == "success", (expr, body)
    return body["data"]["result"]


@pytest.mark.skipif(PROMETHEUS is None, reason="install prometheus: make tools (Debian package prometheus)")
async def test_every_panel_query_returns_data_from_a_real_prometheus(
    monitor_nats: NatsServer, tmp_path: Path
) -> None:
    import nats

    nc = await nats.connect(monitor_nats.admin_url)
    js = nc.jetstream()
    await js.add_stream(name="GRAFTEST", subjects=["graftest.>"])
    for i in range(10):
        await js.publish(f"graftest.{i}", b"y" * 50)
    prefix = "gf" + uuid.uuid4().hex[:8]
    ring = open_ring(names.gateway_commands(prefix), r.COMMAND, 1024, producer=True)
    ring.register_producer()
    assert monitor_nats.pid
    system = SystemSampler(
        lambda: {"monitor": os.getpid(), "nats": int(monitor_nats.pid)}, monitor_nats.monitor_url
    )
    settings = Settings(port=0, exchanges=["binance_spot", "binance_usdm"], ring_poll_s=0.2, stale_after_s=60)
    srv = MonitorServer(settings, RingWatcher(stack_rings(prefix, ["binance"])), system=system)
    await srv.start()
    base = f"http://127.0.0.1:{srv.port}"
    port = free_port()
    (tmp_path / "prom.yml").write_text(
        "global:\n  scrape_interval: 500ms\n  evaluation_interval: 500ms\n"
        "scrape_configs:\n  - job_name: oms\n    static_configs:\n"
        f"      - targets: ['127.0.0.1:{srv.port}']\n"
    )
    prom_log = open(tmp_path / "prometheus.log", "wb")  # noqa: SIM115 - handed to the child
    proc = subprocess.Popen(
        [
            str(PROMETHEUS),
            f"--config.file={tmp_path / 'prom.yml'}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=prom_log,
        stderr=subprocess.STDOUT,
    )
    prom = f"http://127.0.0.1:{port}"
    stop = asyncio.Event()
    try:
        async with aiohttp.ClientSession() as s:
            feeder = asyncio.create_task(_feed(base, s, stop))

            async def scraped() -> bool:
                try:
                    res = await _query(s, prom, "count(count_over_time(oms_orders_total[1m]) >= 6)")
                except aiohttp.ClientError:
                    return False
                return bool(res)

            await eventually_async(scraped, timeout=60, interval=0.5)
            missing = []
            for name in DASHBOARDS:
                dash = json.loads((ROOT / "configs/grafana" / name).read_text())
                for p in dash["panels"]:
                    for t in p["targets"]:
                        expr = t["expr"].replace("$exchange", ".*").replace("$venue", "binance")
                        res = await _query(s, prom, expr)
                        vals = [float(x["value"][1]) for x in res]  # type: ignore[index]
                        if not vals or all(v != v for v in vals):  # no series, or only NaN
                            missing.append(f"{name} {p['title']!r}: {expr}")
            stop.set()
            await feeder
            assert not missing, "panels without data:\n" + "\n".join(missing)
            res = await _query(s, prom, 'oms_venue_up{exchange=~"binance(_.*)?"}')
            assert {x["metric"]["exchange"] for x in res} == {"binance_spot", "binance_usdm"}  # type: ignore[index]
            async with s.get(base + "/health/binance") as resp:  # the venue_ack label is no phantom market
                body = await resp.json()
                assert resp.status == 200 and set(body["markets"]) == {"binance_spot", "binance_usdm"}, body
    finally:
        stop.set()
        proc.terminate()
        proc.wait(10)
        prom_log.close()
        await nc.close()
        await srv.stop()
        ring.close()
        segment.unlink(names.gateway_commands(prefix))
