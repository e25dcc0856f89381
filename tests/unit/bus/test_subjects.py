"""Subject grammar: build/parse round trips, every bad token rejected with a message naming it."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from oms.bus import subjects as S
from oms.errors import Rejected


def test_build_and_parse_round_trip() -> None:
    s = S.build("orders", "binance", "spot", "BTCUSDT")
    assert s == "orders.binance.spot.BTCUSDT"
    assert S.parse(s) == S.Subject("orders", "binance", "spot", "BTCUSDT")
    assert str(S.parse("fills.binance.usdm.ETHUSDT")) == "fills.binance.usdm.ETHUSDT"
    assert S.parse("market.bybit.linear.BTCUSDT").exchange == "bybit"
    assert S.parse("risk.all.all.ALL").action == "risk"


@pytest.mark.parametrize(
    ("tokens", "needle"),
    [
        (("order", "binance", "spot", "BTCUSDT"), "unknown action 'order'"),
        (("orders", "kraken", "spot", "BTCUSDT"), "unknown exchange 'kraken'"),
        (("orders", "binance", "futures", "BTCUSDT"), "unknown market 'futures'"),
        (("orders", "binance", "spot", "btcusdt"), "symbol 'btcusdt' must be"),
        (("orders", "binance", "spot", "BTC.USDT"), "contains '.'"),
        (("orders", "binance", "spot", "*"), "contains '.', '*', '>'"),
        (("orders", "binance", "spot", ">"), "contains '.', '*', '>'"),
        (("orders", "binance", "spot", "BTC USDT"), "whitespace"),
        (("orders", "", "spot", "BTCUSDT"), "exchange token is empty"),
    ],
)
def test_bad_tokens_are_named(tokens: tuple[str, str, str, str], needle: str) -> None:
    with pytest.raises(Rejected, match=needle.replace("*", r"\*").replace(".", r"\.")):
        S.build(*tokens)


def test_parse_rejects_wrong_token_count() -> None:
    with pytest.raises(Rejected, match="has 3 tokens; expected 4"):
        S.parse("orders.binance.spot")
    with pytest.raises(Rejected, match="has 5 tokens"):
        S.parse("orders.binance.spot.BTC.USDT")


def test_command_subjects() -> None:
    got = S.build_command("submit", "binance", "spot", "BTCUSDT", sender="desk2")
    assert got == "cmd.desk2.submit.binance.spot.BTCUSDT"
    cs = S.parse_command("cmd.desk2.cancel_all.okx.linear.ALL")
    assert (cs.sender, cs.verb, cs.exchange, cs.market) == ("desk2", "cancel_all", "okx", "linear")
    with pytest.raises(Rejected, match="unknown verb 'buy'"):
        S.parse_command("cmd.desk2.buy.binance.spot.BTCUSDT")
    with pytest.raises(Rejected, match="sender 'Desk'"):
        S.parse_command("cmd.Desk.submit.binance.spot.BTCUSDT")
    with pytest.raises(Rejected, match=r"must be cmd\.<sender>\.<verb>"):
        S.parse_command("cmd.submit.binance.spot.BTCUSDT")


def test_stream_names() -> None:
    assert S.stream_name("orders", "binance") == "ORDERS_BINANCE"
    assert S.stream_subjects("fills", "bybit") == ["fills.bybit.>"]
    with pytest.raises(Rejected, match="unknown kind"):
        S.stream_name("trades", "binance")
    assert S.audit_subject("gateway") == "audit.gateway"
    with pytest.raises(Rejected, match="audit origin"):
        S.audit_subject("Gate.way")


@given(
    st.sampled_from(S.ACTIONS),
    st.sampled_from(["binance", "bybit", "okx", "upbit", "all"]),
    st.sampled_from(["spot", "usdm", "coinm", "linear", "inverse", "all"]),
    st.from_regex(r"\A[A-Z0-9][A-Z0-9_\-]{0,20}\Z"),
)
def test_round_trip_property(action: str, exchange: str, market: str, symbol: str) -> None:
    assert S.parse(S.build(action, exchange, market, symbol)) == S.Subject(action, exchange, market, symbol)


@given(st.text(max_size=40))
def test_parse_never_crashes_on_garbage(text: str) -> None:
    try:
        got = S.parse(text)
    except Rejected:
        return
    assert S.build(got.action, got.exchange, got.market, got.symbol) == text
