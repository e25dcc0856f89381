"""Connector room: the `[connector]` section of configs/oms.toml (every `conn-<venue>` process).

Touches nothing; read through `oms.config.load().section("connector")`. Every key has a default, so a
stack without a `[connector]` table runs with these. Override one key from the environment with
`OMS_CONNECTOR__<KEY>=value` (e.g. `OMS_CONNECTOR__ON_UNKNOWN_ORDER=cancel`).
"""

from __future__ import annotations

import msgspec

SECTION = "connector"
UNKNOWN_POLICIES = ("report", "adopt", "cancel")


class Settings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """`[connector]`: markets served, rings, timeouts, reconciliation and shutdown policy."""

    # markets served (each needs an exchange file with this venue and market); [] = all of the adapter's
    markets: list[str] = msgspec.field(default_factory=list)
    instruments: str = ""  # TOML [[instrument]] file (same format as the engine's --instruments)
    ring_capacity: int = 1 << 14  # used when this process has to create a missing ring
    bbo_rows: int = 4096  # BBO table rows when this process has to create the table
    batch: int = 64  # commands taken from the ring per poll
    request_timeout_s: float = 5.0  # a REST call without an answer after this is OutcomeUnknown
    max_inflight: int = 16  # concurrent REST requests per process (more only opens more connections)
    rate_safety: float = 0.9  # fraction of each venue limit the shared budget lets us use
    max_order_wait_s: float = 2.0  # an order the rate budget would hold longer: rejected (-1003)
    recv_window_ms: int = 0  # 0 = take recv_window_ms from the exchange file
    listen_key_keepalive_s: float = 1800.0  # user-stream keep-alive (a listen key expires in 60 min)
    ws_heartbeat_s: float = 20.0  # WS ping interval; no pong within it = dead connection
    reconnect_base_s: float = 0.2  # jittered backoff base and cap for WS reconnects
    reconnect_cap_s: float = 10.0
    depth_levels: int = 1000  # REST snapshot size for book sync
    market_data: bool = True  # subscribe to depth streams and publish book + BBO
    reconcile_lookback_s: float = 86400.0  # fills older than this are not replayed
    reconcile_interval_s: float = 300.0  # also reconcile this often (besides start/reconnect); 0 = off
    on_unknown_order: str = "report"  # an open venue order the OMS does not know: report/adopt/cancel
    cancel_on_shutdown: bool = False  # SIGTERM cancels our open orders before exiting
    shutdown_grace_s: float = 10.0  # SIGTERM: how long in-flight requests may take to finish
    journal_dir: str = "var/run"  # the connector's record of what it told the engine (survives SIGKILL)
    stats_path: str = "var/run/conn-{venue}.stats.json"  # stats snapshot the monitor / `oms top` read
    stats_interval_s: float = 1.0
    monitor_url: str = ""  # e.g. http://127.0.0.1:9109: POST stats frames to the monitor's /ingest


def validate(s: Settings) -> list[tuple[str, object, str]]:
    bad: list[tuple[str, object, str]] = []
    for m in s.markets:
        if not isinstance(m, str) or not m.isidentifier():
            bad.append(("markets", m, "must be market names such as spot, usdm, linear, swap"))
    if s.ring_capacity < 64 or s.ring_capacity & (s.ring_capacity - 1):
        bad.append(("ring_capacity", s.ring_capacity, "must be a power of two >= 64"))
    if not 1 <= s.bbo_rows <= 1 << 24:
        bad.append(("bbo_rows", s.bbo_rows, "must be 1..16777216 (max instrument id + 1)"))
    if not 1 <= s.batch <= 4096:
        bad.append(("batch", s.batch, "must be 1..4096"))
    if not 1 <= s.max_inflight <= 10_000:
        bad.append(("max_inflight", s.max_inflight, "must be 1..10000"))
    if not 0 < s.max_order_wait_s <= 60:
        bad.append(("max_order_wait_s", s.max_order_wait_s, "must be in (0, 60] seconds"))
    if not 0 < s.rate_safety <= 1:
        bad.append(("rate_safety", s.rate_safety, "must be in (0, 1]"))
    if not 0 <= s.recv_window_ms <= 60000:
        bad.append(("recv_window_ms", s.recv_window_ms, "must be 0..60000 ms (0 = exchange file's)"))
    if s.on_unknown_order not in UNKNOWN_POLICIES:
        bad.append(("on_unknown_order", s.on_unknown_order, f"must be one of {', '.join(UNKNOWN_POLICIES)}"))
    if s.depth_levels not in (5, 10, 20, 50, 100, 500, 1000, 5000):
        bad.append(("depth_levels", s.depth_levels, "must be one of 5, 10, 20, 50, 100, 500, 1000, 5000"))
    for key in (
        "request_timeout_s",
        "listen_key_keepalive_s",
        "ws_heartbeat_s",
        "reconnect_base_s",
        "reconnect_cap_s",
        "shutdown_grace_s",
        "stats_interval_s",
        "reconcile_lookback_s",
    ):
        if getattr(s, key) <= 0:
            bad.append((key, getattr(s, key), "must be > 0 seconds"))
    if s.reconnect_cap_s < s.reconnect_base_s:
        bad.append(("reconnect_cap_s", s.reconnect_cap_s, "must be >= reconnect_base_s"))
    if s.reconcile_interval_s < 0:
        bad.append(("reconcile_interval_s", s.reconcile_interval_s, "must be >= 0 (0 = off)"))
    if s.monitor_url and not s.monitor_url.startswith(("http://", "https://")):
        bad.append(("monitor_url", s.monitor_url, "must start with http:// or https:// (or be empty)"))
    return bad
