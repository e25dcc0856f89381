"""Venue registry: entry-point discovery and the Protocol check at registration."""

from __future__ import annotations

from typing import ClassVar

import pytest

from oms.errors import ConfigError, Rejected
from oms.venues.binance.exchange import BinanceExchange
from oms.venues.interface import Capabilities
from oms.venues.registry import VenueRegistry, check, default_registry


def test_entry_points_register_binance() -> None:
    reg = default_registry()
    assert "binance" in reg.names()
    assert reg.get("binance") is BinanceExchange
    caps = reg.capabilities("binance", "usdm")
    assert (caps.max_batch, caps.reduce_only, caps.hedge_mode) == (5, True, True)
    assert reg.capabilities("binance", "spot").reduce_only is False
    with pytest.raises(Rejected, match="has no market 'coinm'"):
        reg.capabilities("binance", "coinm")
    with pytest.raises(Rejected, match=r"unknown venue 'kraken'; registered venues: .*binance"):
        reg.get("kraken")


def test_create_checks_market() -> None:
    reg = default_registry()
    ex = reg.create("binance", "usdm", rest_url="http://127.0.0.1:1", stream_url="ws://127.0.0.1:1")
    assert ex.market == "usdm" and ex.capabilities.max_batch == 5


class HalfDone:
    venue: ClassVar[str] = "half"
    markets: ClassVar[tuple[str, ...]] = ("spot",)
    CAPABILITIES: ClassVar[dict[str, Capabilities]] = {}
    market: str

    async def submit(self, req: object) -> object:
        return req

    def cancel(self, symbol: str) -> None:  # not async: a protocol violation
        return None


def test_protocol_violation_names_every_problem() -> None:
    problems = check(HalfDone)
    assert "'cancel' must be 'async def'" in problems
    assert "missing method 'async def positions(...)'" in problems
    assert "missing attribute 'capabilities'" in problems
    assert "CAPABILITIES has no entry for market 'spot'" in problems
    with pytest.raises(
        ConfigError,
        match=r"HalfDone registered as 'half' does not implement the Exchange "
        r"protocol.*missing method 'async def balances",
    ):
        VenueRegistry().register("half", HalfDone)


def test_binance_adapter_conforms() -> None:
    assert check(BinanceExchange) == []
