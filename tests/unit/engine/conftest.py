"""Engine unit fixtures: an Engine with three instruments on two venues, two accounts, a fixed clock."""

from __future__ import annotations

import pytest

from oms.engine.core import Engine
from oms.engine.instruments import InstrumentSpec, scale_fraction
from oms.shm import records as R

PX = 10_000_000  # 100000.00 in 0.01 ticks
NOW = 1_800_000_000_000_000_000


def make_engine(**kw: int) -> Engine:
    e = Engine(clock=False, capacity=kw.pop("capacity", 1024), n_accounts=4, n_instruments=8, **kw)
    e.now_ns = NOW
    m, d = scale_fraction("0.01", "0.00001")  # 10 / 1: one tick*lot = 1e-7 quote = 10 units of 1e-8
    e.add_instrument(InstrumentSpec(1, 1, 1, m, d, "BTC", "USDT", "BTCUSDT", lot_size=R_LOT))
    e.add_instrument(InstrumentSpec(2, 1, 2, m, d, "BTC", "USDT", "BTCUSDT-PERP", lot_size=R_LOT))
    m2, d2 = scale_fraction("0.01", "0.001")
    e.add_instrument(InstrumentSpec(3, 2, 4, m2, d2, "ETH", "USDT", "ETHUSDT", lot_size=R_LOT * 100))
    e.add_account(1)
    e.add_account(2)
    return e


from decimal import Decimal  # noqa: E402

R_LOT = Decimal("0.00001")


@pytest.fixture
def eng() -> Engine:
    e = make_engine()
    e.md(R.MD_BBO, 1, PX, PX + 100)
    e.md(R.MD_BBO, 2, PX, PX + 100)
    e.md(R.MD_BBO, 3, 300_000, 300_010)
    return e
