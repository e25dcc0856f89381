"""Latency models: spec parsing, seeded draws, empirical from samples and from an HDR histogram."""

from __future__ import annotations

import numpy as np
import pytest
from hdrh.histogram import HdrHistogram

from oms.backtest import latency as L
from oms.errors import ConfigError


def test_durations_and_constant():
    assert L.parse_duration("250us") == 250_000 and L.parse_duration("1.5ms") == 1_500_000
    assert L.parse_duration("800") == 800 and L.parse_duration("2s") == 2_000_000_000
    assert L.parse("const:3ms").sample() == 3_000_000


def test_seeded_models_repeat_and_differ_by_seed():
    for spec in ("normal:1ms,200us", "lognormal:1ms,0.5", "empirical:1ms,2ms,9ms"):
        m1, m2, m3 = L.parse(spec, 7), L.parse(spec, 7), L.parse(spec, 8)
        s1 = [m1.sample() for _ in range(200)]
        assert s1 == [m2.sample() for _ in range(200)]
        assert s1 != [m3.sample() for _ in range(200)]
        assert min(s1) >= 0
    ln = L.parse("lognormal:1ms,0.5", 1)
    med = float(np.median([ln.sample() for _ in range(4000)]))
    assert 0.9e6 < med < 1.1e6


def test_empirical_draws_only_observed_values(tmp_path):
    f = tmp_path / "lat.txt"
    f.write_text("# one a line\n100us\n200us\n\n300us\n")
    m = L.parse(f"empirical:{f}", 1)
    assert {m.sample() for _ in range(300)} == {100_000, 200_000, 300_000}
    h = HdrHistogram(1, 60_000_000_000, 3)
    for _ in range(90):
        h.record_value(1_000_000)
    for _ in range(10):
        h.record_value(50_000_000)
    (tmp_path / "lat.hdr").write_bytes(h.encode())
    m = L.parse(f"empirical:{tmp_path / 'lat.hdr'}", 2)
    draws = [m.sample() for _ in range(2000)]
    slow = sum(d > 10_000_000 for d in draws) / len(draws)
    assert 0.05 < slow < 0.15
    assert all(abs(d - 1_000_000) < 2000 or abs(d - 50_000_000) < 100_000 for d in draws)


@pytest.mark.parametrize(
    "spec,match",
    [("const:fast", "not a duration"), ("gamma:1ms", "unknown or malformed"), ("normal:1ms", "malformed"),
     ("lognormal:1ms,wide", "sigma"), ("empirical:/nonexistent/lat.txt", "cannot read")],
)  # fmt: skip
def test_bad_specs_say_what_to_write(spec, match):
    with pytest.raises(ConfigError, match=match):
        L.parse(spec)


def test_legs():
    legs = L.parse_legs(["all=const:1ms", "to_venue=const:5ms"])
    assert {k: m.sample() for k, m in legs.items()} == {
        "strategy": 1_000_000,
        "to_venue": 5_000_000,
        "from_venue": 1_000_000,
    }
    with pytest.raises(ConfigError, match="LEG=SPEC"):
        L.parse_legs(["venue:const:1ms"])
