"""Anomaly detector: EWMA + MAD baseline, warm-up, spike, cooldown, baseline not poisoned."""

from __future__ import annotations

import random

from oms.monitor.anomaly import Detector


def _warm(d: Detector, n: int = 50, base: float = 100.0, noise: float = 5.0) -> float:
    rng = random.Random(7)
    t = 0.0
    for _ in range(n):
        t += 1.0
        assert d.observe(base + rng.uniform(-noise, noise), t) is None
    return t


def test_no_alert_in_warmup_even_for_big_values() -> None:
    d = Detector("binance_spot", "venue_rtt_latency_p99", warmup=10)
    assert all(d.observe(x, float(i)) is None for i, x in enumerate([1.0, 1000.0, 1.0, 5000.0]))


def test_spike_over_noisy_baseline_alerts_and_names_exchange() -> None:
    d = Detector("binance_spot", "venue_rtt_latency_p99", alpha=0.1, k=6.0, warmup=10)
    t = _warm(d)
    assert d.observe(108.0, t + 1) is None  # inside k * MAD of a ±5 noise baseline (MAD≈2.5, thr≈115)
    a = d.observe(400.0, t + 100)
    assert a is not None and a.exchange == "binance_spot" and a.value == 400.0
    assert a.baseline < 120 and a.threshold < 400
    assert "binance_spot" in a.text(" µs") and "venue_rtt_latency_p99" in a.text()


def test_cooldown_limits_alerts_and_spike_does_not_move_baseline() -> None:
    d = Detector("okx_spot", "reject_rate", warmup=5, cooldown_s=60.0, abs_floor=0.01)
    for i in range(20):
        d.observe(0.01, float(i))
    base = d.mean
    assert d.observe(0.5, 100.0) is not None
    assert d.observe(0.5, 110.0) is None  # in cooldown
    assert d.mean == base  # spikes are not learned as normal
    assert d.observe(0.5, 161.0) is not None  # after cooldown, the incident alerts again


def test_flat_baseline_needs_relative_floor_not_any_wiggle() -> None:
    d = Detector("bybit_linear", "risk_latency_p99", warmup=5, rel_floor=0.05, k=6.0)
    for i in range(20):
        d.observe(10.0, float(i))
    assert d.observe(12.0, 100.0) is None  # 20% over a flat line is under 6 * 5%
    assert d.observe(14.0, 101.0) is not None
