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


def test_shipped_core_map_on_a_two_core_machine(caplog) -> None:
    """configs/oms.toml asks for cores 2-4 (5, 6 disabled); on cores {0, 1} everything maps, one warning."""
    from oms.config import load

    core_map = load(env={}).core_map()
    assert core_map["engine"] == 2 and core_map["gateway"] is None
    pinning._warned.discard((0, 1))
    with caplog.at_level(logging.WARNING, logger="oms.pinning"):
        out = pinning.plan(core_map, cores=[0, 1])
        again = pinning.plan(core_map, cores=[0, 1])
    assert {p.core for p in out.values() if p.wanted is not None} <= {0, 1}
    assert all(p.core is None for p in out.values() if p.wanted is None)
    assert out == again
    warnings = [r for r in caplog.records if r.name == "oms.pinning"]
    assert len(warnings) == 1 and "engine: core 2 -> " in warnings[0].getMessage()
