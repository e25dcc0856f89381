"""Venues room (binance): `GET /fapi/v2/positionRisk` rows → the venue's settings per symbol, and the EVENT
record built from them (pure functions of oms/venues/binance/futures_controls.py), on a recorded payload."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

from oms.conn.instruments import Inst
from oms.shm import records as R
from oms.venues.binance.futures_controls import parse_position_risk, report_record
from oms.venues.errors import code_name

ROWS = json.loads((Path(__file__).parents[2] / "fixtures" / "binance" / "position_risk_v2.json").read_text())


def test_parse_isolated_cross_and_hedge_legs() -> None:
    st = parse_position_risk(ROWS)
    btc = st["BTCUSDT"]
    assert (btc.leverage, btc.margin_mode, btc.position) == (7, R.MARGIN_ISOLATED, Decimal("0.010"))
    assert btc.liquidation_price == Decimal("51812.34") and btc.margin == Decimal("86.01234567")
    eth = st["ETHUSDT"]
    assert (eth.leverage, eth.margin_mode, eth.position, eth.margin) == (20, R.MARGIN_CROSS, 0, 0)
    sol = st["SOLUSDT"]  # hedge mode: legs summed, cross margin = |notional| / leverage per leg
    assert (sol.position, sol.margin, sol.liquidation_price) == (Decimal(1), Decimal(45), Decimal("120.5"))


def test_report_record_in_ticks_lots_and_fee_units() -> None:
    inst = Inst(3, "binance", "usdm", "BTCUSDT", "BTC", "USDT", Decimal("0.1"), Decimal("0.001"))
    rec = report_record(
        R.LEVERAGE_CHANGED, inst, parse_position_risk(ROWS)["BTCUSDT"], account=1, ref_seq=9, status=1
    )[0]
    assert (int(rec["kind"]), int(rec["instrument"]), int(rec["ref_seq"]), int(rec["status"])) == (
        R.LEVERAGE_CHANGED,
        3,
        9,
        1,
    )
    assert int(rec["cum_qty"]) == 700 and int(rec["order_type"]) == R.MARGIN_ISOLATED
    assert int(rec["price"]) == 518123 and int(rec["qty"]) == 10  # 51812.34 rounds to the 0.1 tick
    assert int(rec["fee"]) == 8_601_234_567


def test_venue_error_names() -> None:
    assert code_name("binance", -4048) == "MARGIN_TYPE_CANNOT_BE_CHANGED_IF_THERE_EXISTS_POSITION"
    assert code_name("binance", "-4028") == "INVALID_LEVERAGE"
    assert code_name("binance", -2015) == "REJECTED_MBX_KEY"
    assert code_name("binance", -9999) == "venue error -9999"
