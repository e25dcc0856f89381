"""Pre-trade risk: every check passes exactly at its limit and fails one unit past it; kill switch."""

from __future__ import annotations

import pytest

from oms.engine import constants as C
from oms.shm import records as R
from tests.unit.engine.conftest import NOW, PX, make_engine

UNIT = 10  # 1e-8 quote units per tick*lot of instrument 1 (0.01 * 0.00001 * 1e8)


@pytest.fixture
def e():
    e = make_engine()
    e.md(R.MD_MARK, 1, PX)
    e.md(R.MD_MARK, 3, 300_000)
    return e


def buy(e, coid, qty, price=PX, account=1, instrument=1, side=1, **kw):
    out = e.submit(coid, account=account, instrument=instrument, side=side, qty=qty, price=price, **kw)
    return int(out.events[0]["reason"])


def test_max_order_qty(e):
    e.set_limit(C.L_MAX_ORDER_QTY, 1, 500)
    assert buy(e, 1, 500) == C.R_NONE
    assert buy(e, 2, 501) == C.R_MAX_ORDER_QTY


def test_max_order_notional(e):
    e.set_limit(C.L_MAX_ORDER_NOTIONAL, 1, PX * 1000 * UNIT)
    assert buy(e, 1, 1000) == C.R_NONE
    assert buy(e, 2, 1001) == C.R_MAX_ORDER_NOTIONAL
    assert buy(e, 3, 1000, price=PX + 1) == C.R_MAX_ORDER_NOTIONAL


def test_max_position_per_instrument_counts_open_orders(e):
    e.set_limit(C.L_MAX_POSITION_QTY, 1, 1500)
    assert buy(e, 1, 1000) == C.R_NONE
    assert buy(e, 2, 500) == C.R_NONE
    assert buy(e, 3, 1) == C.R_MAX_POSITION_INSTRUMENT
    assert buy(e, 4, 1500, side=-1) == C.R_NONE  # the short side has its own worst case
    assert buy(e, 5, 1, side=-1) == C.R_MAX_POSITION_INSTRUMENT


def test_max_position_per_account(e):
    e.set_limit(C.L_MAX_POSITION_NOTIONAL, 1, PX * 2000 * UNIT)
    assert buy(e, 1, 1000) == C.R_NONE
    e.venue(R.ORDER_FILLED, 1, price=PX, qty=1000, trade_id=1)  # position notional at mark PX
    assert buy(e, 2, 1000) == C.R_NONE
    assert buy(e, 3, 1) == C.R_MAX_POSITION_ACCOUNT
    assert buy(e, 4, 1, account=2) == C.R_NONE  # another account is not affected


def test_max_leverage(e):
    e.set_limit(C.L_EQUITY, 1, 1000 * 100_000_000)  # 1000 USDT
    e.set_limit(C.L_MAX_LEVERAGE_X100, 1, 200)  # 2x -> 2000 USDT gross = 2000 lots... at 100000
    lots_at_cap = 2000 * 100_000_000 // (PX * UNIT)
    assert buy(e, 1, lots_at_cap) == C.R_NONE
    assert buy(e, 2, 1) == C.R_MAX_LEVERAGE


