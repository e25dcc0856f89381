"""MonitorState: event counting, venue health (worst, stale), /health codes, frames round trip."""

from __future__ import annotations

import pytest

from oms.monitor.frames import FrameError, LatencyBatch, StatsFrame, VenueReport, decode, encode
from oms.monitor.rings import RingStatus, RingWatcher
from oms.monitor.settings import Settings, validate
from oms.monitor.state import MonitorState
from oms.shm import records as r
from tests.unit.monitor.monitor_helpers import events


def _frame(program: str = "conn-binance", **kw: object) -> StatsFrame:
    return decode(encode(StatsFrame(program=program, ts_ns=1, **kw)))  # type: ignore[arg-type]


def test_events_are_counted_per_exchange_and_kind() -> None:
    st = MonitorState(Settings())
    ev = events([r.ORDER_SUBMITTED] * 3 + [r.ORDER_FILLED, r.ORDER_REJECTED])
    ev2 = events([r.ORDER_SUBMITTED], venue="okx", market="linear")
    st.apply(_frame(events=ev.tobytes() + ev2.tobytes()), now=0.0)
    assert st.count("binance_spot", "order_submitted") == 3
    assert st.count("okx_linear", "order_submitted") == 1
    assert st.count(None, "order_filled") == 1 and st.count(None, "order_rejected") == 1
    assert st.exchanges() == ["binance_spot", "okx_linear"]


def test_health_worst_state_stale_and_codes() -> None:
    st = MonitorState(Settings(stale_after_s=5.0, exchanges=["binance_spot", "bybit_linear"]))
    st.apply(_frame(venues=[VenueReport(exchange="binance_spot")]), now=0.0)
    st.apply(
        _frame("engine", venues=[VenueReport(exchange="binance_spot", state="degraded", reason="slow")]), 0.0
    )
    code, body = st.health(now=1.0)
    assert code == 200 and body["status"] == "degraded"  # bybit never reported → down, binance degraded
    assert body["exchanges"]["bybit_linear"]["state"] == "down"  # type: ignore[index]
    assert st.exchange_health("binance_spot", now=1.0)[1]["reason"] == "engine: slow"
    assert st.exchange_health("bybit_linear", now=1.0)[0] == 503
    code, body = st.exchange_health("kraken_spot", now=1.0)
    assert code == 404 and "binance_spot" in body["known"]  # type: ignore[operator]
    code, body = st.health(now=10.0)  # everything stale
    assert code == 503 and body["status"] == "down"
    assert "no report for" in str(st.venue_state("binance_spot", now=10.0)["reason"])


def test_ring_problems_degrade_health() -> None:
    st = MonitorState(Settings())
    st.apply(_frame(venues=[VenueReport(exchange="binance_spot")]), now=0.0)
    assert st.health(now=0.1)[1]["status"] == "ok"
    st.set_rings([RingStatus("oms.gw.cmd", True, 900, 1024, True)])
    code, body = st.health(now=0.1)
    assert code == 200 and body["status"] == "degraded" and "oms.gw.cmd" in body["problems"][0]  # type: ignore[index]


def test_latency_quantiles_from_hdr() -> None:
    st = MonitorState(Settings(hdr_window_s=10.0))
    vals = list(range(1_000, 1_001_000, 1_000))  # 1 µs .. 1 ms uniformly
    st.apply(_frame(latencies=[LatencyBatch("venue_rtt", "binance_spot", vals)]), now=0.0)
    q = st.latency[("venue_rtt", "binance_spot")].quantiles_ns(now=1.0)
    assert q is not None and q["count"] == 1000
    assert abs(q["p50"] - 500_000) < 2_000 and abs(q["p99"] - 990_000) < 2_000
    assert abs(q["p99.9"] - 999_000) < 2_000
    assert st.latency[("venue_rtt", "binance_spot")].quantiles_ns(now=25.0) is None  # windows aged out


def test_reject_rate_spike_raises_an_anomaly() -> None:
    st = MonitorState(Settings(anomaly_warmup=5, anomaly_min_orders=10))
    t = 0.0
    for _ in range(10):
        st.apply(_frame(events=events([r.ORDER_SUBMITTED] * 20 + [r.ORDER_REJECTED]).tobytes()), now=t)
        assert st.anomaly_tick(now=t) == []
        t += 1
    st.apply(_frame(events=events([r.ORDER_SUBMITTED] * 20 + [r.ORDER_REJECTED] * 12).tobytes()), now=t)
    found = st.anomaly_tick(now=t)
    assert [(a.exchange, a.metric) for a, _ in found] == [("binance_spot", "reject_rate")]
    assert st.alerts[("binance_spot", "reject_rate")] == 1


