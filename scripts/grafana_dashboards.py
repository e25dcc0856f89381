"""Stack room (configs/grafana): writes the two Grafana dashboards from one table of panels.

Touches configs/grafana/oms.json (the whole stack, exchange filter) and configs/grafana/oms-exchange.json
(one exchange: `$venue` = binance aggregates binance_spot and binance_usdm). Every query uses only series
the stack emits (tests/integration/monitor/test_monitor_grafana_prometheus.py runs each one against a
real Prometheus scraping a running monitor and requires data). Latency stages: `venue_ack` (the
connector, exchange label = venue), `probe_rtt` (the monitor's venue probe, label = venue_market).

    .venv/bin/python scripts/grafana_dashboards.py        # rewrite both files
"""

from __future__ import annotations

import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DS = {"type": "prometheus", "uid": "${datasource}"}

# (title, type, unit, [(expr, legend)]) — `{X}` is the exchange matcher of the dashboard
STACK: list[tuple[str, str, str, list[tuple[str, str]]]] = [
    ("Venue up (1 = up/degraded)", "stat", "short", [("oms_venue_up{X}", "{{exchange}}")]),
    ("Orders / s", "timeseries", "ops", [("oms_orders_per_second{X}", "{{exchange}}")]),
    (
        "Fills / s and rejects / s",
        "timeseries",
        "ops",
        [
            ("oms_fills_per_second{X}", "fills {{exchange}}"),
            ("oms_rejects_per_second{X}", "rejects {{exchange}}"),
        ],
    ),
    (
        "Rejects by reason (5m)",
        "timeseries",
        "short",
        [
            (
                "sum by (exchange, reason) (increase(oms_order_rejects_by_reason_total{X}[5m]))",
                "{{exchange}} {{reason}}",
            )
        ],
    ),
    (
        "Venue ack latency p50 / p99 / p99.9 (connector, HDR)",
        "timeseries",
        "s",
        [
            (f'oms_latency_{q}_seconds{{stage="venue_ack",X}}', f"{q} {{{{exchange}}}}")
            for q in ("p50", "p99", "p999")
        ],
    ),
    (
        "Venue ack p99 over 5m (histogram buckets)",
        "timeseries",
        "s",
        [
            (
                "histogram_quantile(0.99, sum by (le, exchange) "
                '(rate(oms_latency_seconds_bucket{stage="venue_ack",X}[5m])))',
                "{{exchange}}",
            )
        ],
    ),
    (
        "Venue probe RTT p50 / p99 (monitor)",
        "timeseries",
        "s",
        [
            (f'oms_latency_{q}_seconds{{stage="probe_rtt",X}}', f"{q} {{{{exchange}}}}")
            for q in ("p50", "p99")
        ],
    ),
    (
        "Rate-limit budget left",
        "timeseries",
        "percentunit",
        [("oms_rate_limit_remaining_ratio{X}", "{{exchange}}")],
    ),
    (
        "Reconnects (1h) and reconciliation drift",
        "timeseries",
        "short",
        [
            ("increase(oms_venue_reconnects_total{X}[1h])", "reconnects {{exchange}}"),
            ("oms_reconciliation_drift_orders{X}", "drift orders {{exchange}}"),
            ("oms_reconciliation_drift_lots{X}", "drift lots {{exchange}}"),
        ],
    ),
    ("Positions", "timeseries", "short", [("oms_position_quantity{X}", "{{exchange}} {{symbol}}")]),
    (
        "PnL",
        "timeseries",
        "short",
        [
            ("sum by (exchange) (oms_pnl_realized{X})", "realized {{exchange}}"),
            ("sum by (exchange) (oms_pnl_unrealized{X})", "unrealized {{exchange}}"),
        ],
    ),
]
HOST: list[tuple[str, str, str, list[tuple[str, str]]]] = [
    ("CPU per core", "timeseries", "percentunit", [("oms_cpu_core_utilization_ratio", "core {{core}}")]),
    (
        "CPU per program (1 = one core)",
        "timeseries",
        "short",
        [("rate(oms_program_cpu_seconds_total[1m])", "{{program}}")],
    ),
    (
        "Memory (RSS) per program",
        "timeseries",
        "bytes",
        [("oms_program_resident_memory_bytes", "{{program}}")],
    ),
    (
        "Ring depth / capacity",
        "timeseries",
        "percentunit",
        [("oms_ring_depth_records / oms_ring_capacity_records", "{{ring}}")],
    ),
    ("Ring drops / s", "timeseries", "ops", [("rate(oms_ring_drops_total[1m])", "{{ring}}")]),
    (
        "NATS messages / s and bytes / s",
        "timeseries",
        "short",
        [
            ("oms_nats_messages_per_second", "msgs {{direction}}"),
            ("oms_nats_bytes_per_second", "bytes {{direction}}"),
        ],
    ),
    (
        "JetStream streams: messages and bytes stored",
        "timeseries",
        "short",
        [
            ("oms_jetstream_stream_messages", "msgs {{stream}}"),
            ("oms_jetstream_stream_bytes", "bytes {{stream}}"),
        ],
    ),
    ("Alerts (1h)", "timeseries", "short", [("increase(oms_alerts_total[1h])", "{{exchange}} {{metric}}")]),
]


