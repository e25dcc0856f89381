"""Engine room: the [risk] section configs/oms.toml ships — every limit on, each one documented, the
engine enforcing them once loaded, and an off limit only by writing 0 (named in the start-up warning)."""

from __future__ import annotations

import re
from pathlib import Path

import msgspec

from oms import ids
from oms.config import load
from oms.engine import constants as C
from oms.engine import settings as ES
from oms.shm import records as R
from tests.unit.engine.conftest import PX, make_engine

SHIPPED = Path(__file__).resolve().parents[3] / "configs" / "oms.toml"


def test_shipped_limits_are_on_documented_and_per_venue() -> None:
    st: ES.Settings = load(SHIPPED, env={}).section("risk")
    assert ES.validate(st) == []
    assert ES.off_limits(st) == []
    text = SHIPPED.read_text().split("[risk]", 1)[1]
    for key in ("max_order_qty", "max_order_notional", "max_position_qty", "max_position_notional",
                "price_deviation_bps", "daily_loss_reduce", "daily_loss_halt", "order_rate_per_account",
                "order_rate_per_venue"):  # fmt: skip
        line = next(ln for ln in text.splitlines() if ln.startswith(f"{key} ="))
        assert "#" in line, f"{key} has no comment saying what it limits"
    for venue in ("binance", "bybit", "okx"):
        assert st.venue[venue].order_rate > 0
        assert re.search(rf"\[risk\.venue\.{venue}\]\norder_rate = \d+ +# .*orders", text), venue
    assert ES.off_limits(msgspec.structs.replace(st, daily_loss_halt="0", order_rate_per_venue=0)) == [
        "daily_loss_halt",
        "order_rate_per_venue",
    ]


def test_engine_enforces_the_shipped_limits() -> None:
    st: ES.Settings = load(SHIPPED, env={}).section("risk")
    e = make_engine()
    e.apply_settings(st)
    e.md(R.MD_BBO, 1, PX, PX + 100)  # BTCUSDT 100000.00 / 100001.00 (0.01 ticks, 0.00001 lots)
    lim = e.s.limits
    assert lim[C.L_RATE_VENUE, ids.VENUES["binance"]] == 10
    assert lim[C.L_MAX_ORDER_NOTIONAL, 1] == 250_000 * 100_000_000

    def reason(coid: int, qty: int, price: int = PX) -> int:
        out = e.submit(coid, account=1, instrument=1, side=R.SIDE_BUY, qty=qty, price=price)
        return int(out.events[0]["reason"])

    assert reason(1, 100_000) == C.R_NONE  # 1 BTC: 100k USDT
    assert reason(2, 300_000) == C.R_MAX_ORDER_NOTIONAL  # 3 BTC: 300k USDT > 250k
    assert reason(3, 1_000, price=PX * 2) == C.R_PRICE_DEVIATION  # 100% away from the BBO
    rates = [reason(10 + i, 10) for i in range(12)]  # 10/s on the venue, burst one second's worth
    assert C.R_RATE_VENUE in rates and rates.count(C.R_NONE) <= 10
