"""`oms bench` over real benchmark scripts, and the supervisord rendering of `oms up` (no daemon)."""

from __future__ import annotations

import configparser
import json
import re
import subprocess
import sys
from pathlib import Path

from oms.cli.bench import discover, headline
from oms.cli.stack import Program, StackPaths, default_core_map, render

GOOD = """import json, sys
assert "--json" in sys.argv
print("warm-up line")
print(json.dumps({"ring": {"p50_ns": 120, "p99_ns": 900}, "peer": {"p50_ns": 9000}, "ratio_p50": 75.0}))
"""
OMS = [sys.executable, "-c", "import sys; from oms.cli import main; sys.exit(main())"]
BAD = "import sys\nsys.stderr.write('boom: no shm')\nsys.exit(3)\n"


def test_oms_bench_runs_each_and_summarises(tmp_path: Path) -> None:
    (tmp_path / "good.py").write_text(GOOD)
    (tmp_path / "bad.py").write_text(BAD)
    (tmp_path / "_helper.py").write_text("raise SystemExit(9)\n")
    assert list(discover(tmp_path)) == ["bad", "good"]
    r = subprocess.run(
        [*OMS, "bench", "--dir", str(tmp_path), "--json"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 1  # one failed
    out = json.loads(r.stdout)
    assert out["good"]["ok"] and out["good"]["result"]["ratio_p50"] == 75.0
    assert not out["bad"]["ok"] and "boom: no shm" in out["bad"]["error"]
    one = subprocess.run(
        [*OMS, "bench", "good", "--dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert one.returncode == 0 and "ratio_p50=75" in one.stdout and "bad" not in one.stdout
    missing = subprocess.run(
        [*OMS, "bench", "nope", "--dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert missing.returncode == 2 and "available: bad, good" in missing.stderr
    assert headline({"x": {"p99_ns": 5}, "name": "y"}) == "x.p99_ns=5"


def test_render_gives_a_valid_supervisord_conf(tmp_path: Path) -> None:
    paths = StackPaths(tmp_path)
    progs = [
        Program("nats", ["/bin/nats-server", "-p", "4222"], 10, "service", env={"A": "1%"}),
        Program(
            "engine",
            ["taskset", "-c", "0", sys.executable, "-m", "oms.procs.engine"],
            40,
            "app",
            core=0,
            wanted=2,
            note="core 2 missing, using 0",
        ),
    ]
    plan = {"programs": progs, "cores": [0, 1]}
    text = render(paths, plan)
    cp = configparser.RawConfigParser()
    cp.read_string(text)
    assert cp.get("program:engine", "autostart") == "false" and cp.get("program:nats", "autostart") == "true"
    assert cp.get("program:engine", "autorestart") == "true"
    assert cp.get("program:engine", "stdout_logfile") == f"{tmp_path}/var/log/engine.log"
    assert cp.get("program:nats", "environment") == 'A="1%%"'  # % escaped for supervisord
    assert "core 2 missing, using 0" in text
    assert cp.get("unix_http_server", "chmod") == "0700"


def test_core_map_follows_design() -> None:
    from oms.config import load

    m = default_core_map(load())  # configs/oms.toml
    assert m["engine"] == 2 and m["marketdata"] == 3 and m["conn-binance"] == 4
    assert "conn-bybit" not in m  # enabled = false in configs/oms.toml
    assert m["gateway"] is None and m["monitor"] is None
    assert default_core_map(None)["engine"] == 2  # built-in table without a config file


def test_top_renders_a_summary_and_says_what_is_not_reported() -> None:
    import io

    from rich.console import Console

    from oms.monitor.dashboard import render as render_top
    from oms.monitor.frames import LatencyBatch, StatsFrame, VenueReport
    from oms.monitor.settings import Settings
    from oms.monitor.state import MonitorState

    st = MonitorState(Settings())
    st.apply(
        StatsFrame(
            program="conn-binance",
            ts_ns=1,
            latencies=[LatencyBatch("venue_rtt", "binance_spot", [250_000])],
            venues=[VenueReport(exchange="binance_spot", rate_limit_used=10, rate_limit_max=1200)],
        )
    )
    out = io.StringIO()
    Console(file=out, width=120).print(render_top(json.loads(json.dumps(st.summary()))))
    text = out.getvalue()
    assert "health OK" in text and "binance_spot" in text and "10/1200" in text
    assert "venue_rtt/binance_spot" in text and re.search(r"\b250\.\d\b", text)  # µs, HDR 3 digits
    assert "not reported (engine sends positions)" in text and "risk not reported" in text
    assert "cpu: not reported" in text


def test_top_shows_cpu_per_core_and_program() -> None:
    import io
    import os

    from rich.console import Console

    from oms.monitor.dashboard import render as render_top
    from oms.monitor.settings import Settings
    from oms.monitor.state import MonitorState
    from oms.monitor.system import SystemSampler

    st = MonitorState(Settings())
    st.system = SystemSampler(lambda: {"engine": os.getpid()})
    st.system.poll()
    out = io.StringIO()
    Console(file=out, width=140).print(render_top(json.loads(json.dumps(st.summary()))))
    text = out.getvalue()
    assert "core 0" in text and "engine" in text and str(os.getpid()) in text