def _panels(rows: list[tuple[str, str, str, list[tuple[str, str]]]], matcher: str) -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    for i, (title, kind, unit, targets) in enumerate(rows):
        out.append(
            {
                "id": i + 1,
                "type": kind,
                "title": title,
                "datasource": DS,
                "gridPos": {"x": (i % 3) * 8, "y": (i // 3) * 7, "w": 8, "h": 7},
                "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
                "options": {
                    "legend": {"displayMode": "table", "placement": "bottom", "calcs": ["lastNotNull", "max"]}
                }
                if kind == "timeseries"
                else {},
                "targets": [
                    {
                        "refId": chr(65 + k),
                        "expr": e.replace("{X}", "{" + matcher + "}").replace(",X}", "," + matcher + "}"),
                        "legendFormat": leg,
                    }
                    for k, (e, leg) in enumerate(targets)
                ],
            }
        )
    return out


def _dashboard(
    title: str, uid: str, panels: list[dict[str, object]], var: dict[str, object]
) -> dict[str, object]:
    return {
        "title": title,
        "uid": uid,
        "schemaVersion": 39,
        "version": 1,
        "editable": True,
        "refresh": "5s",
        "time": {"from": "now-30m", "to": "now"},
        "tags": ["oms"],
        "templating": {
            "list": [
                {"name": "datasource", "type": "datasource", "query": "prometheus", "label": "Prometheus"},
                var,
            ]
        },
        "panels": panels,
    }


def stack() -> dict[str, object]:
    var = {
        "name": "exchange",
        "type": "query",
        "datasource": DS,
        "query": "label_values(oms_venue_up, exchange)",
        "refresh": 2,
        "includeAll": True,
        "multi": True,
        "current": {"text": "All", "value": "$__all"},
        "allValue": ".*",
    }
    return _dashboard("OMS", "oms-stack", _panels(STACK + HOST, 'exchange=~"$exchange"'), var)


def exchange() -> dict[str, object]:
    """One exchange as a whole: every market of `$venue` (binance -> binance_spot, binance_usdm) and the
    venue-level series (venue_ack is labelled with the venue itself)."""
    var = {
        "name": "venue",
        "type": "query",
        "datasource": DS,
        "query": "label_values(oms_venue_up, exchange)",
        "regex": "/^([a-z0-9]+)_/",
        "refresh": 2,
        "includeAll": False,
        "multi": False,
    }
    return _dashboard("OMS exchange", "oms-exchange", _panels(STACK, 'exchange=~"$venue(_.*)?"'), var)


def main() -> int:
    for name, d in (("oms.json", stack()), ("oms-exchange.json", exchange())):
        (ROOT / "configs/grafana" / name).write_text(json.dumps(d, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
