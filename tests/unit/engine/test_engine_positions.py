"""Positions and PnL: average entry, realised on reduce and flip, fees, unrealised at the mark,
margin, unified per-asset view across venues; [risk] settings validation and loading."""

from __future__ import annotations

from decimal import Decimal

import pytest

from oms.engine import constants as C
from oms.engine import positions as P
from oms.engine import settings as ES
from oms.shm import records as R
from tests.unit.engine.conftest import PX, make_engine

UNIT = 10


def fill(e, coid, side, qty, px, fee=0, instrument=1, account=1):
    e.submit(coid, account=account, instrument=instrument, side=side, qty=qty, price=px)
    e.venue(R.ORDER_FILLED, coid, price=px, qty=qty, trade_id=coid, fee=fee)


def test_average_entry_realised_flip_and_fees():
    e = make_engine()
    e.md(R.MD_MARK, 1, PX)
    fill(e, 1, 1, 100, PX, fee=5)
    fill(e, 2, 1, 100, PX + 1000, fee=5)
    p = e.position(1, 1)
    assert p["qty"] == 200 and p["cost"] == 100 * PX + 100 * (PX + 1000)  # avg entry PX + 500
    fill(e, 3, -1, 50, PX + 2000)  # close 50 at +1500 over avg entry
    p = e.position(1, 1)
    assert p["realised"] == 50 * 1500 * UNIT and p["qty"] == 150
    fill(e, 4, -1, 250, PX)  # close 150 at -500, then open 100 short at PX
    p = e.position(1, 1)
    assert p["realised"] == 50 * 1500 * UNIT - 150 * 500 * UNIT
    assert p["qty"] == -100 and p["cost"] == 100 * PX and p["fees"] == 10
    e.md(R.MD_MARK, 1, PX - 300)
    p = e.position(1, 1)
    assert p["unrealised"] == 100 * 300 * UNIT and p["notional"] == 100 * (PX - 300) * UNIT
    a = e.account(1)
    assert a["realised"] == p["realised"] and a["unrealised"] == p["unrealised"] and a["fees"] == 10
    assert P.account_loss(e.s, 1) == -(p["realised"] - 10 + p["unrealised"])


def test_margin_uses_instrument_leverage_and_unified_positions_sum_venues():
    e = make_engine()
    e.md(R.MD_MARK, 1, PX)
    e.md(R.MD_MARK, 2, PX)
    e.set_limit(C.L_LEVERAGE_X100, 2, 500)  # 5x on the perpetual
    fill(e, 1, 1, 1000, PX, instrument=1)
    fill(e, 2, -1, 400, PX, instrument=2)
    assert P.margin_used(e.s, 1, 2) == e.position(1, 2)["notional"] // 5
    assert e.unified_positions() == {(1, "BTC"): Decimal("0.00600")}
    e.set_limit(C.L_EQUITY, 1, 100 * 100_000_000)  # 100 USDT
    summary = e.account_summary(1)
    gross = Decimal(1400) * Decimal("0.00001") * Decimal(100_000)  # 1000 spot + 400 perp lots at 100000
    assert summary["gross_notional"] == gross and summary["leverage"] == gross / 100
    assert summary["margin_used"] == Decimal(1000) + Decimal(400) / 5  # spot at 1x, perp at 5x (USDT)


def test_daily_window_rolls_at_utc_midnight():
    e = make_engine()
    e.md(R.MD_MARK, 1, PX)
    fill(e, 1, 1, 10, PX)
    fill(e, 2, -1, 10, PX + 100)
    assert e.account(1)["realised"] == 10 * 100 * UNIT
    P.roll_day(e.s, e.now_ns + 86_400_000_000_000)
    assert e.account(1)["realised"] == 0 and e.position(1, 1)["realised"] == 10 * 100 * UNIT


def test_settings_validate_names_the_bad_key():
    bad = ES.validate(
        ES.Settings(
            max_order_notional="lots",
            price_deviation_bps=20000,
            accounts=[0],
            ring_capacity=1000,
            venue={"nope": ES.VenueLimits()},
        )
    )
    keys = {k for k, _, _ in bad}
    assert {"max_order_notional", "price_deviation_bps", "accounts", "ring_capacity", "venue.nope"} <= keys
    assert ES.validate(ES.Settings()) == []


def test_apply_settings_loads_limits():
    e = make_engine()
    st = ES.Settings(
        accounts=[1, 2],
        max_order_qty=7,
        max_order_notional="1000.5",
        max_leverage=3,
        equity="10000",
        instruments={"1": ES.InstrumentLimits(max_order_qty=3, leverage=10)},
        account={"2": ES.AccountLimits(daily_loss_halt="50")},
        venue={"binance": ES.VenueLimits(order_rate=20, capabilities=["stop_market", "oco"])},
    )
    e.apply_settings(st)
    lim = e.s.limits
    assert lim[C.L_MAX_ORDER_QTY, 1] == 3 and lim[C.L_MAX_ORDER_QTY, 2] == 7
    assert lim[C.L_MAX_ORDER_NOTIONAL, 1] == 100_050_000_000 and lim[C.L_MAX_LEVERAGE_X100, 1] == 300
    assert lim[C.L_DAILY_LOSS_HALT, 2] == 5_000_000_000 and lim[C.L_DAILY_LOSS_HALT, 1] == C.NO_LIMIT
    assert lim[C.L_RATE_VENUE, 1] == 20 and lim[C.L_LEVERAGE_X100, 1] == 1000
    assert e.s.ven[1]["caps"] == C.CAP_STOP_MARKET | C.CAP_OCO


@pytest.mark.parametrize(
    "tick,lot,cs,expect",
    [
        ("0.01", "0.00001", "1", (10, 1)),
        ("0.00000001", "0.01", "1", (1, 100)),
        ("0.1", "1", "0.001", (10000, 1)),
    ],
)
def test_scale_fraction_is_exact(tick, lot, cs, expect):
    from oms.engine.instruments import scale_fraction

    assert scale_fraction(tick, lot, cs) == expect
