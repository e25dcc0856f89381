"""Engine room: `position_changes` — what the position feed publishes on positions.{ex}.{mk}.{sym}."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

from oms.engine.report import position_changes
from oms.shm import records as R
from tests.unit.engine.conftest import PX


def test_each_changed_position_is_reported_once_with_its_fill_count(eng) -> None:  # type: ignore[no-untyped-def]
    eng.specs[1] = dataclasses.replace(eng.specs[1], tick_size=Decimal("0.01"))  # prices in USDT
    seen = eng.s.pos["n_fills"].copy()
    assert position_changes(eng, seen) == []
    eng.submit(1, account=1, instrument=1, side=R.SIDE_BUY, qty=300, price=PX)
    eng.venue(R.ORDER_FILLED, 1, price=PX, qty=100, trade_id=11)
    got = position_changes(eng, seen)
    assert [s for s, _ in got] == ["positions.binance.spot.BTCUSDT"]
    rep = got[0][1]
    assert (rep.account, rep.instrument, rep.qty, rep.avg_price, rep.fills) == (1, 1, "0.001", "100000", 1)
    assert position_changes(eng, seen) == []  # nothing new
    eng.venue(R.ORDER_FILLED, 1, price=PX + 100, qty=100, trade_id=12)
    eng.venue(R.ORDER_FILLED, 1, price=PX + 200, qty=100, trade_id=13)
    ((_, rep),) = position_changes(eng, seen)  # two fills, one report that says so
    assert rep.fills == 3 and rep.qty == "0.003" and rep.avg_price == "100001"
