"""Monitor room: `oms top`, a rich live terminal dashboard over the monitor's /api/summary.

Touches only HTTP GETs to the monitor (loopback). Shows venue health, orders/s, counts, latencies
p50/p99/p99.9/max per stage and exchange, CPU per core and per program (with RSS and NATS rates), ring
depths, positions and PnL, risk state and alerts.
Values that nobody reports are shown as "not reported", never as zeros.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from oms.errors import Transient

STATE_STYLE = {"up": "green", "ok": "green", "degraded": "yellow", "down": "red"}


def fetch_summary(url: str, timeout: float = 2.0) -> dict[str, Any]:
    try:
        with urllib.request.urlopen(url.rstrip("/") + "/api/summary", timeout=timeout) as r:
            return json.loads(r.read())
    except (urllib.error.URLError, OSError, ValueError) as e:
        raise Transient(f"monitor at {url} not answering /api/summary: {e}") from None


def _us(ns: object) -> str:
    if not isinstance(ns, int | float):
        return "-"
    return f"{ns / 1e3:,.1f}" if ns < 1e7 else f"{ns / 1e6:,.1f}ms"


def render(summary: dict[str, Any]) -> Group:
    health = summary.get("health", {})
    status = str(health.get("status", "?"))
    head = Text.assemble(
        ("oms top  ", "bold"),
        (f"health {status.upper()}", STATE_STYLE.get(status, "red")),
        f"   orders/s {summary.get('orders_per_s', 0):,.1f}   orders {summary.get('orders', 0):,}"
        f"   fills {summary.get('fills', 0):,}   rejects {summary.get('rejects', 0):,}"
        f"   risk {summary.get('risk_state') or 'not reported'}   alerts {summary.get('alerts', 0)}"
        f"   monitor up {summary.get('uptime_s', 0):,.0f}s",
    )
    venues = Table(title="venues", expand=True)
    for col in ("exchange", "state", "reason", "reconnects", "rate limit", "recon drift"):
        venues.add_column(col)
    for x, v in summary.get("venues", {}).items():
        st = str(v.get("state"))
        rl = f"{v['rate_limit_used']:.0f}/{v['rate_limit_max']:.0f}" if v.get("rate_limit_max") else "-"
        drift = f"{v.get('recon_drift_orders', 0)} ord / {v.get('recon_drift_lots', 0)} lots"
        venues.add_row(
            x,
            Text(st, STATE_STYLE.get(st, "red")),
            str(v.get("reason") or ""),
            str(v.get("reconnects", 0)),
            rl,
            drift,
        )
    lat = Table(title="latency (µs, last 1-2 windows, HDR)", expand=True)
    for col in ("stage/exchange", "p50", "p99", "p99.9", "max", "n"):
        lat.add_column(col, justify="right" if col != "stage/exchange" else "left")
    for key, q in summary.get("latency_ns", {}).items():
        if q is None:
            lat.add_row(key, "-", "-", "-", "-", "0")
        else:
            lat.add_row(key, _us(q["p50"]), _us(q["p99"]), _us(q["p99.9"]), _us(q["max"]), str(q["count"]))
    if not summary.get("latency_ns"):
        lat.add_row("not reported yet", "", "", "", "", "")
    pos = Table(title="positions / PnL", expand=True)
    for col in ("exchange", "symbol", "qty", "avg price", "realized", "unrealized"):
        pos.add_column(col)
    for p in summary.get("positions", []):
        pos.add_row(
            p["exchange"],
            p["symbol"],
            f"{p['qty']:g}",
            f"{p['avg_price']:g}",
            f"{p['realized_pnl']:,.2f}",
            f"{p['unrealized_pnl']:,.2f}",
        )
    if not summary.get("positions"):
        pos.add_row("not reported (engine sends positions)", "", "", "", "", "")
    rings = Table(title="rings", expand=True)
    for col in ("ring", "depth", "capacity", "producer", "full"):
        rings.add_column(col)
    for r in summary.get("rings", []):
        if r["present"]:
            rings.add_row(
                r["name"],
                str(r["depth"]),
                str(r["capacity"]),
                "alive" if r["producer_alive"] else Text("dead", "red"),
                str(r.get("full_count", 0)),
            )
        else:
            rings.add_row(r["name"], "-", "-", Text(r.get("note", "absent"), "dim"), "-")
    problems = health.get("problems") or []
    parts: list[Any] = [head, venues, lat, _cpu(summary.get("system")), pos, rings]
    if problems:
        parts.append(Panel("\n".join(problems), title="problems", style="yellow"))
    return Group(*parts)


def _cpu(system: dict[str, Any] | None) -> Any:
    """CPU per core, and per program CPU (1.0 = one core) and RSS, from the monitor's SystemSampler."""
    if not system:
        return Text("cpu: not reported (the monitor samples it when started by oms up)", style="dim")
    cores = "  ".join(f"core {i} {c * 100:3.0f}%" for i, c in enumerate(system.get("cpu_per_core", [])))
    t = Table(title=f"cpu   {cores}", expand=True)
    for col in ("program", "pid", "cpu (cores)", "rss MB"):
        t.add_column(col, justify="left" if col == "program" else "right")
    for name, p in system.get("programs", {}).items():
        t.add_row(name, str(p["pid"]), f"{p['cpu']:.2f}", f"{p['rss_mb']:,.1f}")
    if not system.get("programs"):
        t.add_row("no supervised programs found", "", "", "")
    nats = system.get("nats") or {}
    if nats.get("up"):
        r = nats.get("rates", {})
        t.caption = (
            f"NATS in {r.get('in_msgs', 0):,.0f} msg/s {r.get('in_bytes', 0) / 1e3:,.1f} kB/s, "
            f"out {r.get('out_msgs', 0):,.0f} msg/s {r.get('out_bytes', 0) / 1e3:,.1f} kB/s"
        )
    return t


def run_top(url: str, once: bool = False, interval: float = 1.0, console: Console | None = None) -> int:
    con = console or Console()
    if once:
        con.print(render(fetch_summary(url)))
        return 0
    with Live(render(fetch_summary(url)), console=con, refresh_per_second=4, screen=False) as live:
        while True:
            time.sleep(interval)  # UI refresh cadence, not a wait for a condition
            try:
                live.update(render(fetch_summary(url)))
            except Transient as e:
                live.update(Text(f"{e} (retrying)", style="red"))
