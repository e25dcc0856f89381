"""Venue registry: entry-point discovery and the adapter protocol check at registration."""

from __future__ import annotations

from typing import ClassVar

import pytest

from oms.errors import ConfigError, Rejected
from oms.venues.binance.adapter import ADAPTER
from oms.venues.interface import Capabilities, ErrorTable
from oms.venues.registry import VenueRegistry, check, default_registry


def test_entry_points_register_binance() -> None:
    reg = default_registry()
    assert "binance" in reg.names()
    assert reg.get("binance") is ADAPTER
    caps = reg.capabilities("binance", "usdm")
    assert (caps.max_batch, caps.reduce_only, caps.hedge_mode) == (5, True, True)
    assert reg.capabilities("binance", "spot").reduce_only is False
    with pytest.raises(Rejected, match="has no market 'coinm'"):
        reg.capabilities("binance", "coinm")
    with pytest.raises(Rejected, match=r"unknown venue 'kraken'; registered venues: .*binance"):
        reg.get("kraken")


class HalfExecution:
    async def submit(self, rest: object, order: object) -> object:
        return order

    def cancel(self, rest: object, order: object) -> None:  # not async: a protocol violation
        return None


class HalfDone:
    name = "half"
    markets = ("spot",)
    capabilities: ClassVar[dict[str, Capabilities]] = {}
    errors = ErrorTable("half", {})
    execution = HalfExecution()


def test_protocol_violation_names_every_problem() -> None:
    problems = check(HalfDone())
    assert "execution.cancel must be 'async def'" in problems
    assert "execution lacks 'async def positions(...)'" in problems
    assert "execution lacks 'def parse_user(...)'" in problems
    assert "missing face 'data' (DataClient)" in problems
    assert "missing face 'instrument_provider' (InstrumentProvider)" in problems
    assert "capabilities has no entry for market 'spot'" in problems
    assert "missing method 'transport(...)'" in problems
    with pytest.raises(
        ConfigError,
        match=r"HalfDone registered as 'half' does not implement the adapter "
        r"protocol.*execution lacks 'async def balances",
    ):
        VenueRegistry().register("half", HalfDone())


def test_name_must_match_entry_point() -> None:
    with pytest.raises(ConfigError, match="differs from the adapter's name 'binance'"):
        VenueRegistry().register("other", ADAPTER)


def test_binance_adapter_conforms() -> None:
    assert check(ADAPTER) == []
