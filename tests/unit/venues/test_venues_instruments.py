"""Instrument registry: stable stored ids, exact tick/lot conversions, resolve errors, numpy table."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from oms.errors import ConfigError, Rejected
from oms.venues.binance.instruments import parse_exchange_info
from oms.venues.instruments import INSTRUMENT_DTYPE, SCALE, Instrument, InstrumentRegistry

FIX = Path(__file__).resolve().parents[2] / "fixtures" / "binance"


def specs(name: str, market: str) -> list[Instrument]:
    return parse_exchange_info(json.loads((FIX / name).read_text()), market)


def test_ids_are_stable_across_restarts(tmp_path: Path) -> None:
    path = tmp_path / "var" / "instruments.json"
    reg = InstrumentRegistry.open(path)
    first = reg.load(specs("exchange_info_spot.json", "spot"))
    ids = {i.key: i.id for i in first}
    assert sorted(ids.values()) == [1, 2]
    reopened = InstrumentRegistry.open(path)
    assert {i.key: i.id for i in reopened.all()} == ids  # cached specs come back without the venue
    more = reopened.load(specs("exchange_info_usdm.json", "usdm") + specs("exchange_info_spot.json", "spot"))
    assert {i.key: i.id for i in more if i.market == "spot"} == ids
    assert sorted(i.id for i in more if i.market == "usdm") == [3, 4]
    # a second process that opened the file earlier still gets consistent ids (reads under the lock)
    stale = InstrumentRegistry(path)
    again = stale.load(specs("exchange_info_usdm.json", "usdm"))
    assert sorted(i.id for i in again) == [3, 4]


def test_resolve_native_unified_and_ambiguity(tmp_path: Path) -> None:
    reg = InstrumentRegistry.open(tmp_path / "i.json")
    reg.load(specs("exchange_info_spot.json", "spot") + specs("exchange_info_usdm.json", "usdm"))
    assert reg.resolve("BTC/USDT").market == "spot"
    assert reg.resolve("BTC/USDT:USDT").market == "usdm"
    assert reg.resolve("binance:usdm:BTCUSDT").unified == "BTC/USDT:USDT"
    assert reg.resolve("BTCUSDT", venue="binance", market="spot").market == "spot"
    with pytest.raises(Rejected, match=r"ambiguous instrument 'BTCUSDT'.*binance:spot:BTCUSDT.*binance:usdm"):
        reg.resolve("BTCUSDT")
    with pytest.raises(Rejected, match=r"unknown instrument 'BTCUSDX'; close matches: .*BTCUSDT"):
        reg.resolve("BTCUSDX")
    with pytest.raises(Rejected, match="no instrument with id 99"):
        reg.by_id(99)


def test_exact_conversions_and_grid_errors(tmp_path: Path) -> None:
    reg = InstrumentRegistry(None)
    btc = reg.load(specs("exchange_info_spot.json", "spot"))[0]
    assert btc.to_ticks("60000.01") == 6_000_001
    assert btc.to_lots("0.00001") == 1
    assert btc.from_ticks(6_000_001) == "60000.01"
    assert btc.from_lots(123) == "0.00123"
    assert reg.to_ticks(btc.id, "0.01") == 1 and reg.from_lots(btc.id, 100000) == "1.00000"
    with pytest.raises(
        Rejected,
        match=r"not on binance:spot:BTCUSDT's tick grid 0.01; nearest valid prices: "
        r"60000.00 or 60000.01",
    ):
        btc.to_ticks("60000.005")
    with pytest.raises(Rejected, match=r"not a multiple of .* lot size"):
        btc.to_lots("0.000015")
    with pytest.raises(Rejected, match="is not a decimal number"):
        btc.to_ticks("sixty")
    with pytest.raises(Rejected, match="must be a decimal string"):
        btc.to_ticks(60000.0)  # type: ignore[arg-type]


@given(ticks=st.integers(-(2**62), 2**62))
def test_ticks_round_trip(ticks: int) -> None:
    inst = Instrument(
        1,
        "binance",
        "usdm",
        "BTCUSDT",
        "BTC/USDT:USDT",
        "BTC",
        "USDT",
        "USDT",
        Decimal("0.1"),
        Decimal("0.001"),
    )
    assert inst.to_ticks(inst.from_ticks(ticks)) == ticks
    assert inst.to_lots(inst.from_lots(ticks)) == ticks


def test_numpy_table(tmp_path: Path) -> None:
    reg = InstrumentRegistry(None)
    reg.load(specs("exchange_info_spot.json", "spot") + specs("exchange_info_usdm.json", "usdm"))
    t = reg.table()
    assert t.dtype == INSTRUMENT_DTYPE and len(t) == 5 and t[0]["id"] == 0
    btc = reg.resolve("BTC/USDT")
    row = t[btc.id]
    assert (row["venue"], row["market"]) == (1, 1)
    assert row["tick_e8"] == SCALE // 100 and row["lot_e8"] == 1000 and row["taker_fee_e8"] == 100_000
    assert row["tick"] == 0.01 and row["active"] == 1
    perp = t[reg.resolve("BTC/USDT:USDT").id]
    assert perp["market"] == 2 and perp["maker_fee_e8"] == 20_000 and perp["price_precision"] == 2


def test_corrupt_file_is_a_clear_config_error(tmp_path: Path) -> None:
    p = tmp_path / "i.json"
    p.write_text("{not json")
    with pytest.raises(ConfigError, match=r"i.json: not a valid instrument registry"):
        InstrumentRegistry.open(p)
