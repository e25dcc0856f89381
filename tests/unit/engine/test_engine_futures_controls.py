"""Engine room: SetLeverage / SetMarginMode go to the connector; the venue's answer (LeverageChanged,
MarginModeChanged, PositionReport) sets the leverage the margin check uses; replay restores it."""

from __future__ import annotations

from oms.engine import constants as C
from oms.engine.core import Engine
from oms.shm import records as R
from tests.unit.engine.conftest import PX

PERP = 2  # instrument 2 of the fixture: venue 1, market 2
USDT = 100_000_000  # 1 USDT in 1e-8 units


def _report(e: Engine, kind: int, lev_x100: int, *, status: int = 1, reason: int = 0, ref_seq: int = 0):
    return e.venue(
        kind,
        0,
        venue=1,
        market=2,
        account=1,
        instrument=PERP,
        cum_qty=lev_x100,
        order_type=R.MARGIN_CROSS,
        status=status,
        reason=reason,
        ref_seq=ref_seq,
    )


def test_set_leverage_goes_to_the_connector_and_the_answer_comes_back(eng: Engine) -> None:
    out = eng.command(kind=R.SET_LEVERAGE, account=1, instrument=PERP, param_value=700, seq=41)
    assert len(out.events) == 0  # the venue's answer is the command's answer
    (c,) = out.commands
    assert (int(c["kind"]), int(c["venue"]), int(c["market"]), int(c["param_value"]), int(c["seq"])) == (
        R.SET_LEVERAGE,
        1,
        2,
        700,
        41,
    )
    out = _report(eng, R.LEVERAGE_CHANGED, 700, ref_seq=41)
    (ev,) = out.events
    assert int(ev["kind"]) == R.LEVERAGE_CHANGED and int(ev["ref_seq"]) == 41 and int(ev["status"]) == 1
    assert int(eng.s.limits[C.L_VENUE_LEVERAGE_X100, PERP]) == 700


def test_refusals_answer_at_once_by_reason(eng: Engine) -> None:
    bad = eng.command(kind=R.SET_LEVERAGE, account=1, instrument=PERP, param_value=50, seq=7)  # 0.5x
    assert not len(bad.commands)
    assert C.reason_name(int(bad.events[0]["reason"])) == "invalid_order"
    assert int(bad.events[0]["status"]) == 0
    unk = eng.command(kind=R.SET_MARGIN_MODE, account=1, instrument=7, param_id=R.MARGIN_ISOLATED, seq=8)
    assert int(unk.events[0]["kind"]) == R.MARGIN_MODE_CHANGED
    assert C.reason_name(int(unk.events[0]["reason"])) == "unknown_instrument"
    mode = eng.command(kind=R.SET_MARGIN_MODE, account=1, instrument=PERP, param_id=9, seq=9)
    assert C.reason_name(int(mode.events[0]["reason"])) == "invalid_order"
    # a venue refusal passes through with the venue's code
    out = _report(eng, R.MARGIN_MODE_CHANGED, 0, status=0, reason=-4048, ref_seq=10)
    assert int(out.events[0]["reason"]) == -4048 and int(out.events[0]["status"]) == 0
    # nobody but the venue sets the venue leverage
    lim = eng.set_risk_limit(C.L_VENUE_LEVERAGE_X100, PERP, 12_500)
    assert C.reason_name(int(lim.events[0]["reason"])) == "unknown_risk_limit"
    assert int(eng.s.limits[C.L_VENUE_LEVERAGE_X100, PERP]) == 0


def test_margin_check_uses_the_venue_leverage(eng: Engine) -> None:
    eng.set_limit(C.L_EQUITY, 1, 1000 * USDT)
    eng.set_limit(C.L_LEVERAGE_X100, PERP, 100)  # the config says 1x: it must not be what is used
    _report(eng, R.POSITION_REPORT, 2000)  # the venue says 20x at start
    qty = 10_000  # 0.1 BTC at 100000.00: 10000 USDT notional, 500 USDT margin at 20x
    ok = eng.submit(1, account=1, instrument=PERP, side=R.SIDE_BUY, qty=qty, price=PX)
    assert int(ok.events[0]["kind"]) == R.ORDER_SUBMITTED, C.reason_name(int(ok.events[0]["reason"]))
    _report(eng, R.LEVERAGE_CHANGED, 700)  # 7x: 1428.57 USDT margin > 1000 equity
    rej = eng.submit(2, account=1, instrument=PERP, side=R.SIDE_BUY, qty=qty, price=PX)
    assert C.reason_name(int(rej.events[0]["reason"])) == "risk.insufficient_margin"
    small = eng.submit(3, account=1, instrument=PERP, side=R.SIDE_BUY, qty=qty // 2, price=PX)  # 714 USDT
    assert int(small.events[0]["kind"]) == R.ORDER_SUBMITTED
    # a filled position counts: 0.05 BTC long at 7x = 714 USDT; another 0.05 BTC would need 1428
    eng.venue(R.ORDER_ACCEPTED, 3)
    eng.venue(R.ORDER_FILLED, 3, price=PX, qty=qty // 2, trade_id=1)
    again = eng.submit(4, account=1, instrument=PERP, side=R.SIDE_BUY, qty=qty // 2, price=PX)
    assert C.reason_name(int(again.events[0]["reason"])) == "risk.insufficient_margin"
    close = eng.submit(5, account=1, instrument=PERP, side=R.SIDE_SELL, qty=qty // 2, price=PX)
    assert int(close.events[0]["kind"]) == R.ORDER_SUBMITTED  # reducing orders always pass


def test_replay_restores_the_venue_leverage(eng: Engine) -> None:
    out = _report(eng, R.POSITION_REPORT, 700)
    fresh = Engine(clock=False, capacity=1024, n_accounts=4, n_instruments=8)
    fresh.replay(out.events)
    assert int(fresh.s.limits[C.L_VENUE_LEVERAGE_X100, PERP]) == 700
