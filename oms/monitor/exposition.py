"""Monitor room: Prometheus exposition of `MonitorState` (a custom prometheus_client collector).

Touches nothing. Built at scrape time from the state, so cumulative values reported by producers
(reconnects, ring drops) map onto counters without double counting. Names follow Prometheus
conventions (snake_case, base units, `_total` for counters) so `promtool check metrics` passes.
p50/p99/p99.9/max come from the HDR histograms as gauges; the `oms_latency_seconds` histogram has
buckets fine enough for `histogram_quantile()` over any range in Grafana.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric

from oms.monitor.state import ORDER_FILLED_NAME, MonitorState

QUANTILE_GAUGES = (("p50", "p50"), ("p99", "p99"), ("p99.9", "p999"), ("max", "max"))


class StateCollector:
    def __init__(self, state: MonitorState) -> None:
        self.state = state

    def collect(self) -> Iterator[Metric]:
        s = self.state
        now = time.monotonic()
        yield from self._orders(s)
        yield from self._latency(s, now)
        yield from self._rings(s)
        yield from self._venues(s, now)
        yield from self._rates(s, now)
        if s.system is not None:
            yield from self._system(s)
        frames = CounterMetricFamily(
            "oms_monitor_frames", "Stats frames received per program", labels=["program"]
        )
        for prog, n in sorted(s.frames.items()):
            frames.add_metric([prog], n)
        yield frames
        yield CounterMetricFamily(
            "oms_monitor_frame_errors", "Stats frames that failed to decode", value=s.frame_errors
        )
        alerts = CounterMetricFamily("oms_alerts", "Anomaly alerts raised", labels=["exchange", "metric"])
        for (x, m), n in sorted(s.alerts.items()):
            alerts.add_metric([x, m], n)
        yield alerts
        risk = GaugeMetricFamily("oms_risk_state", "Engine trading state (1 = current)", labels=["state"])
        if s.risk_state:
            risk.add_metric([s.risk_state], 1)
        yield risk

    def _orders(self, s: MonitorState) -> Iterator[Metric]:
        ev = CounterMetricFamily(
            "oms_order_events", "Order events seen, by exchange and event type", labels=["exchange", "event"]
        )
        for (x, e), n in sorted(s.event_counts.items()):
            ev.add_metric([x, e], n)
        yield ev
        for name, event, doc in (
            ("oms_orders", "order_submitted", "Orders submitted"),
            ("oms_fills", "order_filled", "Fills (OrderFilled events)"),
            ("oms_order_rejects", "order_rejected", "Orders rejected (risk or venue)"),
        ):
            c = CounterMetricFamily(name, doc + " per exchange", labels=["exchange"])
            for x in s.exchanges():
                c.add_metric([x], s.count(x, event))
            yield c
        pos = GaugeMetricFamily(
            "oms_position_quantity", "Net position (engine report)", labels=["exchange", "symbol"]
        )
        rpnl = GaugeMetricFamily(
            "oms_pnl_realized", "Realized PnL in quote units", labels=["exchange", "symbol"]
        )
        upnl = GaugeMetricFamily(
            "oms_pnl_unrealized", "Unrealized PnL in quote units", labels=["exchange", "symbol"]
        )
        for p in s.positions:
            pos.add_metric([p.exchange, p.symbol], p.qty)
            rpnl.add_metric([p.exchange, p.symbol], p.realized_pnl)
            upnl.add_metric([p.exchange, p.symbol], p.unrealized_pnl)
        yield from (pos, rpnl, upnl)

    def _rates(self, s: MonitorState, now: float) -> Iterator[Metric]:
        per = s.event_rates(now)
        for name, event, doc in (
            ("oms_orders_per_second", "order_submitted", "Orders submitted per second (last ~10 s)"),
            ("oms_fills_per_second", ORDER_FILLED_NAME, "Fills per second (last ~10 s)"),
            ("oms_rejects_per_second", "order_rejected", "Orders rejected per second (last ~10 s)"),
        ):
            g = GaugeMetricFamily(name, doc, labels=["exchange"])
            for x in s.exchanges():
                g.add_metric([x], per.get(f"{x}/{event}", 0.0))
            yield g
        by_reason = CounterMetricFamily(
            "oms_order_rejects_by_reason",
            "Orders rejected, by exchange and reason name",
            labels=["exchange", "reason"],
        )
        for (x, reason), n in sorted(s.reject_reasons.items()):
            by_reason.add_metric([x, reason], n)
        yield by_reason

    def _system(self, s: MonitorState) -> Iterator[Metric]:
        sysm = s.system
        assert sysm is not None
        core = GaugeMetricFamily(
            "oms_cpu_core_utilization_ratio",
            "CPU use per logical core over the last poll (0-1)",
            labels=["core"],
        )
        for i, c in enumerate(sysm.cores):
            core.add_metric([str(i)], c)
        yield core
        cpu = CounterMetricFamily(
            "oms_program_cpu_seconds", "CPU seconds (user+system) per program", labels=["program"]
        )
        ratio = GaugeMetricFamily(
            "oms_program_cpu_utilization_ratio",
            "CPU use per program over the last poll (1 = one core)",
            labels=["program"],
        )
        rss = GaugeMetricFamily(
            "oms_program_resident_memory_bytes", "Resident memory (RSS) per program", labels=["program"]
        )
        for name, p in sorted(sysm.programs.items()):
            cpu.add_metric([name], p.cpu_seconds)
            ratio.add_metric([name], p.cpu_ratio)
            rss.add_metric([name], p.rss_bytes)
        yield from (cpu, ratio, rss)
        if not sysm.nats_url:
            return
        n = sysm.nats
        yield GaugeMetricFamily(
            "oms_nats_up", "1 if nats-server's monitoring endpoint answered", value=1 if n.up else 0
        )
        msgs = CounterMetricFamily(
            "oms_nats_messages", "Messages through nats-server (/varz)", labels=["direction"]
        )
        byts = CounterMetricFamily(
            "oms_nats_bytes", "Bytes through nats-server (/varz)", labels=["direction"]
        )
        mps = GaugeMetricFamily(
            "oms_nats_messages_per_second", "NATS messages per second", labels=["direction"]
        )
        bps = GaugeMetricFamily("oms_nats_bytes_per_second", "NATS bytes per second", labels=["direction"])
        for d in ("in", "out"):
            msgs.add_metric([d], getattr(n, f"{d}_msgs"))
            byts.add_metric([d], getattr(n, f"{d}_bytes"))
            mps.add_metric([d], n.rates.get(f"{d}_msgs", 0.0))
            bps.add_metric([d], n.rates.get(f"{d}_bytes", 0.0))
        yield from (msgs, byts, mps, bps)
        js = {
            k: GaugeMetricFamily(
                f"oms_jetstream_stream_{k}", f"JetStream stream state: {doc} (/jsz)", labels=["stream"]
            )
            for k, doc in (
                ("messages", "messages stored"),
                ("bytes", "bytes stored"),
                ("consumers", "consumers"),
                ("last_sequence", "last sequence"),
            )
        }
        for name, st in sorted(n.js_streams.items()):
            js["messages"].add_metric([name], st.messages)
            js["bytes"].add_metric([name], st.bytes)
            js["consumers"].add_metric([name], st.consumers)
            js["last_sequence"].add_metric([name], st.last_seq)
        yield from js.values()

    def _latency(self, s: MonitorState, now: float) -> Iterator[Metric]:
        hist = HistogramMetricFamily(
            "oms_latency_seconds",
            "Latency per stage (ring, risk, venue_rtt) and exchange",
            labels=["stage", "exchange"],
        )
        gauges = {
            key: GaugeMetricFamily(
                f"oms_latency_{suffix}_seconds",
                f"Latency {key} over the last 1-2 HDR windows (exact, from an HDR histogram)",
                labels=["stage", "exchange"],
            )
            for key, suffix in QUANTILE_GAUGES
        }
        for (stage, x), series in sorted(s.latency.items()):
            hist.add_metric([stage, x], series.cumulative_buckets(), series.sum_ns / 1e9)
            q = series.quantiles_ns(now)
            if q is not None:
                for key, _ in QUANTILE_GAUGES:
                    gauges[key].add_metric([stage, x], q[key] / 1e9)
        yield hist
        yield from gauges.values()

    def _rings(self, s: MonitorState) -> Iterator[Metric]:
        depth = GaugeMetricFamily("oms_ring_depth_records", "Records waiting in the ring", labels=["ring"])
        cap = GaugeMetricFamily("oms_ring_capacity_records", "Ring capacity", labels=["ring"])
        alive = GaugeMetricFamily(
            "oms_ring_producer_alive", "1 if the ring's producer heartbeat is fresh", labels=["ring"]
        )
        present = GaugeMetricFamily("oms_ring_present", "1 if the ring segment exists", labels=["ring"])
        for r in s.rings:
            present.add_metric([r.name], 1 if r.present else 0)
            if r.present:
                depth.add_metric([r.name], r.depth)
                cap.add_metric([r.name], r.capacity)
                alive.add_metric([r.name], 1 if r.producer_alive else 0)
        yield from (depth, cap, alive, present)
        drops = CounterMetricFamily(
            "oms_ring_drops", "Publishes refused because the ring was full", labels=["ring"]
        )
        per_ring: dict[str, int] = {}
        for (_, ring), n in s.ring_drops.items():
            per_ring[ring] = per_ring.get(ring, 0) + n
        for r in s.rings:  # the ring's own full counter, unless a producer reports its drops itself
            if r.present and r.name not in per_ring:
                per_ring[r.name] = r.full_count
        for ring, n in sorted(per_ring.items()):
            drops.add_metric([ring], n)
        yield drops

    def _venues(self, s: MonitorState, now: float) -> Iterator[Metric]:
        state = GaugeMetricFamily(
            "oms_venue_state", "Venue health (1 = current state)", labels=["exchange", "state"]
        )
        up = GaugeMetricFamily(
            "oms_venue_up", "1 if the venue is up or degraded, 0 if down", labels=["exchange"]
        )
        rl_used = GaugeMetricFamily(
            "oms_rate_limit_used", "Rate-limit budget used in the current window", labels=["exchange"]
        )
        rl_max = GaugeMetricFamily(
            "oms_rate_limit_max", "Rate-limit budget per window (0 = unknown)", labels=["exchange"]
        )
        rl_ratio = GaugeMetricFamily(
            "oms_rate_limit_remaining_ratio", "Share of the rate-limit budget left", labels=["exchange"]
        )
        reconn = CounterMetricFamily(
            "oms_venue_reconnects", "Venue connection re-establishments", labels=["exchange"]
        )
        d_orders = GaugeMetricFamily(
            "oms_reconciliation_drift_orders", "Orders differing at last reconcile", labels=["exchange"]
        )
        d_lots = GaugeMetricFamily(
            "oms_reconciliation_drift_lots", "Position difference at last reconcile", labels=["exchange"]
        )
        for x in s.exchanges():
            st = str(s.venue_state(x, now)["state"])
            for name in ("up", "degraded", "down"):
                state.add_metric([x, name], 1 if st == name else 0)
            up.add_metric([x], 0 if st == "down" else 1)
            t = s.venue_totals(x)
            rl_used.add_metric([x], t["rate_limit_used"])
            rl_max.add_metric([x], t["rate_limit_max"])
            if t["rate_limit_max"] > 0:
                rl_ratio.add_metric([x], max(0.0, 1 - t["rate_limit_used"] / t["rate_limit_max"]))
            reconn.add_metric([x], t["reconnects"])
            d_orders.add_metric([x], t["recon_drift_orders"])
            d_lots.add_metric([x], t["recon_drift_lots"])
        yield from (state, up, rl_used, rl_max, rl_ratio, reconn, d_orders, d_lots)


def registry_for(state: MonitorState) -> CollectorRegistry:
    reg = CollectorRegistry(auto_describe=False)
    reg.register(StateCollector(state))  # type: ignore[arg-type]
    return reg


def render(registry: CollectorRegistry) -> bytes:
    """Classic text format 0.0.4 (what promtool 2.42 validates)."""
    return generate_latest(registry)
