"""Backtest room: the njit kernel behind fastpath.equity_path — one held instrument's unrealised PnL
after each record of a tape run, added to the equity path in one pass.

Touches only the arrays it is given. Self-contained (imports nothing of oms, so Numba's own per-file
cache key is enough; oms/shm/jitcache.py SELF_CONTAINED). The rule is oms/engine/positions.py::revalue:
reference = mark, else BBO mid (both sides > 0), else last; unrealised = to_e8((ref·|qty| − cost)·sign),
rounded toward zero; 0 while there is no reference price. Record kinds come in as arguments.
"""

from __future__ import annotations

from numba import njit


@njit(cache=True, nogil=True)
def add_unrealised(kind, inst, px, apx, i, bid, ask, last, mark, aq, sgn, cost, mult, div, unreal0,  # type: ignore[no-untyped-def]
                   k_bbo, k_trade, k_mark, eq):  # fmt: skip
    """eq[j] += unrealised of instrument i after record j − unreal0 (its unrealised before the run)."""
    for j in range(len(kind)):
        if inst[j] == i:
            k = kind[j]
            if k == k_bbo:
                if px[j] > 0:
                    bid = px[j]
                if apx[j] > 0:
                    ask = apx[j]
            elif k == k_trade:
                last = px[j]
            elif k == k_mark:
                mark = px[j]
        if mark > 0:
            ref = mark
        elif bid > 0 and ask > 0:
            ref = (bid + ask) // 2
        else:
            ref = last
        u = 0
        if ref > 0:
            x = (ref * aq - cost) * sgn
            if div == 1:
                u = x * mult
            else:
                ax = -x if x < 0 else x
                r = (ax // div) * mult + (ax % div) * mult // div
                u = r if x >= 0 else -r
        eq[j] += u - unreal0
