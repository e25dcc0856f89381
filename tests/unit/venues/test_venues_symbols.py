"""Symbol normalisation: every native form of the issue both ways, clear errors, and round-trip
properties (hypothesis)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from oms.errors import Rejected
from oms.venues.symbols import QUOTES, SymbolRef, from_unified, parse_unified, split_concat, to_unified

CASES = [
    # venue, market, native, unified
    ("binance", "spot", "BTCUSDT", "BTC/USDT"),
    ("binance", "usdm", "BTCUSDT", "BTC/USDT:USDT"),
    ("binance", "usdm", "BTCUSDT_250926", "BTC/USDT:USDT-250926"),
    ("binance", "coinm", "BTCUSD_PERP", "BTC/USD:BTC"),
    ("binance", "coinm", "BTCUSD_250926", "BTC/USD:BTC-250926"),
    ("bybit", "spot", "BTCUSDT", "BTC/USDT"),
    ("bybit", "linear", "BTCUSDT", "BTC/USDT:USDT"),
    ("bybit", "linear", "BTCPERP", "BTC/USDC:USDC"),
    ("bybit", "inverse", "BTCUSD", "BTC/USD:BTC"),
    ("okx", "spot", "BTC-USDT", "BTC/USDT"),
    ("okx", "linear", "BTC-USDT-SWAP", "BTC/USDT:USDT"),
    ("okx", "inverse", "BTC-USD-SWAP", "BTC/USD:BTC"),
    ("okx", "inverse", "BTC-USD-250926", "BTC/USD:BTC-250926"),
    ("okx", "linear", "BTC-USDT-250926", "BTC/USDT:USDT-250926"),
    ("upbit", "spot", "KRW-BTC", "BTC/KRW"),
]


@pytest.mark.parametrize(("venue", "market", "native", "unified"), CASES)
def test_native_to_unified_and_back(venue: str, market: str, native: str, unified: str) -> None:
    ref = to_unified(venue, market, native)
    assert ref.unified == unified
    assert from_unified(venue, unified) == (market, native)
    assert from_unified(venue, ref) == (market, native)


def test_unified_kinds() -> None:
    assert parse_unified("btc/usdt").kind == "spot"
    swap = parse_unified("BTC/USDT:USDT")
    assert (swap.kind, swap.linear) == ("swap", True)
    fut = parse_unified("BTC/USD:BTC-250926")
    assert (fut.kind, fut.linear, fut.expiry) == ("future", False, "250926")


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("BTCUSDT", "not in unified form"),
        ("BTC/USDT:ETH", "settle asset ETH must be"),
        ("BTC/USD:BTC-251399", "not a YYMMDD date"),
    ],
)
def test_bad_unified(text: str, needle: str) -> None:
    with pytest.raises(Rejected, match=needle):
        parse_unified(text)


def test_bad_native_forms() -> None:
    with pytest.raises(Rejected, match="ends with none of the known quote assets"):
        to_unified("binance", "spot", "FOOBAR")
    with pytest.raises(Rejected, match="suffix must be a YYMMDD"):
        to_unified("binance", "usdm", "BTCUSDT_SEP")
    with pytest.raises(Rejected, match="does not fit market 'spot'"):
        to_unified("okx", "spot", "BTC-USDT-SWAP")
    with pytest.raises(Rejected, match="QUOTE-BASE"):
        to_unified("upbit", "spot", "KRWBTC")
    with pytest.raises(Rejected, match="has no market 'usdm'"):
        to_unified("bybit", "usdm", "BTCUSDT")
    with pytest.raises(Rejected, match="unknown venue 'kraken'"):
        to_unified("kraken", "spot", "XBTUSD")
    with pytest.raises(Rejected, match="has no market 'linear'"):
        from_unified("upbit", "BTC/KRW:KRW")


# ---------------------------------------------------------------- properties
ASSET = st.text(alphabet="ABCDEFGHIJKLMNOPQRSUVWXYZ", min_size=2, max_size=6)  # no 'T': see below
EXPIRY = st.builds(
    lambda y, m, d: f"{y:02d}{m:02d}{d:02d}", st.integers(20, 40), st.integers(1, 12), st.integers(1, 28)
)


def _splits_cleanly(base: str, quote: str) -> bool:
    # a concatenated name is only unambiguous when no longer quote also matches its tail
    # (e.g. base 'XT' + quote 'USD' reads as X/TUSD); excluding 'T' from bases avoids those
    return split_concat(base + quote) == (base, quote) and base not in QUOTES


@given(
    base=ASSET,
    quote=st.sampled_from(QUOTES),
    kind=st.sampled_from(["spot", "swap", "future"]),
    linear=st.booleans(),
    expiry=EXPIRY,
)
def test_round_trip_every_venue(base: str, quote: str, kind: str, linear: bool, expiry: str) -> None:
    if not _splits_cleanly(base, quote):
        return
    settle = None if kind == "spot" else (quote if linear else base)
    ref = SymbolRef(base, quote, settle, expiry if kind == "future" else None)
    assert parse_unified(ref.unified) == ref
    for venue in ("binance", "bybit", "okx", "upbit"):
        if venue == "upbit" and kind != "spot":
            continue
        if venue == "bybit" and kind == "future":
            continue
        if venue == "bybit" and settle == "USDC" and quote == "USDC":
            continue  # Bybit's USDC perpetuals are named BTCPERP (covered above)
        market, native = from_unified(venue, ref)
        assert to_unified(venue, market, native) == ref


@given(base=ASSET, quote=st.sampled_from(QUOTES))
def test_split_concat_inverse(base: str, quote: str) -> None:
    if _splits_cleanly(base, quote):
        assert "".join(split_concat(base + quote)) == base + quote
