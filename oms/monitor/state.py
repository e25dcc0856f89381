"""Monitor room: everything the monitor knows, folded from `StatsFrame`s and ring polls.

Touches nothing outside its objects (the HTTP server, NATS subscription and ring polling feed it; the
Prometheus collector and `/health` read it). Exchange labels are the config keys `<venue>_<market>`
(e.g. `binance_spot`); EVENT records map to them through oms.ids.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from oms.ids import MARKET_NAMES, VENUE_NAMES
from oms.monitor.anomaly import Anomaly, Detector
from oms.monitor.frames import PositionReport, StatsFrame, VenueReport, events_of
from oms.monitor.latency import LatencySeries
from oms.monitor.rings import RingStatus
from oms.monitor.settings import Settings
from oms.monitor.system import Rates, SystemSampler
from oms.shm.records import KIND_NAMES, ORDER_FILLED, ORDER_REJECTED, ORDER_SUBMITTED, TRADING_STATE_CHANGED

_SEVERITY = {"up": 0, "degraded": 1, "down": 2}


def exchange_label(venue: int, market: int) -> str:
    return f"{VENUE_NAMES.get(venue, f'venue{venue}')}_{MARKET_NAMES.get(market, f'market{market}')}"


def snake(name: str) -> str:
    return "".join("_" + c.lower() if c.isupper() else c for c in name).lstrip("_")


@dataclass
class VenueView:
    report: VenueReport
    program: str
    seen: float  # monotonic time of the last report


@dataclass
class MonitorState:
    settings: Settings
    started: float = field(default_factory=time.monotonic)
    event_counts: dict[tuple[str, str], int] = field(default_factory=dict)  # (exchange, event) -> n
    reject_reasons: dict[tuple[str, str], int] = field(default_factory=dict)  # (exchange, reason) -> n
    latency: dict[tuple[str, str], LatencySeries] = field(default_factory=dict)  # (stage, exchange)
    venues: dict[tuple[str, str], VenueView] = field(default_factory=dict)  # (program, exchange)
    ring_drops: dict[tuple[str, str], int] = field(default_factory=dict)  # (program, ring) -> cum.
    rings: list[RingStatus] = field(default_factory=list)
    positions: list[PositionReport] = field(default_factory=list)
    risk_state: str = ""
    risk_by_account: dict[int, str] = field(default_factory=dict)
    frames: dict[str, int] = field(default_factory=dict)
    frame_errors: int = 0
    alerts: dict[tuple[str, str], int] = field(default_factory=dict)
    pending_alerts: list[str] = field(default_factory=list)  # producers' alerts not yet sent (texts)
    recent_alerts: deque[str] = field(default_factory=lambda: deque(maxlen=20))
    detectors: dict[tuple[str, str], Detector] = field(default_factory=dict)
    system: SystemSampler | None = None  # CPU/RSS/NATS figures (oms/monitor/system.py), when sampled
    rates: Rates = field(default_factory=Rates)  # orders/s, fills/s per exchange, from the counters
    _window_orders: dict[str, list[int]] = field(default_factory=dict)  # exchange -> [submitted, rejected]
    _order_rate: deque[tuple[float, int]] = field(default_factory=lambda: deque(maxlen=64))

    # ---- ingestion ---------------------------------------------------------------------------
    def apply(self, frame: StatsFrame, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        self.frames[frame.program] = self.frames.get(frame.program, 0) + 1
        if frame.events:
            self.count_events(events_of(frame))
        for b in frame.latencies:
            key = (b.stage, b.exchange)
            series = self.latency.get(key)
            if series is None:
                series = self.latency[key] = LatencySeries(self.settings.hdr_window_s)
            series.record(b.values_ns, now)
        for v in frame.venues:
            self.venues[(frame.program, v.exchange)] = VenueView(v, frame.program, now)
        for r in frame.rings:
            self.ring_drops[(frame.program, r.ring)] = r.drops
        if frame.positions is not None:
            self.positions = list(frame.positions)
        if frame.risk_state:
            self.risk_state = frame.risk_state
        for al in frame.alerts:
            text = f"OMS {frame.program} alert [{al.kind}] {al.subject}: {al.message}"
            self.alerts[(frame.program, al.kind)] = self.alerts.get((frame.program, al.kind), 0) + 1
            self.pending_alerts.append(text)
            self.recent_alerts.append(text)

    def count_events(self, ev: np.ndarray) -> None:
        if not len(ev):
            return
        keys = np.stack([ev["venue"].astype(np.int64), ev["market"].astype(np.int64), ev["kind"]], axis=1)
        uniq, counts = np.unique(keys, axis=0, return_counts=True)
        if (ev["kind"] == TRADING_STATE_CHANGED).any():
            self._risk_events(ev)
        rej = ev[ev["kind"] == ORDER_REJECTED]
        if len(rej):
            self._reject_reasons(rej)
        for (venue, market, kind), n in zip(uniq.tolist(), counts.tolist(), strict=True):
            exch = exchange_label(venue, market)
            name = snake(KIND_NAMES.get(kind, f"Kind{kind}"))
            self.event_counts[(exch, name)] = self.event_counts.get((exch, name), 0) + n
            w = self._window_orders.setdefault(exch, [0, 0])
            if kind == ORDER_SUBMITTED:
                w[0] += n
            elif kind == ORDER_REJECTED:
                w[1] += n

    def _risk_events(self, ev: np.ndarray) -> None:
        """TradingStateChanged events (status = new state, account) → the risk state `oms top` shows."""
        try:
            from oms.engine.constants import TRADING_STATE_NAMES
        except ImportError:  # engine room absent: the state stays "not reported"
            return
        for rec in ev[ev["kind"] == TRADING_STATE_CHANGED]:
            name = TRADING_STATE_NAMES.get(int(rec["status"]))
            if name:
                self.risk_by_account[int(rec["account"])] = name.lower()
        states = sorted(set(self.risk_by_account.values()))
        if len(states) == 1:
            self.risk_state = states[0]
        elif states:
            self.risk_state = ", ".join(f"acct {a}: {n}" for a, n in sorted(self.risk_by_account.items()))

    def _reject_reasons(self, rej: np.ndarray) -> None:
        """OrderRejected events by exchange and reason NAME (oms.engine.constants.REASON_NAMES)."""
        try:
            from oms.engine.constants import REASON_NAMES
        except ImportError:  # engine room absent: the number, named as such
            REASON_NAMES = {}
        for rec in rej:
            code = int(rec["reason"])
            key = (
                exchange_label(int(rec["venue"]), int(rec["market"])),
                REASON_NAMES.get(code, f"code_{code}"),
            )
            self.reject_reasons[key] = self.reject_reasons.get(key, 0) + 1

    def set_rings(self, rings: list[RingStatus]) -> None:
        self.rings = rings

    # ---- derived views -----------------------------------------------------------------------
    def count(self, exchange: str | None, event: str) -> int:
        return sum(n for (x, e), n in self.event_counts.items() if e == event and exchange in (None, x))

    def exchanges(self) -> list[str]:
        seen = {x for (_, x) in self.venues} | {x for (x, _) in self.event_counts}
        markets = set(self.settings.exchanges) | seen
        # a latency labelled with the venue alone (the connector's venue_ack: "binance") is the venue of
        # its markets, not another exchange that never reports (and would make /health down)
        lat = {x for (_, x) in self.latency if not any(m.startswith(f"{x}_") for m in markets)}
        return sorted(markets | lat)

    def venue_state(self, exchange: str, now: float | None = None) -> dict[str, object]:
        """Worst state any program reports for the exchange; stale or missing reports count as down."""
        now = time.monotonic() if now is None else now
        views = [vv for (_, x), vv in self.venues.items() if x == exchange]
        if not views:
            return {"state": "down", "reason": "no venue report received yet", "age_s": None}
        worst, reason, age = "up", "", 0.0
        for vv in views:
            a = now - vv.seen
            st, why = vv.report.state, vv.report.reason
            if a > self.settings.stale_after_s:
                st, why = "down", f"{vv.program}: no report for {a:.1f}s"
            elif why:
                why = f"{vv.program}: {why}"
            if _SEVERITY[st] > _SEVERITY[worst] or (st == worst and why and not reason):
                worst, reason = st, why
            age = max(age, a)
        return {"state": worst, "reason": reason, "age_s": round(age, 3)}

    def venue_totals(self, exchange: str) -> dict[str, float]:
        views = [vv.report for (_, x), vv in self.venues.items() if x == exchange]
        return {
            "reconnects": sum(r.reconnects for r in views),
            "rate_limit_used": max((r.rate_limit_used for r in views), default=0.0),
            "rate_limit_max": max((r.rate_limit_max for r in views), default=0.0),
            "recon_drift_orders": max((r.recon_drift_orders for r in views), default=0),
            "recon_drift_lots": max((r.recon_drift_lots for r in views), default=0),
        }

    def health(self, now: float | None = None) -> tuple[int, dict[str, object]]:
        now = time.monotonic() if now is None else now
        exch = {x: self.venue_state(x, now) for x in self.exchanges()}
        states = [str(v["state"]) for v in exch.values()]
        problems: list[str] = []
        for r in self.rings:
            if r.present and r.capacity and r.depth / r.capacity >= self.settings.ring_depth_warn_ratio:
                problems.append(f"ring {r.name} at {r.depth}/{r.capacity}")
            if r.present and not r.producer_alive:
                problems.append(f"ring {r.name}: producer not alive")
        if not states:
            status = "down"
            problems.append("no exchange configured or reporting")
        elif all(s == "down" for s in states):
            status = "down"
        elif any(s != "up" for s in states) or problems:
            status = "degraded"
        else:
            status = "ok"
        body = {"status": status, "exchanges": exch, "problems": problems, "risk_state": self.risk_state}
        return (503 if status == "down" else 200), body

    def exchange_health(self, exchange: str, now: float | None = None) -> tuple[int, dict[str, object]]:
        """One market (`binance_spot`) or a whole exchange (`binance`: the worst of its markets, each
        market's own answer under `markets`)."""
        known = self.exchanges()
        markets = [x for x in known if x.startswith(f"{exchange}_")]
        if exchange not in known and markets:
            per = {m: self.exchange_health(m, now)[1] for m in markets}
            worst = max((str(b["state"]) for b in per.values()), key=lambda s: _SEVERITY[s])
            reasons = [f"{m}: {b['reason']}" for m, b in per.items() if b.get("reason")]
            body: dict[str, object] = {
                "exchange": exchange,
                "state": worst,
                "reason": "; ".join(reasons),
                "markets": per,
            }
            return (503 if worst == "down" else 200), body
        if exchange not in known:
            exch = sorted({x.split("_", 1)[0] for x in known})
            return 404, {"error": f"unknown exchange {exchange!r}", "known": [*exch, *known]}
        st = self.venue_state(exchange, now)
        body = {"exchange": exchange, **st, **self.venue_totals(exchange)}
        return (503 if st["state"] == "down" else 200), body

    def event_rates(self, now: float | None = None) -> dict[str, float]:
        """'<exchange>/<event>' -> events/s over the last ~10 s (orders submitted, fills, rejects)."""
        keys = ("order_submitted", ORDER_FILLED_NAME, "order_rejected")
        counts = {f"{x}/{e}": self.count(x, e) for x in self.exchanges() for e in keys}
        return self.rates.update(counts, now)

    def orders_per_s(self, now: float | None = None) -> float:
        now = time.monotonic() if now is None else now
        total = self.count(None, "order_submitted")
        self._order_rate.append((now, total))
        while len(self._order_rate) > 2 and now - self._order_rate[0][0] > 10.0:
            self._order_rate.popleft()
        t0, n0 = self._order_rate[0]
        return (total - n0) / (now - t0) if now - t0 > 0.2 else 0.0

    # ---- anomaly detection -------------------------------------------------------------------
    def _detector(self, exchange: str, metric: str, abs_floor: float) -> Detector:
        key = (exchange, metric)
        d = self.detectors.get(key)
        if d is None:
            s = self.settings
            d = self.detectors[key] = Detector(
                exchange,
                metric,
                s.anomaly_alpha,
                s.anomaly_k,
                s.anomaly_warmup,
                s.anomaly_cooldown_s,
                abs_floor=abs_floor,
            )
        return d

    def anomaly_tick(self, now: float | None = None) -> list[tuple[Anomaly, str]]:
        """Close one anomaly window: observe each series' window p99 and each reject rate."""
        now = time.monotonic() if now is None else now
        found: list[tuple[Anomaly, str]] = []
        for (stage, exch), series in self.latency.items():
            window = series.take_window()
            if len(window) < 5:
                continue
            p99_us = float(np.percentile(np.asarray(window), 99)) / 1e3
            a = self._detector(exch, f"{stage}_latency_p99", abs_floor=1.0).observe(p99_us, now)
            if a:
                found.append((a, " µs"))
        for exch, (sub, rej) in self._window_orders.items():
            if sub >= self.settings.anomaly_min_orders:
                a = self._detector(exch, "reject_rate", abs_floor=0.01).observe(rej / sub, now)
                if a:
                    found.append((a, ""))
                self._window_orders[exch] = [0, 0]
        for a, _ in found:
            self.alerts[(a.exchange, a.metric)] = self.alerts.get((a.exchange, a.metric), 0) + 1
        return found

    def summary(self, now: float | None = None) -> dict[str, object]:
        """Everything `oms top` shows, as JSON-ready data."""
        now = time.monotonic() if now is None else now
        lat = {}
        for (stage, exch), series in sorted(self.latency.items()):
            q = series.quantiles_ns(now)
            lat[f"{stage}/{exch}"] = q
        _code, health = self.health(now)
        return {
            "uptime_s": round(now - self.started, 1),
            "health": health,
            "venues": {x: {**self.venue_state(x, now), **self.venue_totals(x)} for x in self.exchanges()},
            "orders_per_s": round(self.orders_per_s(now), 2),
            "orders": self.count(None, "order_submitted"),
            "fills": self.count(None, ORDER_FILLED_NAME),
            "rejects": self.count(None, "order_rejected"),
            "latency_ns": lat,
            "rings": [r.__dict__ for r in self.rings],
            "positions": [msgspec_to_dict(p) for p in self.positions],
            "risk_state": self.risk_state,
            "frames": dict(self.frames),
            "alerts": sum(self.alerts.values()),
            "recent_alerts": list(self.recent_alerts),
            "rejects_by_reason": {f"{x}/{why}": n for (x, why), n in sorted(self.reject_reasons.items())},
            "system": self.system.summary() if self.system is not None else None,
        }


ORDER_FILLED_NAME = snake(KIND_NAMES[ORDER_FILLED])


def msgspec_to_dict(p: PositionReport) -> dict[str, object]:
    return {f: getattr(p, f) for f in p.__struct_fields__}
