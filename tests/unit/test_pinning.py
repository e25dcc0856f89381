"""Pinning: a plan larger than the machine maps best-effort and warns, never crashes."""

from __future__ import annotations

import logging

from oms import pinning


def test_plan_keeps_existing_cores_and_moves_missing_ones(caplog) -> None:
    with caplog.at_level(logging.WARNING, logger="oms"):
        out = pinning.plan({"engine": 2, "marketdata": 3, "gateway": None, "mon": 0}, cores=[0, 1])
    assert out["mon"].core == 0
    assert out["engine"].core in (0, 1) and out["engine"].note.startswith("core 2 missing")
    assert out["gateway"].core is None
    assert not any(p.exclusive for p in out.values())  # 2 cores, 3 pinned programs: nobody owns one


def test_plan_exclusive_when_cores_suffice() -> None:
    out = pinning.plan({"engine": 2, "conn": 4}, cores=[0, 1, 2, 3, 4, 5])
    assert out["engine"].core == 2 and out["engine"].exclusive
    assert out["conn"].core == 4 and out["conn"].exclusive


def test_pin_self_to_missing_core_does_not_raise() -> None:
    assert pinning.pin_self(10_000) is False
