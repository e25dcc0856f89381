"""shm room: the `[shm]` section of configs/oms.toml (ring sizes, waiting, liveness).

Touches nothing; the config loader (oms.config) discovers this module. The segment-name prefix is
`[node].shm_prefix` (oms/shm/names.py builds every name from it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import msgspec

if TYPE_CHECKING:
    from oms.shm.wait import BackoffConfig

SECTION = "shm"
MAX_CAPACITY = 1 << 30  # = oms.shm.ring.MAX_CAPACITY (not imported: config loading stays numba-free)
MAX_ROWS = 1 << 24  # = oms.shm.table.MAX_ROWS


class Settings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    command_capacity: int = 4096  # slots of each COMMAND ring (gateway/bridge -> engine -> connectors)
    event_capacity: int = 16384  # slots of each EVENT ring
    market_capacity: int = 65536  # slots of each MARKET ring (bursty: depth snapshots)
    bbo_rows: int = 4096  # BBO table rows = largest instrument id + 1
    spin: str = "auto"  # "auto" (spin only on an owned core), "always", "never"
    spin_polls: int = 2000  # idle polls with `pause` before yielding
    yield_polls: int = 200  # idle polls with sched_yield before sleeping
    sleep_min_us: int = 50
    sleep_max_us: int = 1000  # worst extra wake-up latency of an idle loop (plus timer slack)
    heartbeat_ms: int = 100  # how often producers beat
    producer_stale_after_s: float = 5.0  # consumer treats a silent producer as hung after this


def _pow2(v: int) -> bool:
    return isinstance(v, int) and 2 <= v <= MAX_CAPACITY and v & (v - 1) == 0


def validate(s: Settings) -> list[tuple[str, object, str]]:
    problems: list[tuple[str, object, str]] = []
    for key in ("command_capacity", "event_capacity", "market_capacity"):
        v = getattr(s, key)
        if not _pow2(v):
            problems.append((key, v, f"must be a power of two between 2 and {MAX_CAPACITY} (e.g. 4096)"))
    if not 1 <= s.bbo_rows <= MAX_ROWS:
        problems.append(("bbo_rows", s.bbo_rows, f"must be between 1 and {MAX_ROWS}"))
    if s.spin not in ("auto", "always", "never"):
        problems.append(("spin", s.spin, 'must be "auto", "always" or "never"'))
    for key in ("spin_polls", "yield_polls", "sleep_min_us"):
        if getattr(s, key) < 0:
            problems.append((key, getattr(s, key), "must be >= 0"))
    if not s.sleep_min_us <= s.sleep_max_us <= 1_000_000:
        problems.append(("sleep_max_us", s.sleep_max_us, "must be >= sleep_min_us and <= 1000000"))
    if not 1 <= s.heartbeat_ms <= 60_000:
        problems.append(("heartbeat_ms", s.heartbeat_ms, "must be between 1 and 60000"))
    if not s.producer_stale_after_s * 1000 > s.heartbeat_ms:
        problems.append(
            ("producer_stale_after_s", s.producer_stale_after_s, "must be longer than heartbeat_ms (in s)")
        )
    return problems


def backoff_config(s: Settings) -> BackoffConfig:
    """The wait strategy these settings describe (oms.shm.wait.Backoff(backoff_config(s)))."""
    from oms.shm.wait import BackoffConfig

    pure = {"auto": None, "always": True, "never": False}[s.spin]
    return BackoffConfig(
        spin=s.spin_polls,
        yields=s.yield_polls,
        sleep_min_us=s.sleep_min_us,
        sleep_max_us=s.sleep_max_us,
        pure_spin=pure,
    )