def test_price_deviation_and_missing_reference(e):
    e.set_limit(C.L_PRICE_DEVIATION_BPS, 1, 100)  # 1 %
    assert buy(e, 1, 1, price=PX + PX // 100) == C.R_NONE
    assert buy(e, 2, 1, price=PX + PX // 100 + 1) == C.R_PRICE_DEVIATION
    assert buy(e, 3, 1, price=PX - PX // 100) == C.R_NONE
    assert buy(e, 4, 1, price=PX - PX // 100 - 1) == C.R_PRICE_DEVIATION
    e.set_limit(C.L_PRICE_DEVIATION_BPS, 2, 100)
    assert buy(e, 5, 1, instrument=2) == C.R_NO_REFERENCE_PRICE  # no market data for instrument 2 yet


def test_order_rate_token_bucket_per_account_and_venue(e):
    e.set_limit(C.L_RATE_ACCOUNT, 1, 3)
    assert [buy(e, i, 1) for i in (1, 2, 3)] == [C.R_NONE] * 3
    assert buy(e, 4, 1) == C.R_RATE_ACCOUNT
    e.now_ns = NOW + 333_333_334  # one token refilled (3/s)
    assert buy(e, 5, 1) == C.R_NONE
    assert buy(e, 6, 1) == C.R_RATE_ACCOUNT
    e.set_limit(C.L_RATE_VENUE, 1, 2)
    e.now_ns = NOW + 5_000_000_000
    assert buy(e, 7, 1, account=2) == C.R_NONE
    assert buy(e, 8, 1, account=2) == C.R_NONE
    assert buy(e, 9, 1, account=2) == C.R_RATE_VENUE
    assert buy(e, 10, 1, account=2, instrument=3, price=300_000) == C.R_NONE  # venue 2 has its own bucket


def test_per_exchange_exposure(e):
    e.set_limit(C.L_MAX_VENUE_EXPOSURE, 1, PX * 1500 * UNIT)
    assert buy(e, 1, 1000) == C.R_NONE
    assert buy(e, 2, 500, account=2) == C.R_NONE  # same venue, another account
    assert buy(e, 3, 1) == C.R_VENUE_EXPOSURE
    assert buy(e, 4, 1, instrument=3, price=300_000) == C.R_NONE  # other venue


def test_reducing_state_passes_only_risk_reducing_orders(e):
    buy(e, 1, 1000)
    e.venue(R.ORDER_FILLED, 1, price=PX, qty=1000, trade_id=1)
    e.set_trading_state(C.TS_REDUCING, 1)
    assert buy(e, 2, 1) == C.R_REDUCE_ONLY_STATE
    assert buy(e, 3, 1001, side=-1) == C.R_REDUCE_ONLY_STATE
    assert buy(e, 4, 1000, side=-1) == C.R_NONE
    assert buy(e, 5, 1, side=-1) == C.R_REDUCE_ONLY_STATE  # open reducing orders count


def test_set_risk_limit_is_audited_and_checked(e):
    out = e.set_risk_limit(C.L_MAX_ORDER_QTY, 1, 10)
    ev = out.events[0]
    assert out.kinds() == ["RiskLimitChanged"] and ev["status"] == 1
    assert ev["order_type"] == C.L_MAX_ORDER_QTY and ev["trade_id"] == 1 and ev["qty"] == 10
    assert buy(e, 1, 11) == C.R_MAX_ORDER_QTY
    bad = e.set_risk_limit(99, 1, 10).events[0]
    assert bad["status"] == 0 and bad["reason"] == C.R_UNKNOWN_LIMIT
    bad = e.set_risk_limit(C.L_MAX_ORDER_QTY, 1, -1).events[0]
    assert bad["status"] == 0 and bad["reason"] == C.R_INVALID_ORDER


@pytest.mark.parametrize("loss_units,state", [(999, "ACTIVE"), (1000, "REDUCING")])
def test_daily_loss_reduce_boundary(e, loss_units, state):
    e.set_limit(C.L_DAILY_LOSS_REDUCE, 1, 1000 * UNIT)
    buy(e, 1, 1)
    e.venue(R.ORDER_FILLED, 1, price=PX, qty=1, trade_id=1)
    e.md(R.MD_MARK, 1, PX - loss_units)  # 1 lot: every tick down loses UNIT
    assert e.trading_state(1) == state


def test_kill_switch_end_to_end(e):
    e.set_limit(C.L_DAILY_LOSS_REDUCE, 1, 500 * 1000 * UNIT)
    e.set_limit(C.L_DAILY_LOSS_HALT, 1, 1000 * 1000 * UNIT)
    buy(e, 1, 1000)
    e.venue(R.ORDER_FILLED, 1, price=PX, qty=1000, trade_id=1)
    buy(e, 2, 10, price=PX - 10)  # resting at the venue
    e.venue(R.ORDER_ACCEPTED, 2)
    e.submit(
        3, account=1, instrument=1, side=-1, qty=1000, trigger_price=PX - 5000, order_type=R.ORD_STOP_MARKET
    )
    buy(e, 4, 5, account=2)  # another account: untouched
    out = e.md(R.MD_MARK, 1, PX - 500)
    assert e.trading_state(1) == "REDUCING" and "TradingStateChanged" in out.kinds()
    out = e.md(R.MD_MARK, 1, PX - 1000)
    assert e.trading_state(1) == "HALTED"
    changed = [ev for ev in out.events if ev["kind"] == R.TRADING_STATE_CHANGED]
    assert changed[0]["status"] == C.TS_HALTED and changed[0]["reason"] == C.R_DAILY_LOSS
    assert set(out.commands["ref_id"].tolist()) == {2}  # the venue order gets a cancel
    assert e.status(3) == "Canceled"  # the emulated stop is canceled locally
    assert e.status(2) == "PendingCancel" and e.status(4) == "PendingNew"
    assert buy(e, 5, 1) == C.R_TRADING_HALTED
    assert buy(e, 6, 1, side=-1) == C.R_TRADING_HALTED
    e.set_trading_state(C.TS_ACTIVE, 1)  # operator reset, audited
    assert buy(e, 7, 1, side=-1) == C.R_NONE


def test_set_trading_state_to_the_current_state_is_answered(e):
    """The gateway waits for an answer to every command: asking for the state an account already has
    gets a TradingStateChanged (same state) instead of silence (which timed out as OutcomeUnknown)."""
    out = e.set_trading_state(C.TS_ACTIVE, 1)
    changed = [ev for ev in out.events if ev["kind"] == R.TRADING_STATE_CHANGED]
    assert len(changed) == 1 and changed[0]["status"] == C.TS_ACTIVE and changed[0]["account"] == 1
    assert e.trading_state(1) == "ACTIVE"
