"""The monitor over real sockets: frames in by HTTP and NATS, /metrics, /health, alerts to webhooks."""

from __future__ import annotations

import aiohttp
import numpy as np

from oms.monitor.feed import StatsFeed, http_publisher, nats_publisher
from oms.monitor.frames import VenueReport
from oms.monitor.server import MonitorServer
from oms.monitor.settings import Settings
from oms.monitor.state import MonitorState
from oms.services.nats import NatsServer
from oms.shm import records as r
from oms.testing import eventually_async
from tests.integration.monitor.conftest import WebhookReceiver
from tests.unit.monitor.monitor_helpers import events


async def _get(s: aiohttp.ClientSession, url: str) -> tuple[int, str]:
    async with s.get(url) as resp:
        return resp.status, await resp.text()


async def test_frames_over_http_and_nats_reach_metrics_and_health(monitor_nats: NatsServer) -> None:
    settings = Settings(port=0, exchanges=["binance_spot"], stale_after_s=30.0)
    srv = MonitorServer(settings, nats_url=monitor_nats.admin_url)
    await srv.start()
    base = f"http://127.0.0.1:{srv.port}"
    import nats

    nc = await nats.connect(monitor_nats.admin_url)
    try:
        async with aiohttp.ClientSession() as s:
            code, body = await _get(s, base + "/health")
            assert code == 503 and "no venue report" in body  # nothing reported yet: down, not faked
            conn = StatsFeed("conn-binance", http_publisher(base, s))
            conn.record_events(events([r.ORDER_SUBMITTED, r.ORDER_ACCEPTED, r.ORDER_FILLED]))
            conn.record_latency("venue_rtt", "binance_spot", 420_000)
            conn.set_venue(VenueReport(exchange="binance_spot", rate_limit_used=30, rate_limit_max=1200))
            await conn.flush()
            eng = StatsFeed("engine", nats_publisher(nc, settings.stats_subject, "engine"))
            eng.record_latency("risk", "binance_spot", 900)
            await eng.flush()

            async def metrics_have_both() -> str | None:
                _, text = await _get(s, base + "/metrics")
                return text if 'oms_monitor_frames_total{program="engine"} 1.0' in text else None

            text = await eventually_async(metrics_have_both, timeout=10)
            assert 'oms_fills_total{exchange="binance_spot"} 1.0' in text
            assert 'oms_latency_p99_seconds{exchange="binance_spot",stage="venue_rtt"}' in text
            assert 'oms_latency_seconds_count{exchange="binance_spot",stage="risk"} 1.0' in text
            code, body = await _get(s, base + "/health")
            assert code == 200 and '"status": "ok"' in body
            code, body = await _get(s, base + "/health/binance_spot")
            assert code == 200 and '"rate_limit_max": 1200.0' in body
            code, body = await _get(s, base + "/health/kraken_spot")
            assert code == 404 and "binance_spot" in body
            async with s.post(base + "/ingest", data=b"\x81\xa1x\x01") as resp:
                assert resp.status == 400 and "bad monitor frame" in await resp.text()
            conn.set_venue(VenueReport(exchange="binance_spot", state="down", reason="ws closed"))
            await conn.flush()
            code, body = await _get(s, base + "/health/binance_spot")
            assert code == 503 and "ws closed" in body
    finally:
        await nc.close()
        await srv.stop()


