"""Monitor room: active venue probes, so /health/{exchange} reflects reachability even before (or
without) a connector reporting.

Touches the venues' REST endpoints from the config (`cfg.enabled_exchanges()`), one cheap
unauthenticated GET per exchange per interval (the venue's documented ping/time endpoint, from the
venue adapter's `ping_paths`). Only
loopback URLs (our simulators) are probed unless `[monitor].probe_remote = true`: tests and local
runs never send traffic off the machine. Each probe becomes a StatsFrame from program "monitor-probe":
a `probe_rtt` latency sample and a VenueReport (up; degraded when slower than `probe_slow_s` or
answered 429/418; down on error/timeout/5xx).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from urllib.parse import urlparse

import aiohttp

from oms.monitor.frames import LatencyBatch, StatsFrame, VenueReport
from oms.monitor.state import MonitorState

LOOPBACK = ("127.0.0.1", "::1", "localhost")


@dataclass(frozen=True)
class Target:
    exchange: str
    url: str


def ping_path(exchange: str) -> str:
    """The venue adapter's documented liveness path for `<venue>_<market>` ("/" when not registered)."""
    from oms.venues.registry import default_registry

    reg = default_registry()
    for v in reg.names():
        if exchange.startswith(v + "_"):
            return reg.get(v).ping_paths.get(exchange[len(v) + 1 :], "/")
    return "/"


def targets(exchanges: dict[str, str], allow_remote: bool = False) -> tuple[list[Target], list[str]]:
    """(probe targets, skipped notes) from {exchange: rest_url}."""
    out, skipped = [], []
    for name, rest in sorted(exchanges.items()):
        host = urlparse(rest).hostname or ""
        if host not in LOOPBACK and not allow_remote:
            skipped.append(f"{name}: {rest} is not loopback (set [monitor].probe_remote = true to probe it)")
            continue
        out.append(Target(name, rest.rstrip("/") + ping_path(name)))
    return out, skipped


async def probe_once(
    session: aiohttp.ClientSession, t: Target, timeout_s: float, slow_s: float
) -> StatsFrame:
    t0 = time.perf_counter_ns()
    state, reason = "up", ""
    try:
        async with session.get(t.url, timeout=aiohttp.ClientTimeout(total=timeout_s)) as r:
            await r.read()
            if r.status in (418, 429):
                state, reason = "degraded", f"probe answered HTTP {r.status} (rate limited)"
            elif r.status >= 400:
                state, reason = "down", f"probe answered HTTP {r.status}"
    except (aiohttp.ClientError, TimeoutError, OSError) as e:
        state, reason = "down", f"probe failed: {type(e).__name__}: {e}"[:200]
    rtt = time.perf_counter_ns() - t0
    if state == "up" and rtt > slow_s * 1e9:
        state, reason = "degraded", f"probe took {rtt / 1e6:.0f} ms"
    lat = [LatencyBatch("probe_rtt", t.exchange, [rtt])] if state != "down" else []
    return StatsFrame(
        program="monitor-probe",
        ts_ns=time.time_ns(),
        latencies=lat,
        venues=[VenueReport(exchange=t.exchange, state=state, reason=reason)],
    )


async def run_probes(
    state: MonitorState, ts: list[Target], interval_s: float, timeout_s: float, slow_s: float
) -> None:
    async with aiohttp.ClientSession() as session:
        while True:
            frames = await asyncio.gather(*(probe_once(session, t, timeout_s, slow_s) for t in ts))
            for f in frames:
                state.apply(f)
            await asyncio.sleep(interval_s)
