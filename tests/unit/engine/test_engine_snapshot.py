"""Snapshot + tail replay rebuilds the same state as the live engine (restart recovery)."""

from __future__ import annotations

import numpy as np

from oms.engine import constants as C
from oms.engine.service import load_snapshot, save_snapshot
from oms.shm import records as R
from tests.unit.engine.conftest import PX, make_engine


def _trade(e, log, base):
    for k in range(5):
        coid = base + k
        log.append(e.submit(coid, account=1, instrument=1, side=1 if k % 2 else -1, qty=100, price=PX).events)
        log.append(e.venue(R.ORDER_ACCEPTED, coid).events)
        if k % 2:
            log.append(e.venue(R.ORDER_FILLED, coid, price=PX + k, qty=40, trade_id=coid).events)
    log.append(
        e.submit(
            base + 9,
            account=1,
            instrument=1,
            side=-1,
            qty=5,
            trigger_price=PX - 100,
            order_type=R.ORD_STOP_MARKET,
        ).events
    )


def test_snapshot_plus_tail_equals_live(tmp_path):
    live = make_engine()
    live.md(R.MD_MARK, 1, PX)
    log: list[np.ndarray] = []
    _trade(live, log, 100)
    log.append(live.set_risk_limit(C.L_MAX_ORDER_QTY, 1, 777).events)
    n_snap = sum(len(x) for x in log)
    save_snapshot(live, tmp_path / "s.npz", n_snap)
    _trade(live, log, 200)
    log.append(live.set_trading_state(C.TS_REDUCING, 1).events)
    events = np.concatenate(log)

    back = make_engine()
    start = load_snapshot(back, tmp_path / "s.npz", events)
    assert start == n_snap
    back.replay(events[start:])
    for f in ("client_order_id", "status", "cum_qty", "leaves", "qty", "price", "open_notional"):
        assert (live.s.orders[f] == back.s.orders[f]).all(), f
    for f in ("qty", "cost", "realised", "fees", "bought", "sold", "open_buy", "open_sell"):
        assert (live.s.pos[f] == back.s.pos[f]).all(), f
    assert back.s.limits[C.L_MAX_ORDER_QTY, 1] == 777 and back.trading_state(1) == "REDUCING"
    assert back.status(209) == "Emulated" and back.s.inst[1]["emu_head"] >= 0


def test_snapshot_with_other_sizes_is_refused(tmp_path):
    e = make_engine()
    save_snapshot(e, tmp_path / "s.npz", 0)
    other = make_engine(capacity=2048)
    assert load_snapshot(other, tmp_path / "s.npz", np.zeros(0, R.EVENT)) == -1
    assert load_snapshot(other, tmp_path / "missing.npz", np.zeros(0, R.EVENT)) == -1
