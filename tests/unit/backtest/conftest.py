"""Backtest unit fixtures: hand-made tapes and a scripted strategy (a real Strategy, driven by a list)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from oms.backtest.runner import Context
from oms.backtest.tape import T0_NS, Tape, TapeInstrument
from oms.shm import records as R

MS = 1_000_000


def bbo(t_ms: float, bid: int, ask: int, instrument: int = 1) -> tuple:
    return (R.MD_BBO, t_ms, bid, 10, ask, 10, instrument, 0)


def trade(t_ms: float, px: int, qty: int, side: int = R.SIDE_SELL, instrument: int = 1) -> tuple:
    return (R.MD_TRADE, t_ms, px, qty, 0, 0, instrument, side)


def make_tape(rows: list[tuple], **inst: str) -> Tape:
    out = np.zeros(len(rows), R.MARKET)
    for j, (kind, t_ms, px, q, apx, aq, i, side) in enumerate(rows):
        r = out[j]
        r["kind"], r["instrument"], r["side"] = kind, i, side
        r["price"], r["qty"], r["ask_price"], r["ask_qty"] = px, q, apx, aq
        r["ts_ns"] = r["ts_venue_ns"] = T0_NS + int(t_ms * MS)
        r["seq"] = j + 1
    return Tape(out, [TapeInstrument(id=1, **inst)])


class Scripted:
    """Sends `plan[j](ctx)` when it sees tape record j; keeps every engine event it is given."""

    def __init__(self, plan: dict[int, Callable[[Context], list]]) -> None:
        self.plan = plan
        self.events: list[np.void] = []
        self.j = 0
        self.ctx: Context | None = None

    def on_start(self, ctx: Context) -> None:
        self.ctx = ctx

    def on_market(self, rec: np.void) -> list:
        f = self.plan.get(self.j)
        self.j += 1
        return f(self.ctx) if f and self.ctx else []

    def on_event(self, ev: np.void) -> None:
        self.events.append(ev.copy())

    def kinds(self, coid: int) -> list[str]:
        return [R.KIND_NAMES[int(e["kind"])] for e in self.events if e["client_order_id"] == coid]

    def fills(self) -> list[tuple[int, int, int]]:
        return [
            (int(e["price"]), int(e["qty"]), int(e["liquidity"]))
            for e in self.events
            if e["kind"] == R.ORDER_FILLED
        ]
