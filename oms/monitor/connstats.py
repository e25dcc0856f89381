"""Monitor room: reads the connectors' stats snapshots (`[connector].stats_path`, by default
`var/run/conn-<venue>.stats.json`, written by oms/conn) and turns each into a StatsFrame.

Touches only those files (read-only). Per market of the venue (`rate_budget` keys, e.g. spot, usdm)
it reports the exchange `<venue>_<market>`: health state and reason, reconnects (connection + user
stream + market data), the request-weight budget used/limit, and the last reconciliation's drift. A
snapshot older than `stale_after_s`, or whose writer pid is gone, makes the venue down ("connector not
running"), so a dead connector cannot look healthy.
"""

from __future__ import annotations

import glob
import json
import os
import time
from pathlib import Path
from typing import Any

from oms.monitor.frames import StatsFrame, VenueReport

_STATES = {"UP": "up", "DEGRADED": "degraded", "DOWN": "down"}


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def frame_from_snapshot(snap: dict[str, Any], stale_after_s: float, now: float | None = None) -> StatsFrame:
    now = time.time() if now is None else now
    venue = str(snap.get("venue", "?"))
    health = snap.get("health") or {}
    state = _STATES.get(str(health.get("state", "DOWN")).upper(), "down")
    reason = str(health.get("reason") or "")
    age = now - float(snap.get("ts", 0))
    pid = int(snap.get("pid") or 0)
    if age > stale_after_s:
        state, reason = "down", f"connector stats not updated for {age:.0f}s (connector not running?)"
    elif pid and not _pid_alive(pid):
        state, reason = "down", f"connector pid {pid} is gone"
    recon = snap.get("reconcile") or {}
    venues = []
    for market, budget in sorted((snap.get("rate_budget") or {}).items()):
        weight = next((lim for lim in budget.get("limits", []) if lim.get("kind") == "weight"), {})
        reconnects = int(health.get("reconnects") or 0)
        for part in ("user_streams", "market_data"):
            reconnects += int(((snap.get(part) or {}).get(market) or {}).get("reconnects") or 0)
        venues.append(
            VenueReport(
                exchange=f"{venue}_{market}",
                state=state,
                reason=reason,
                reconnects=reconnects,
                rate_limit_used=float(weight.get("used") or 0),
                rate_limit_max=float(weight.get("limit") or 0),
                recon_drift_orders=int(recon.get("drift_orders") or 0),
                recon_drift_lots=int(recon.get("drift_lots") or 0),
            )
        )
    return StatsFrame(program=f"conn-{venue}", ts_ns=int(now * 1e9), venues=venues)


def read_all(pattern: str, stale_after_s: float) -> tuple[list[StatsFrame], list[str]]:
    """(frames, problems) for every snapshot file matching the glob pattern."""
    frames, problems = [], []
    for path in sorted(glob.glob(pattern)):
        try:
            snap = json.loads(Path(path).read_text())
        except (OSError, ValueError) as e:  # mid-write or removed: the next poll reads it again
            problems.append(f"{path}: {e}")
            continue
        if isinstance(snap, dict):
            frames.append(frame_from_snapshot(snap, stale_after_s))
    return frames, problems
