"""Backtest room: the batched market-data path — runs of tape records go to the engine in one call
when the engine provably answers market data with nothing, and the equity curve inside the run is
rebuilt here with the engine's own valuation rule (the njit kernel in equity.py), so the report does
not change.

Touches nothing; reads the Engine's state arrays (`s.inst` emu_head/bid/ask/last/mark/mult/div,
`s.limits` daily-loss rows, `s.pos` qty/cost/realised/fees/unrealised). Why it is exact: the engine's
market handler (oms/engine/venue.py::on_market) stages output only from the loss-limit check (needs a
daily-loss limit) and the conditional-order scan (needs an emulated order on the instrument,
emu_head >= 0); without either, N single-record calls and one N-record call leave identical state.
Valuation = oms/engine/positions.py::revalue: reference = mark, else BBO mid, else last; unrealised =
to_e8((ref·|qty| − cost)·sign), rounded toward zero. The runner checks the last rebuilt equity
against the engine's after every batch and stops batching (with a warning) if they ever differ.
tests/unit/backtest/test_fastpath.py runs both paths and compares the whole report.
"""

from __future__ import annotations

import numpy as np

from oms.backtest import equity as EQ
from oms.engine import constants as C
from oms.engine.core import Engine
from oms.shm import records as R


def quiet(e: Engine, account: int) -> bool:
    """True when market records cannot make the engine stage anything for this run."""
    s = e.s
    if (s.inst["emu_head"] >= 0).any():
        return False
    lim = s.limits
    return bool(
        lim[C.L_DAILY_LOSS_REDUCE, account] >= C.NO_LIMIT and lim[C.L_DAILY_LOSS_HALT, account] >= C.NO_LIMIT
    )


def equity_path(e: Engine, account: int, recs: np.ndarray) -> np.ndarray:
    """Equity (realised − fees + unrealised, 1e-8 quote) after each of `recs`, which the engine has
    NOT yet applied; positions do not change inside the run (no fills reach the engine in it)."""
    s = e.s
    p = s.pos[account]
    base = int(p["realised"].sum() - p["fees"].sum() + p["unrealised"].sum())
    eq = np.full(len(recs), base, np.int64)
    held = np.nonzero(p["qty"])[0]
    if len(held) == 0 or len(recs) == 0:
        return eq
    kind, inst = recs["kind"].astype(np.int64), recs["instrument"].astype(np.int64)
    px, apx = recs["price"].astype(np.int64), recs["ask_price"].astype(np.int64)
    for i in held.tolist():
        ins = s.inst[i]
        q = int(p[i]["qty"])
        EQ.add_unrealised(
            kind, inst, px, apx, i, int(ins["bid"]), int(ins["ask"]), int(ins["last"]), int(ins["mark"]),
            abs(q), 1 if q > 0 else -1, int(p[i]["cost"]), int(ins["mult"]), int(ins["div"]),
            int(p[i]["unrealised"]), R.MD_BBO, R.MD_TRADE, R.MD_MARK, eq,
        )  # fmt: skip
    return eq
