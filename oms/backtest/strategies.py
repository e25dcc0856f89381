"""Backtest room: two example strategies for `oms backtest run --strategy oms.backtest.strategies:NAME`.

Touches nothing but its own fields; builds COMMAND records through the backtest Context.

- `MovingAverageCross`: a taker. Simple moving averages of the BBO mid over `fast` and `slow`
  updates; when fast crosses above slow it buys at market up to +`qty` lots, below → sells to −`qty`.
  One order in flight at a time.
- `QuotingMarketMaker`: quotes one bid and one ask `half_spread` ticks around the mid, skewed
  against inventory by `skew` ticks per `qty`; requotes (cancel + new) when the wanted price moves
  `requote` ticks or more; stops quoting the side that would pass ±`max_position` lots.
"""

from __future__ import annotations

from collections import deque

import numpy as np

from oms.backtest.runner import Context
from oms.shm import records as R


class MovingAverageCross:
    market_kinds = frozenset({R.MD_BBO})  # the runner skips the other records (it returns [] for them)

    def __init__(self, fast: int = 20, slow: int = 80, qty: int = 100) -> None:
        if not 1 <= fast < slow:
            raise ValueError(f"MovingAverageCross: need 1 <= fast < slow, got fast={fast} slow={slow}")
        self.fast, self.slow, self.qty = fast, slow, qty
        self.win: deque[int] = deque(maxlen=slow)
        self.sum_fast = self.sum_slow = 0
        self.prev = 0  # sign of fast - slow at the last update
        self.in_flight = 0
        self.ctx: Context | None = None

    def on_start(self, ctx: Context) -> None:
        self.ctx = ctx

    def on_market(self, rec: np.void) -> list[np.void]:
        if rec["kind"] != R.MD_BBO:
            return []
        bid, ask = int(rec["price"]), int(rec["ask_price"])  # each field read once (a numpy scalar
        if bid <= 0 or ask <= 0:  # field read costs more than the arithmetic below)
            return []
        mid = (bid + ask) // 2
        w = self.win
        if len(w) == self.slow:
            self.sum_slow -= w[0]
        if len(w) >= self.fast:
            self.sum_fast -= w[-self.fast]
        w.append(mid)
        self.sum_slow += mid
        self.sum_fast += mid
        if len(w) < self.slow:
            return []
        # compare fast/slow means without division: fast_sum*slow vs slow_sum*fast
        d = self.sum_fast * self.slow - self.sum_slow * self.fast
        sign = (d > 0) - (d < 0)
        crossed = sign != 0 and sign != self.prev and self.prev != 0
        if sign != 0:
            self.prev = sign
        if not crossed or self.in_flight or self.ctx is None:
            return []
        want = sign * self.qty - self.ctx.position()
        if want == 0:
            return []
        c = self.ctx.market(R.SIDE_BUY if want > 0 else R.SIDE_SELL, abs(want))
        self.in_flight = int(c["client_order_id"])
        return [c]

    def on_event(self, ev: np.void) -> None:
        if int(ev["client_order_id"]) != self.in_flight:
            return
        k = int(ev["kind"])
        if k in (R.ORDER_REJECTED, R.ORDER_CANCELED, R.ORDER_EXPIRED) or (
            k == R.ORDER_FILLED and ev["leaves_qty"] == 0
        ):
            self.in_flight = 0


class QuotingMarketMaker:
    market_kinds = frozenset({R.MD_BBO})

    def __init__(
        self, half_spread: int = 2, qty: int = 10, max_position: int = 50, skew: int = 1, requote: int = 2
    ) -> None:
        self.half_spread, self.qty, self.max_position = half_spread, qty, max_position
        self.skew, self.requote = skew, requote
        self.quotes: dict[int, tuple[int, int]] = {}  # side → (client_order_id, price)
        self.pending_cancel: set[int] = set()
        self.ctx: Context | None = None

    def on_start(self, ctx: Context) -> None:
        self.ctx = ctx

    def on_market(self, rec: np.void) -> list[np.void]:
        ctx = self.ctx
        if ctx is None or rec["kind"] != R.MD_BBO:
            return []
        bid, ask = int(rec["price"]), int(rec["ask_price"])
        if bid <= 0 or ask <= 0:
            return []
        mid2 = bid + ask  # twice the mid, to stay in integers
        pos = ctx.position()
        shift = (pos * self.skew) // max(self.qty, 1)
        want = {
            R.SIDE_BUY: min((mid2 // 2) - self.half_spread - shift, bid),
            R.SIDE_SELL: max((mid2 + 1) // 2 + self.half_spread - shift, ask),
        }
        out: list[np.void] = []
        for side, px in want.items():
            allowed = (pos + side * self.qty) * side <= self.max_position
            cur = self.quotes.get(side)
            if cur is not None and (not allowed or abs(cur[1] - px) >= self.requote):
                if cur[0] not in self.pending_cancel:
                    out.append(ctx.cancel(cur[0]))
                    self.pending_cancel.add(cur[0])
                continue
            if cur is None and allowed:
                c = ctx.limit(side, self.qty, px)
                self.quotes[side] = (int(c["client_order_id"]), px)
                out.append(c)
        return out

    def on_event(self, ev: np.void) -> None:
        coid, k = int(ev["client_order_id"]), int(ev["kind"])
        done = k in (R.ORDER_REJECTED, R.ORDER_CANCELED, R.ORDER_EXPIRED) or (
            k == R.ORDER_FILLED and ev["leaves_qty"] == 0
        )
        if k == R.CANCEL_REJECTED:
            self.pending_cancel.discard(coid)
        if not done:
            return
        self.pending_cancel.discard(coid)
        for side, (c, _) in list(self.quotes.items()):
            if c == coid:
                del self.quotes[side]
