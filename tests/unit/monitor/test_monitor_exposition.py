"""Prometheus exposition: every metric family present, and the text passes `promtool check metrics`.

promtool comes from Debian's `prometheus` package
(`apt-get install -y --no-install-recommends prometheus`). Without it the text is still parsed with
prometheus_client's parser (which catches malformed output but does not lint names/help/units) and
the promtool test is skipped with the apt line that enables it.
"""

from __future__ import annotations

import shutil
import subprocess

import pytest
from prometheus_client.parser import text_string_to_metric_families

from oms.monitor.exposition import registry_for, render
from oms.monitor.frames import LatencyBatch, PositionReport, RingReport, StatsFrame, VenueReport
from oms.monitor.rings import RingStatus
from oms.monitor.settings import Settings
from oms.monitor.state import MonitorState
from oms.shm import records as r
from tests.unit.monitor.monitor_helpers import events

PROMTOOL = shutil.which("promtool")
ENABLE = "install promtool: apt-get install -y --no-install-recommends prometheus"


def _full_state() -> MonitorState:
    st = MonitorState(Settings(exchanges=["binance_spot", "bybit_linear"]))
    frame = StatsFrame(
        program="conn-binance",
        ts_ns=1,
        events=events([r.ORDER_SUBMITTED, r.ORDER_ACCEPTED, r.ORDER_FILLED, r.ORDER_REJECTED]).tobytes(),
        latencies=[
            LatencyBatch("venue_rtt", "binance_spot", [150_000, 250_000, 3_000_000]),
            LatencyBatch("risk", "binance_spot", [800, 900]),
            LatencyBatch("ring", "binance_spot", [300, 400]),
        ],
        venues=[
            VenueReport(exchange="binance_spot", reconnects=2, rate_limit_used=120, rate_limit_max=1200),
        ],
        rings=[RingReport("oms.eng.cmd.binance", 3)],
        positions=[PositionReport(exchange="binance_spot", symbol="BTCUSDT", qty=0.5, realized_pnl=1.5)],
        risk_state="active",
    )
    st.apply(frame)
    st.set_rings(
        [RingStatus("oms.gw.cmd", True, 5, 1024, True), RingStatus("oms.md.engine", False, note="absent")]
    )
    st.alerts[("binance_spot", "reject_rate")] = 1
    return st


def _families(text: str) -> dict[str, object]:
    return {f.name: f for f in text_string_to_metric_families(text)}


def test_exposition_has_every_family_and_values() -> None:
    text = render(registry_for(_full_state())).decode()
    fams = _families(text)
    for name in (
        "oms_orders",
        "oms_fills",
        "oms_order_rejects",
        "oms_order_events",
        "oms_latency_seconds",
        "oms_latency_p50_seconds",
        "oms_latency_p99_seconds",
        "oms_latency_p999_seconds",
        "oms_ring_depth_records",
        "oms_ring_drops",
        "oms_rate_limit_remaining_ratio",
        "oms_venue_reconnects",
        "oms_reconciliation_drift_orders",
        "oms_venue_state",
        "oms_alerts",
        "oms_position_quantity",
        "oms_risk_state",
    ):
        assert name in fams, name
    assert 'oms_orders_total{exchange="binance_spot"} 1.0' in text
    assert 'oms_orders_total{exchange="bybit_linear"} 0.0' in text
    assert 'oms_venue_reconnects_total{exchange="binance_spot"} 2.0' in text
    assert 'oms_rate_limit_remaining_ratio{exchange="binance_spot"} 0.9' in text
    assert 'oms_ring_depth_records{ring="oms.gw.cmd"} 5.0' in text
    assert 'oms_latency_seconds_count{exchange="binance_spot",stage="venue_rtt"} 3.0' in text
    assert 'oms_venue_state{exchange="bybit_linear",state="down"} 1.0' in text


@pytest.mark.skipif(PROMTOOL is None, reason=f"promtool not installed; {ENABLE}")
def test_promtool_check_metrics_passes() -> None:
    text = render(registry_for(_full_state()))
    res = subprocess.run([PROMTOOL, "check", "metrics"], input=text, capture_output=True, timeout=30)
    assert res.returncode == 0, res.stderr.decode() + res.stdout.decode()


@pytest.mark.skipif(PROMTOOL is None, reason=f"promtool not installed; {ENABLE}")
def test_promtool_would_catch_a_bad_name() -> None:
    """The promtool check can fail: a camelCase, unit-abbreviated metric is refused."""
    bad = b"# HELP omsLatency_ms x\n# TYPE omsLatency_ms gauge\nomsLatency_ms 1\n"
    res = subprocess.run([PROMTOOL, "check", "metrics"], input=bad, capture_output=True, timeout=30)
    assert res.returncode != 0


def test_empty_state_still_renders_valid_text() -> None:
    text = render(registry_for(MonitorState(Settings()))).decode()
    assert "oms_orders_total" not in text.split("# TYPE oms_orders_total counter")[-1].split("#")[0]
    _families(text)
    if PROMTOOL:
        res = subprocess.run([PROMTOOL, "check", "metrics"], input=text.encode(), capture_output=True)
        assert res.returncode == 0, res.stderr.decode()


@pytest.mark.parametrize("name", ["oms.json", "oms-exchange.json"])
def test_grafana_dashboard_uses_only_exported_metrics(name: str) -> None:
    import json
    import os
    import re
    import subprocess
    import sys
    from pathlib import Path

    from oms.monitor.system import SystemSampler

    root = Path(__file__).resolve().parents[3]
    dash = json.loads((root / "configs/grafana" / name).read_text())
    st = _full_state()
    st.system = SystemSampler(lambda: {"test": os.getpid()}, "http://127.0.0.1:1")  # nats families too
    text = render(registry_for(st)).decode()
    exported = {ln.split()[2] for ln in text.splitlines() if ln.startswith("# TYPE")}
    series = set(exported)
    for m in exported:  # counters expose <name>_total, histograms <name>_bucket/_sum/_count
        series |= {m + "_total", m + "_bucket", m + "_sum", m + "_count"}
    used = set()
    for panel in dash["panels"]:
        for t in panel["targets"]:
            used |= set(re.findall(r"\boms_[a-z0-9_]+", t["expr"]))
    assert used and used <= series, used - series
    assert {p["id"] for p in dash["panels"]} == set(range(1, len(dash["panels"]) + 1))
    gen = subprocess.run(  # the checked-in file is what the generator writes
        [
            sys.executable,
            "-c",
            f"import json,runpy; m=runpy.run_path('scripts/grafana_dashboards.py'); "
            f"print(json.dumps(m[{'stack' if name == 'oms.json' else 'exchange'!r}](), indent=2))",
        ],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(gen.stdout) == dash, "run .venv/bin/python scripts/grafana_dashboards.py"