async def test_latency_spike_alerts_slack_and_discord(webhooks: WebhookReceiver) -> None:
    settings = Settings(
        port=0,
        anomaly_window_s=0.05,
        anomaly_warmup=5,
        anomaly_cooldown_s=60.0,
        slack_webhook_url=webhooks.base_url + "/slack",
        discord_webhook_url=webhooks.base_url + "/discord",
    )
    srv = MonitorServer(settings)
    await srv.start()
    rng = np.random.default_rng(1)
    try:
        async with aiohttp.ClientSession() as s:
            feed = StatsFeed("conn-binance", http_publisher(f"http://127.0.0.1:{srv.port}", s))
            key = ("binance_spot", "venue_rtt_latency_p99")
            for i in range(8):  # 8 baseline windows around 200 µs
                for v in rng.normal(200_000, 10_000, 50):
                    feed.record_latency("venue_rtt", "binance_spot", int(v))
                await feed.flush()
                await eventually_async(
                    lambda i=i: key in srv.state.detectors and srv.state.detectors[key].n > i
                )
            assert webhooks.received == {"slack": [], "discord": []}
            for _ in range(50):
                feed.record_latency("venue_rtt", "binance_spot", 50_000_000)  # 50 ms: a venue stall
            await feed.flush()
            await eventually_async(
                lambda: webhooks.received["slack"] and webhooks.received["discord"], timeout=5
            )
    finally:
        await srv.stop()
    slack, discord = webhooks.received["slack"][0], webhooks.received["discord"][0]
    assert "binance_spot" in str(slack["text"]) and "venue_rtt_latency_p99" in str(slack["text"])
    assert discord["content"] == slack["text"]
    assert srv.alerts.sinks[0].sent == 1 and srv.alerts.sinks[1].sent == 1
    assert srv.state.alerts[("binance_spot", "venue_rtt_latency_p99")] == 1


async def test_bridge_event_frames_on_nats_are_counted_once(monitor_nats: NatsServer) -> None:
    import nats

    from oms.bus.frames import encode as encode_frame
    from oms.bus.frames import msg_id, split_events

    srv = MonitorServer(Settings(port=0), nats_url=monitor_nats.admin_url)
    await srv.start()
    nc = await nats.connect(monitor_nats.admin_url)
    try:
        ev = events([r.ORDER_SUBMITTED, r.ORDER_ACCEPTED, r.ORDER_FILLED, r.ORDER_FILLED])
        ev["seq"] = range(1, 5)
        groups = split_events(ev)
        assert {s.split(".")[0] for s, _ in groups} == {"orders", "fills"}
        for _ in range(2):  # the bridge re-sends after a lost ack: same Nats-Msg-Id
            for subject, recs in groups:
                data = encode_frame(recs)
                await nc.publish(subject, data, headers={"Nats-Msg-Id": msg_id(subject, data=data)})
        await nc.flush()
        await eventually_async(lambda: srv.state.count("binance_spot", "order_filled") == 2, timeout=5)
        await nc.publish("orders.binance.spot.BTCUSDT", b"not a frame")
        await nc.flush()
        await eventually_async(lambda: srv.state.frame_errors == 1, timeout=5)
        assert srv.state.count("binance_spot", "order_submitted") == 1
        assert srv.state.count("binance_spot", "order_filled") == 2
    finally:
        await nc.close()
        await srv.stop()


async def test_venue_probe_against_the_binance_simulator() -> None:
    from oms.monitor.probe import probe_once, targets
    from oms.venues.sim.binance import BinanceSim

    sim = BinanceSim(seed=0)
    await sim.start(host="127.0.0.1", port=0)
    ts, skipped = targets({"binance_spot": sim.url, "okx_swap": "https://www.okx.com"})
    assert [t.exchange for t in ts] == ["binance_spot"] and "not loopback" in skipped[0]  # never off-machine
    st_ok = None
    try:
        async with aiohttp.ClientSession() as s:
            st_ok = await probe_once(s, ts[0], timeout_s=2.0, slow_s=1.0)
            await sim.stop()
            st_down = await probe_once(s, ts[0], timeout_s=2.0, slow_s=1.0)
    finally:
        if st_ok is None:
            await sim.stop()
    assert st_ok.venues[0].state == "up" and st_ok.latencies[0].stage == "probe_rtt"
    assert st_down.venues[0].state == "down" and "probe failed" in st_down.venues[0].reason
    state = MonitorState(Settings())
    state.apply(st_ok)
    assert state.exchange_health("binance_spot")[0] == 200
    state.apply(st_down)
    assert state.exchange_health("binance_spot")[0] == 503
