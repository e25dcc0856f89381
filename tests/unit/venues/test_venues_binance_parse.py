"""Known-answer tests: recorded Binance payloads (tests/fixtures/binance) through parse.py and
binance/instruments.py, down to the hot path's int64 records."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from oms.errors import Rejected
from oms.shm import records as R
from oms.venues.binance import parse
from oms.venues.binance.instruments import parse_exchange_info
from oms.venues.instruments import Instrument

FIX = Path(__file__).resolve().parents[2] / "fixtures" / "binance"


def load(name: str) -> dict:
    return json.loads((FIX / name).read_text())


def raw(name: str) -> bytes:
    return (FIX / name).read_bytes()


def inst(symbol: str, tick: str, lot: str, iid: int = 7) -> Instrument:
    return Instrument(
        id=iid,
        venue="binance",
        market="spot",
        symbol=symbol,
        unified="X/Y",
        base="X",
        quote="Y",
        settle="",
        tick_size=Decimal(tick),
        lot_size=Decimal(lot),
    )


def test_execution_report_new_trade_cancel() -> None:
    new = parse.parse_execution_report(raw("execution_report_new.json"))
    assert (new.symbol, new.order_id, new.exec_type, new.status) == ("ETHBTC", 4293153, "NEW", "new")
    assert new.price == Decimal("0.10264410") and new.qty == Decimal("1") and new.trade_id == -1
    trade = parse.parse_execution_report(load("execution_report_trade.json"))
    assert (trade.status, trade.last_qty, trade.last_price) == (
        "partially_filled",
        Decimal("0.4"),
        Decimal("0.10264"),
    )
    assert (trade.fee, trade.fee_asset, trade.trade_id, trade.is_maker) == (
        Decimal("0.0004"),
        "ETH",
        77251,
        True,
    )
    cxl = parse.parse_execution_report(load("execution_report_canceled.json"))
    assert cxl.client_id == "mUvoqJxFIILMdfAW5iGSOW"  # the original id, not the cancel request's


def test_execution_report_to_event_record() -> None:
    trade = parse.parse_execution_report(load("execution_report_trade.json"))
    ev = parse.order_update_event(trade, inst("ETHBTC", "0.00001", "0.0001"), client_order_id=99, ts_ns=5)
    assert ev["kind"] == R.ORDER_FILLED and ev["client_order_id"] == 99 and ev["venue_order_id"] == 4293153
    assert ev["price"] == 10264 and ev["qty"] == 4000 and ev["cum_qty"] == 4000 and ev["leaves_qty"] == 6000
    assert ev["fee"] == 40_000 and ev["liquidity"] == R.LIQ_MAKER and ev["side"] == R.SIDE_BUY
    assert ev["trade_id"] == 77251 and ev["ts_venue_ns"] == 1499405658699 * 1_000_000


def test_order_trade_update() -> None:
    new = parse.parse_order_trade_update(raw("order_trade_update_new.json"))
    assert (new.market, new.order_type, new.side, new.status) == ("usdm", "trailing_stop_market", -1, "new")
    fill = parse.parse_order_trade_update(load("order_trade_update_fill.json"))
    assert (fill.status, fill.last_price, fill.fee, fill.realized_pnl) == (
        "filled",
        Decimal("60000.10"),
        Decimal("0.1200002"),
        Decimal("1.25"),
    )
    ev = parse.order_update_event(fill, inst("BTCUSDT", "0.10", "0.001"), 1, 0)
    assert ev["price"] == 600001 and ev["qty"] == 10 and ev["leaves_qty"] == 0
    assert ev["flags"] & R.FLAG_REDUCE_ONLY and ev["status"] == parse.STATUS_CODE["filled"]


def test_depth_updates_and_records() -> None:
    spot = parse.parse_depth_update(raw("depth_update_spot.json"))
    assert (spot.first_id, spot.last_id, spot.prev_last_id) == (157, 160, None)
    assert spot.bids == [(Decimal("0.0024"), Decimal("10")), (Decimal("0.0023"), Decimal("0"))]
    usdm = parse.parse_depth_update(raw("depth_update_usdm.json"))
    assert usdm.prev_last_id == 149 and usdm.ts_ms == 123456788
    recs = parse.book_delta_records(usdm, inst("BTCUSDT", "0.10", "0.001"), ts_ns=1, clear=True)
    assert recs["kind"].tolist() == [R.MD_DELTA] * 3
    assert recs["side"].tolist() == [1, -1, -1]
    assert recs["price"].tolist() == [600001, 600002, 600003]
    assert recs["qty"].tolist() == [1500, 0, 2250]
    assert recs[0]["flags"] & R.MD_FLAG_CLEAR and recs[-1]["flags"] & R.MD_FLAG_LAST
    assert not recs[1]["flags"] & R.MD_FLAG_LAST


def test_book_ticker_agg_trade_mark() -> None:
    for name in ("book_ticker_spot.json", "book_ticker_usdm.json"):
        b = parse.parse_book_ticker(raw(name))
        assert (b.update_id, b.bid_price, b.ask_qty) == (400900217, Decimal("25.3519"), Decimal("40.66"))
    rec = parse.book_top_record(b, inst("BNBUSDT", "0.0001", "0.01"), 0)
    assert (rec["price"], rec["qty"], rec["ask_price"], rec["ask_qty"]) == (253519, 3121, 253652, 4066)
    t = parse.parse_agg_trade(raw("agg_trade.json"))
    assert (t.trade_id, t.price, t.qty, t.aggressor) == (12345, Decimal("0.001"), Decimal("100"), R.SIDE_SELL)
    m = parse.parse_mark_price(raw("mark_price_update.json"))
    assert (m.mark, m.funding_rate, m.next_funding_ms) == (
        Decimal("11794.15"),
        Decimal("0.00038167"),
        1562306400000,
    )
    assert parse.mark_record(m, inst("BTCUSDT", "0.10", "0.001"), 0)["price"] == 117942  # half-even to tick


def test_rest_order_responses() -> None:
    s = parse.parse_spot_order(load("spot_order_full.json"))
    assert (s.status, s.side, s.order_type, s.filled_qty) == ("filled", -1, "market", Decimal("10"))
    assert s.avg_price == Decimal("3998.3") and s.price is None
    f = parse.parse_futures_order(load("futures_order_response.json"))
    assert (f.order_id, f.status, f.order_type, f.stop_price) == (
        "22542179",
        "new",
        "trailing_stop_market",
        Decimal("9300"),
    )


def test_bad_payload_names_the_kind() -> None:
    with pytest.raises(Rejected, match="depthUpdate"):
        parse.parse_depth_update({"e": "depthUpdate", "s": "X"})
    with pytest.raises(Rejected, match="not JSON"):
        parse.parse_agg_trade(b"{nope")


def test_exchange_info_spot_and_usdm() -> None:
    spot = {i.symbol: i for i in parse_exchange_info(load("exchange_info_spot.json"), "spot")}
    btc = spot["BTCUSDT"]
    assert (btc.tick_size, btc.lot_size, btc.min_notional, btc.unified) == (
        Decimal("0.01"),
        Decimal("0.00001"),
        Decimal("5"),
        "BTC/USDT",
    )
    assert spot["ETHBTC"].min_notional == Decimal("0.0001")  # legacy MIN_NOTIONAL filter
    fut = {i.symbol: i for i in parse_exchange_info(load("exchange_info_usdm.json"), "usdm")}
    assert fut["BTCUSDT"].unified == "BTC/USDT:USDT" and fut["BTCUSDT"].tick_size == Decimal("0.1")
    assert fut["BTCUSDT"].min_notional == Decimal("100") and fut["BTCUSDT"].price_precision == 2
    assert fut["BTCUSDT_250926"].unified == "BTC/USDT:USDT-250926"
    with pytest.raises(Rejected, match="symbols"):
        parse_exchange_info({"oops": 1}, "spot")