def test_bad_frames_name_the_field() -> None:
    with pytest.raises(FrameError, match="not a multiple of the EVENT record size"):
        decode(encode(StatsFrame(program="x", ts_ns=1, events=b"\0" * 100)))
    with pytest.raises(FrameError, match=r"venues\[binance_spot\]\.state='sideways'"):
        decode(
            encode(
                StatsFrame(
                    program="x", ts_ns=1, venues=[VenueReport(exchange="binance_spot", state="sideways")]
                )
            )
        )
    with pytest.raises(FrameError, match="bad monitor frame"):
        decode(b"\x93garbage")


def test_settings_validation_names_keys() -> None:
    bad = Settings(port=70000, slack_webhook_url="ftp://x", anomaly_alpha=0.0, stats_subject="a b")
    keys = {k for k, _, _ in validate(bad)}
    assert keys == {"port", "slack_webhook_url", "anomaly_alpha", "stats_subject"}
    assert validate(Settings()) == []


def test_ring_watcher_reports_missing_rings_as_absent() -> None:
    from oms.monitor.rings import stack_rings

    w = RingWatcher(stack_rings("oms-test-absent-monitor", ["binance"]))
    out = w.poll()
    assert len(out) == 8 and not any(s.present for s in out)
    assert all(s.note for s in out)


def test_ring_watcher_reads_depth_of_a_real_ring() -> None:
    import os

    from oms.monitor.rings import RingWatcher
    from oms.shm.ring import Ring

    name = f"omsmontest{os.getpid()}.gw.cmd"
    ring = Ring.create(name, r.COMMAND, 64, producer=True)
    try:
        rec = r.new(r.COMMAND, 3)
        assert ring.publish_batch(rec) == 3
        w = RingWatcher([(name, r.COMMAND)])
        (st,) = w.poll()
        assert (st.present, st.depth, st.capacity, st.producer_alive) == (True, 3, 64, True)
        w.close()
    finally:
        ring.close()
        ring.unlink()


def test_trading_state_events_set_the_risk_state() -> None:
    from oms.engine.constants import TS_ACTIVE, TS_HALTED

    st = MonitorState(Settings())
    ev = events([r.TRADING_STATE_CHANGED, r.TRADING_STATE_CHANGED])
    ev["account"] = [1, 2]
    ev["status"] = [TS_ACTIVE, TS_ACTIVE]
    st.apply(_frame(events=ev.tobytes()), now=0.0)
    assert st.risk_state == "active"
    ev2 = events([r.TRADING_STATE_CHANGED])
    ev2["account"], ev2["status"] = 2, TS_HALTED
    st.count_events(ev2)
    assert st.risk_state == "acct 1: active, acct 2: halted"


def test_connector_stats_snapshot_becomes_venue_reports(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import json
    import os
    import time

    from oms.monitor.connstats import read_all

    snap = {
        "venue": "binance",
        "pid": os.getpid(),
        "ts": time.time(),
        "health": {"state": "DEGRADED", "reason": "user data stream down", "reconnects": 2},
        "rate_budget": {
            "spot": {"limits": [{"kind": "weight", "limit": 6000, "used": 24}]},
            "usdm": {"limits": [{"kind": "weight", "limit": 2400, "used": 30}]},
        },
        "user_streams": {"spot": {"reconnects": 1}},
        "market_data": {"usdm": {"reconnects": 3}},
        "reconcile": {"drift_orders": 1, "drift_lots": 5},
    }
    (tmp_path / "conn-binance.stats.json").write_text(json.dumps(snap))
    (tmp_path / "conn-okx.stats.json").write_text("{ half written")
    frames, problems = read_all(str(tmp_path / "conn-*.stats.json"), stale_after_s=15.0)
    assert len(frames) == 1 and "conn-okx" in problems[0]
    st = MonitorState(Settings())
    st.apply(frames[0])
    code, body = st.exchange_health("binance_spot")
    assert code == 200 and body["state"] == "degraded" and "user data stream down" in str(body["reason"])
    assert body["reconnects"] == 3 and body["rate_limit_max"] == 6000 and body["recon_drift_lots"] == 5
    assert st.exchange_health("binance_usdm")[1]["reconnects"] == 5
    snap["ts"] = time.time() - 60  # a dead connector's file goes stale: down, not healthy
    (tmp_path / "conn-binance.stats.json").write_text(json.dumps(snap))
    frames, _ = read_all(str(tmp_path / "conn-*.stats.json"), stale_after_s=15.0)
    st.apply(frames[0])
    code, body = st.exchange_health("binance_spot")
    assert code == 503 and "not updated" in str(body["reason"])
