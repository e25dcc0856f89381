"""The batched market path gives the same report as record-by-record engine calls (it is only a
speed-up): taker, market maker, engine-emulated stops, a daily-loss limit, with and without latency."""

from __future__ import annotations

import numpy as np
import pytest

from oms.backtest import tape as T
from oms.backtest.runner import Backtest, Config
from oms.backtest.strategies import MovingAverageCross, QuotingMarketMaker
from oms.engine import constants as C
from oms.shm import records as R


class StopLadder(MovingAverageCross):
    """The taker, plus an engine-emulated protective stop behind every entry (triggers from the tape)."""

    def on_market(self, rec: np.void) -> list[np.void]:
        out = super().on_market(rec)
        if out and self.ctx is not None:
            c = out[0]
            side = -int(c["side"])
            ref = int(rec["price"])
            out.append(self.ctx.order(side=side, qty=int(c["qty"]) // 2, order_type=R.ORD_STOP_MARKET,
                                      trigger_price=ref + side * 40))  # fmt: skip
        return out


def _tape(n: int = 6000, seed: int = 21) -> T.Tape:
    return T.Tape(T.synth(n, seed=seed, vol_ticks=4.0), [T.TapeInstrument(id=1)])


@pytest.mark.parametrize(
    "make,latency,limits,check",
    [
        (lambda: MovingAverageCross(fast=5, slow=30, qty=50), [], [], None),
        (lambda: MovingAverageCross(fast=5, slow=30, qty=50), ["all=lognormal:2ms,0.7"], [], None),
        (lambda: QuotingMarketMaker(), ["all=const:300us"], [], None),
        # stops held by the engine: market data must go record by record while one is held
        (lambda: StopLadder(fast=5, slow=30, qty=50), ["to_venue=const:1ms"], [],
         lambda r: r["engine"]["triggers"] > 0),
        # a 3-quote daily-loss halt: the kill switch fires from a market record
        (lambda: MovingAverageCross(fast=5, slow=30, qty=50), [], [(C.L_DAILY_LOSS_HALT, 1, 300_000_000)],
         lambda r: r["reject_reasons"].get("risk.trading_halted", 0) > 0),
    ],
)  # fmt: skip
def test_batched_and_record_by_record_reports_are_identical(make, latency, limits, check):
    tape = _tape()
    reps = []
    for batch in (True, False):
        bt = Backtest(tape, make(), Config(latency=latency, seed=5, limits=limits, batch_market=batch))
        reps.append(bt.run().to_dict())
        assert bt.batching == batch  # the batched path never had to fall back
    assert reps[0] == reps[1]
    assert reps[0]["fills"] > 0 and reps[0]["max_drawdown"] != "0.00000000"
    assert check is None or check(reps[0])
