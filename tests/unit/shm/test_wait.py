"""Backoff: spin → yield → sleep in order, pure spin when configured, reset, config errors."""

from __future__ import annotations

import time

import pytest

from oms.errors import ConfigError
from oms.shm.wait import (
    STEP_SLEEP,
    STEP_SPIN,
    STEP_YIELD,
    Backoff,
    BackoffConfig,
    backoff_step,
    now_ns,
)


def test_steps_in_order_and_reset() -> None:
    b = Backoff(BackoffConfig(spin=3, yields=2, sleep_min_us=10, sleep_max_us=40, pure_spin=False))
    steps = [backoff_step(b.state) for _ in range(7)]
    assert steps == [STEP_SPIN] * 3 + [STEP_YIELD] * 2 + [STEP_SLEEP] * 2
    b.reset()
    assert b.idle_count == 0 and backoff_step(b.state) == STEP_SPIN


def test_sleep_grows_and_is_capped() -> None:
    b = Backoff(BackoffConfig(spin=0, yields=0, sleep_min_us=100, sleep_max_us=400, pure_spin=False))
    t0 = time.perf_counter()
    for _ in range(5):
        b.idle()  # 100 + 200 + 400 + 400 + 400 us at least
    assert time.perf_counter() - t0 >= 0.0015
    assert int(b.state[5]) == 400


def test_pure_spin_never_sleeps(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OMS_NO_SPIN", raising=False)
    b = Backoff(BackoffConfig(spin=1, yields=1, pure_spin=True))
    assert {backoff_step(b.state) for _ in range(100)} == {STEP_SPIN}
    monkeypatch.setenv("OMS_NO_SPIN", "1")
    assert not Backoff(BackoffConfig(pure_spin=True)).pure_spin


@pytest.mark.parametrize(
    ("kw", "msg"),
    [
        ({"spin": -1}, "spin=-1 must be an integer >= 0"),
        ({"yields": 1.5}, "yields=1.5"),
        ({"sleep_min_us": 100, "sleep_max_us": 10}, "sleep_max_us=10 must be >= sleep_min_us"),
    ],
)
def test_bad_config(kw: dict[str, object], msg: str) -> None:
    with pytest.raises(ConfigError, match=msg):
        Backoff(BackoffConfig(**kw))  # type: ignore[arg-type]


def test_clock_matches_python_monotonic() -> None:
    a = time.monotonic_ns()
    b = now_ns()
    assert 0 <= b - a < 1_000_000_000
