"""Bybit, OKX and Upbit instrument lists (recorded answer shapes) → Instrument specs, with the registry."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from oms.errors import Rejected
from oms.venues.bybit.instruments import parse_instruments_info
from oms.venues.instruments import InstrumentRegistry
from oms.venues.okx.instruments import parse_instruments
from oms.venues.upbit.instruments import krw_price_ok, krw_tick, parse_markets

FIX = Path(__file__).resolve().parents[2] / "fixtures"


def load(rel: str) -> object:
    return json.loads((FIX / rel).read_text())


def test_bybit_categories() -> None:
    (lin,) = parse_instruments_info(load("bybit/instruments_linear.json"), "linear")
    assert (lin.unified, lin.tick_size, lin.lot_size, lin.min_notional) == (
        "BTC/USDT:USDT",
        Decimal("0.1"),
        Decimal("0.001"),
        Decimal("5"),
    )
    (spot,) = parse_instruments_info(load("bybit/instruments_spot.json"), "spot")
    assert (spot.unified, spot.lot_size, spot.min_qty, spot.settle) == (
        "BTC/USDT",
        Decimal("0.000001"),
        Decimal("0.000048"),
        "",
    )
    (inv,) = parse_instruments_info(load("bybit/instruments_inverse.json"), "inverse")
    assert (inv.unified, inv.settle, inv.lot_size) == ("BTC/USD:BTC", "BTC", Decimal("1"))
    with pytest.raises(Rejected, match="retCode 10001"):
        parse_instruments_info({"retCode": 10001, "retMsg": "params error"}, "linear")


def test_okx_types_and_contract_sizes() -> None:
    spot, swap, fut = parse_instruments(load("okx/instruments.json"))
    assert (spot.market, spot.unified, spot.tick_size) == ("spot", "BTC/USDT", Decimal("0.1"))
    assert (swap.market, swap.unified, swap.contract_size) == ("linear", "BTC/USDT:USDT", Decimal("0.01"))
    assert (fut.market, fut.unified, fut.contract_size, fut.settle) == (
        "inverse",
        "BTC/USD:BTC-250926",
        Decimal("100"),
        "BTC",
    )


def test_upbit_markets_and_krw_grid() -> None:
    krw, btc = parse_markets(load("upbit/market_all.json"))
    assert (krw.unified, btc.unified) == ("BTC/KRW", "ETH/BTC")
    assert krw_tick(Decimal("1500000")) == 1000 and krw_tick(Decimal("750000")) == 500
    assert krw_tick(Decimal("7000")) == 5 and krw_tick(Decimal("150")) == 1
    assert krw_price_ok(Decimal("95000000")) and not krw_price_ok(Decimal("95000500"))
    assert krw.to_ticks("95000000") == 950_000_000_000


def test_one_registry_for_every_venue(tmp_path: Path) -> None:
    reg = InstrumentRegistry.open(tmp_path / "all.json")
    reg.load(parse_instruments_info(load("bybit/instruments_linear.json"), "linear"))
    reg.load(parse_instruments(load("okx/instruments.json")))
    reg.load(parse_markets(load("upbit/market_all.json")))
    assert len(reg) == 6
    with pytest.raises(Rejected, match="ambiguous instrument 'BTC/USDT:USDT'"):
        reg.resolve("BTC/USDT:USDT")
    assert reg.resolve("BTC/USDT:USDT", venue="okx").symbol == "BTC-USDT-SWAP"
    assert reg.resolve("KRW-BTC").venue == "upbit"
    t = reg.table()
    assert t[reg.resolve("BTC-USDT-SWAP").id]["contract_e8"] == 1_000_000
