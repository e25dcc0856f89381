"""Monitor room: the `[monitor]` section of configs/oms.toml (exporter, health, anomaly alerts).

Touches nothing; the config loader (oms.config) discovers this module and validates the section with
`Settings` and `validate`. Webhook URLs are secrets-adjacent (they authorise posting) and are never logged.
"""

from __future__ import annotations

import msgspec

SECTION = "monitor"


class Settings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    host: str = "127.0.0.1"  # HTTP listen address for /metrics, /health, /api/summary, /ingest
    port: int = 9464  # 0 = pick a free port (tests)
    stats_subject: str = "monitor.stats"  # NATS subject prefix; producers publish to <prefix>.<program>
    event_subjects: list[str] = msgspec.field(default_factory=lambda: ["orders.>", "fills.>", "risk.>"])
    # ^ NATS subjects of the bridge's OMSF event frames, counted into the order/fill/reject metrics
    exchanges: list[str] = []  # exchanges /health must cover; empty = every exchange that has reported
    stale_after_s: float = 15.0  # a venue with no report for this long counts as down
    ring_poll_s: float = 1.0  # how often ring depths are read from shared memory
    ring_depth_warn_ratio: float = 0.8  # depth / capacity above this marks /health degraded
    hdr_window_s: float = 10.0  # p50/p99/p99.9 gauges cover the last one to two windows
    slack_webhook_url: str = ""  # empty = no Slack alerts
    discord_webhook_url: str = ""  # empty = no Discord alerts
    alert_timeout_s: float = 5.0
    probe_interval_s: float = 2.0  # active venue probes (oms/monitor/probe.py); 0 = off
    probe_timeout_s: float = 2.0
    probe_slow_s: float = 0.5  # a probe slower than this marks the venue degraded
    probe_remote: bool = False  # False: only loopback venue URLs (simulators) are probed
    conn_stats_glob: str = "var/run/conn-*.stats.json"  # connectors' stats snapshots (oms/conn); "" = off
    nats_monitor_url: str = ""  # nats-server's monitoring port (loopback http://127.0.0.1:PORT); "" = off
    supervisor_socket: str = "var/run/supervisor.sock"  # supervisord's socket: the pids to sample; "" = off
    anomaly_window_s: float = 1.0  # one anomaly observation per window per (exchange, metric)
    anomaly_alpha: float = 0.1  # EWMA smoothing of the baseline
    anomaly_k: float = 6.0  # spike when value > baseline + k * MAD
    anomaly_warmup: int = 10  # windows observed before any alert
    anomaly_cooldown_s: float = 60.0  # at most one alert per (exchange, metric) in this time
    anomaly_min_orders: int = 20  # reject-rate windows with fewer orders are not judged


def validate(s: Settings) -> list[tuple[str, object, str]]:
    problems: list[tuple[str, object, str]] = []
    if not 0 <= s.port <= 65535:
        problems.append(("port", s.port, "must be 0..65535 (0 picks a free port)"))
    if s.host not in ("127.0.0.1", "::1", "localhost", "0.0.0.0", "::"):
        problems.append(("host", s.host, "must be a local listen address such as 127.0.0.1"))
    for key in ("slack_webhook_url", "discord_webhook_url"):
        url = getattr(s, key)
        if url and not url.startswith(("http://", "https://")):
            problems.append((key, "<redacted>", "must be an http(s):// webhook URL or empty"))
    if s.nats_monitor_url:
        from urllib.parse import urlsplit

        u = urlsplit(s.nats_monitor_url)
        if u.scheme != "http" or u.hostname not in ("127.0.0.1", "::1", "localhost") or not u.port:
            problems.append(
                (
                    "nats_monitor_url",
                    s.nats_monitor_url,
                    "must be http://127.0.0.1:PORT (nats-server's monitoring port is loopback only) or empty",
                )
            )
    if s.probe_interval_s < 0:
        problems.append(("probe_interval_s", s.probe_interval_s, "must be >= 0 (0 turns probes off)"))
    for key in (
        "stale_after_s",
        "ring_poll_s",
        "hdr_window_s",
        "anomaly_window_s",
        "alert_timeout_s",
        "probe_timeout_s",
        "probe_slow_s",
    ):
        if getattr(s, key) <= 0:
            problems.append((key, getattr(s, key), "must be > 0 seconds"))
    if not 0 < s.anomaly_alpha <= 1:
        problems.append(("anomaly_alpha", s.anomaly_alpha, "must be in (0, 1]"))
    if s.anomaly_k <= 0:
        problems.append(("anomaly_k", s.anomaly_k, "must be > 0"))
    if not 0 < s.ring_depth_warn_ratio <= 1:
        problems.append(("ring_depth_warn_ratio", s.ring_depth_warn_ratio, "must be in (0, 1]"))
    if not s.stats_subject or " " in s.stats_subject or s.stats_subject.endswith("."):
        problems.append(
            ("stats_subject", s.stats_subject, "must be a NATS subject prefix like monitor.stats")
        )
    return problems
