"""Security (engine room): the pre-trade risk kernel's int64 arithmetic saturates, it never wraps.

Before: a limit price of reference + 2^60 ticks made `|px - ref| * 10000` wrap to 0 and the order
passed the price-deviation check. Tested on the njit kernel itself (`risk.check_order`) and through
the engine's SubmitOrder / ModifyOrder path.
"""

from __future__ import annotations

import numpy as np

from oms.engine import constants as C
from oms.engine import risk as RK
from oms.shm import records as R
from tests.unit.engine.conftest import PX, make_engine

HUGE_PX = PX + (1 << 60)


def _engine():
    e = make_engine()
    e.md(R.MD_BBO, 1, PX, PX + 100)
    e.set_limit(C.L_PRICE_DEVIATION_BPS, 1, 500)  # 5 %
    return e


def test_kernel_refuses_reference_plus_2_pow_60_ticks() -> None:
    e = _engine()
    for px in (HUGE_PX, PX + (1 << 62), np.iinfo(np.int64).max):
        r = RK.check_order(e.s, 1, 1, 1, 1, np.int64(1), np.int64(px), np.int64(px), True, False)
        assert r == C.R_PRICE_DEVIATION, (px, C.REASON_NAMES.get(int(r)))
    ok = RK.check_order(e.s, 1, 1, 1, 1, np.int64(1), np.int64(PX), np.int64(PX), True, False)
    assert ok == C.R_NONE


def test_submit_and_modify_with_a_wrapping_price_are_price_deviation() -> None:
    e = _engine()
    out = e.submit(1, account=1, instrument=1, side=1, qty=1, price=HUGE_PX)
    assert int(out.events[0]["reason"]) == C.R_PRICE_DEVIATION and len(out.commands) == 0
    e.submit(2, account=1, instrument=1, side=1, qty=1, price=PX)
    e.venue(R.ORDER_ACCEPTED, 2, account=1)
    mod = e.modify(2, price=HUGE_PX, account=1)
    assert mod.kinds() == ["ModifyRejected"] and int(mod.events[0]["reason"]) == C.R_PRICE_DEVIATION


def test_saturating_helpers() -> None:
    big = np.iinfo(np.int64).max
    assert RK.sat_add(np.int64(big), np.int64(1)) == big
    assert RK.sat_add(np.int64(-big - 1), np.int64(-1)) == -big - 1
    assert RK.sat_add(np.int64(2), np.int64(-3)) == -1
    assert RK.sat_mul(np.int64(1 << 40), np.int64(1 << 40)) == big
    assert RK.sat_mul(np.int64(3), np.int64(4)) == 12


def test_exposure_sums_do_not_wrap_into_a_pass() -> None:
    e = _engine()
    e.set_limit(C.L_MAX_POSITION_NOTIONAL, 1, 1 << 62)
    e.s.acct[1]["pos_notional"] = (1 << 62) - 1  # already at the edge
    e.s.acct[1]["open_notional"] = (1 << 62) - 1  # + this would wrap negative without saturation
    out = e.submit(3, account=1, instrument=1, side=1, qty=1, price=PX)
    assert int(out.events[0]["reason"]) == C.R_MAX_POSITION_ACCOUNT
