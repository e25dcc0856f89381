"""The monitor's host and bus figures on real parts: CPU per core and per program and RSS (psutil on real
pids), NATS rates and JetStream stream state from a real nats-server's /varz and /jsz, rejects by reason
name, orders/s, and /health/<exchange> aggregating its markets. The text passes `promtool check metrics`
(Debian's prometheus package, installed by `make tools`)."""

from __future__ import annotations

import os
import shutil
import subprocess

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from oms.engine import constants as ec
from oms.monitor.frames import StatsFrame, VenueReport
from oms.monitor.server import MonitorServer
from oms.monitor.settings import Settings, validate
from oms.monitor.system import SystemSampler
from oms.services.nats import NatsServer
from oms.shm import records as r
from oms.testing import eventually_async
from tests.unit.monitor.monitor_helpers import events


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


async def test_cpu_rss_nats_jetstream_rejects_and_exchange_health(monitor_nats: NatsServer) -> None:
    import nats

    nc = await nats.connect(monitor_nats.admin_url)
    js = nc.jetstream()
    await js.add_stream(name="LATTEST", subjects=["lattest.>"])
    for i in range(25):
        await js.publish(f"lattest.{i}", b"x" * 100)
    assert monitor_nats.pid
    pids = {"monitor": os.getpid(), "nats": int(monitor_nats.pid)}
    system = SystemSampler(lambda: pids, monitor_nats.monitor_url)
    settings = Settings(port=0, exchanges=["binance_spot", "binance_usdm"], ring_poll_s=0.1)
    srv = MonitorServer(settings, system=system)
    await srv.start()
    base = f"http://127.0.0.1:{srv.port}"
    try:
        rej = events([r.ORDER_SUBMITTED, r.ORDER_REJECTED, r.ORDER_REJECTED, r.ORDER_REJECTED])
        rej["reason"] = [0, ec.R_PRICE_DEVIATION, ec.R_PRICE_DEVIATION, ec.R_TRADING_HALTED]
        srv.state.count_events(rej)
        srv.state.count_events(events([r.ORDER_SUBMITTED] * 4, market="usdm"))
        srv.state.apply(
            StatsFrame(program="conn-binance", ts_ns=1, venues=[VenueReport(exchange="binance_spot")])
        )
        srv.state.apply(
            StatsFrame(
                program="conn-binance-usdm",
                ts_ns=1,
                venues=[VenueReport(exchange="binance_usdm", state="degraded", reason="slow acks")],
            )
        )
        async with aiohttp.ClientSession() as s:

            async def sampled_twice() -> str | None:
                async with s.get(base + "/metrics") as resp:
                    text = await resp.text()
                ok = (
                    'oms_nats_messages_per_second{direction="in"}' in text
                    and "oms_program_cpu_seconds_total" in text
                )
                return text if ok and system.nats.rates else None

            text = await eventually_async(sampled_twice, timeout=15)
            v = _samples(text)
            cores = [k for k in v if k[0] == "oms_cpu_core_utilization_ratio"]
            assert len(cores) == os.cpu_count()
            assert all(0.0 <= v[k] <= 1.0 for k in cores)
            for prog in ("monitor", "nats"):
                assert v[("oms_program_resident_memory_bytes", (("program", prog),))] > 1_000_000
                assert (
                    v[("oms_program_cpu_seconds_total", (("program", prog),))] >= 0
                )  # ticks: idle nats may be 0
            assert v[("oms_program_cpu_seconds_total", (("program", "monitor"),))] > 0.1  # this test process
            assert v[("oms_nats_up", ())] == 1
            assert v[("oms_jetstream_stream_messages", (("stream", "LATTEST"),))] == 25
            assert v[("oms_jetstream_stream_bytes", (("stream", "LATTEST"),))] > 2500
            assert v[("oms_jetstream_stream_last_sequence", (("stream", "LATTEST"),))] == 25
            assert v[("oms_nats_messages_total", (("direction", "in"),))] >= 25
            assert v[("oms_nats_bytes_total", (("direction", "in"),))] >= 2500
            key = (("exchange", "binance_spot"), ("reason", "risk.price_deviation"))
            assert v[("oms_order_rejects_by_reason_total", key)] == 2
            key = (("exchange", "binance_spot"), ("reason", "risk.trading_halted"))
            assert v[("oms_order_rejects_by_reason_total", key)] == 1
            assert ("oms_orders_per_second", (("exchange", "binance_usdm"),)) in v
            promtool = shutil.which("promtool")
            if promtool is None:
                pytest.skip("install promtool: make tools (Debian package prometheus)")
            lint = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, text=True)
            assert lint.returncode == 0, lint.stdout + lint.stderr
            async with s.get(base + "/health/binance") as resp:
                body = await resp.json()
                assert resp.status == 200 and body["state"] == "degraded"
                assert set(body["markets"]) == {"binance_spot", "binance_usdm"}
                assert "slow acks" in body["reason"]
            async with s.get(base + "/health/binance_spot") as resp:
                assert resp.status == 200 and (await resp.json())["state"] == "up"
            async with s.get(base + "/health/kraken") as resp:
                body = await resp.json()
                assert resp.status == 404 and "binance" in body["known"]
            async with s.get(base + "/api/summary") as resp:
                summ = await resp.json()
                assert len(summ["system"]["cpu_per_core"]) == os.cpu_count()
                assert "nats" in summ["system"]["programs"]
    finally:
        await nc.close()
        await srv.stop()


def test_nats_monitor_url_must_be_loopback() -> None:
    for bad in ("http://10.0.0.5:8222", "https://127.0.0.1:8222", "http://127.0.0.1", "ftp://x"):
        probs = validate(Settings(nats_monitor_url=bad))
        assert probs and probs[0][0] == "nats_monitor_url" and "127.0.0.1" in probs[0][2], bad
    assert not validate(Settings(nats_monitor_url="http://127.0.0.1:8222"))


def test_unreachable_nats_monitor_is_reported_not_faked() -> None:
    s = SystemSampler(lambda: {"gone": 2**22 + 12345}, "http://127.0.0.1:1")
    s.poll()
    assert not s.nats.up and "127.0.0.1:1" in s.nats.error
    assert s.programs == {}  # a pid that does not exist is left out, not reported as 0
