"""Clock offset, health state machine and backoff."""

from __future__ import annotations

import random

import pytest

from oms.conn.backoff import Backoff
from oms.conn.clock import VenueClock
from oms.conn.health import Health, HealthState


def test_clock_uses_min_rtt_sample_and_resyncs_after_1021() -> None:
    c = VenueClock()
    c.add_sample(1000, 1600, 1200)  # rtt 200, offset 500
    c.add_sample(2000, 2520, 2040)  # rtt 40, offset 500 (+0) -> best
    c.add_sample(3000, 4000, 3300)  # rtt 300, offset 850 (slow answer, ignored)
    assert c.offset_ms == 500
    assert not c.needs_sync
    assert c.should_retry_after_1021()  # first -1021 after this sync: resync and retry once
    c.invalidate()
    assert c.needs_sync and c.offset_ms == 0
    c.add_sample(5000, 5100, 5000)
    assert c.should_retry_after_1021()
    assert not c.should_retry_after_1021()  # again without a new sync: no loop
    with pytest.raises(ValueError, match="before send"):
        c.add_sample(10, 0, 5)


def test_health_transitions_and_listeners() -> None:
    seen: list[str] = []
    h = HealthState("binance")
    h.listeners.append(lambda s: seen.append(s.state.name))
    assert h.update(rest_ok=True, user_stream_ok=True) is Health.DEGRADED  # md not synced yet
    assert h.reason == "market data out of sync"
    assert h.update(market_data_ok=True) is Health.UP
    assert h.update(user_stream_ok=False) is Health.DOWN
    assert seen == ["DEGRADED", "UP", "DOWN"]
    with pytest.raises(AttributeError):
        h.update(bogus=True)


def test_backoff_full_jitter_bounds() -> None:
    b = Backoff(base=0.1, cap=2.0, rng=random.Random(1))
    waits = [b.next() for _ in range(10)]
    assert all(0 <= w <= min(2.0, 0.1 * 2**i) for i, w in enumerate(waits))
    b.reset()
    assert b.attempt == 0
    with pytest.raises(ValueError):
        Backoff(base=0, cap=1)
