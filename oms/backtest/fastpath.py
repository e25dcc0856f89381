"""Backtest room: the batched market-data path — runs of tape records go to the engine in one call
when the engine provably answers market data with nothing, and the equity curve inside the run is
rebuilt here with the engine's own valuation rule, so the report does not change.

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


def _ffill(vals: np.ndarray, valid: np.ndarray, init: int) -> np.ndarray:
    idx = np.where(valid, np.arange(len(vals)), -1)
    np.maximum.accumulate(idx, out=idx)
    return np.where(idx >= 0, vals[np.maximum(idx, 0)], init)


def _to_e8(x: np.ndarray, mult: int, div: int) -> np.ndarray:
    if div == 1:
        return x * mult
    ax = np.abs(x)
    r = (ax // div) * mult + (ax % div) * mult // div
    return np.where(x >= 0, r, -r)


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
    kind, inst = recs["kind"], recs["instrument"]
    px, apx = recs["price"].astype(np.int64), recs["ask_price"].astype(np.int64)
    for i in held:
        ins = s.inst[i]
        mine = inst == i
        bbo = mine & (kind == R.MD_BBO)
        bid = _ffill(px, bbo & (px > 0), int(ins["bid"]))
        ask = _ffill(apx, bbo & (apx > 0), int(ins["ask"]))
        last = _ffill(px, mine & (kind == R.MD_TRADE), int(ins["last"]))
        mark = _ffill(px, mine & (kind == R.MD_MARK), int(ins["mark"]))
        ref = np.where(mark > 0, mark, np.where((bid > 0) & (ask > 0), (bid + ask) // 2, last))
        q = int(p[i]["qty"])
        aq, sgn = abs(q), (1 if q > 0 else -1)
        unreal = np.where(
            ref > 0, _to_e8((ref * aq - int(p[i]["cost"])) * sgn, int(ins["mult"]), int(ins["div"])), 0
        )
        eq += unreal - int(p[i]["unrealised"])
    return eq
