"""Simulator kit room: one price-time priority order book with depth-diff bookkeeping.

Touches nothing outside the simulator. Prices are int ticks and quantities int lots, so matching is
exact; `BookOrder` is any object with `price`, `leaves` and `order_id`. Every level change bumps
`update_id`; `take_diff()` hands the changed levels since the last diff (U..u) to the depth streams, so
a REST snapshot taken right after a `take_diff()` has `lastUpdateId` equal to an emitted `u`.
"""

from __future__ import annotations

import bisect
from collections import deque
from dataclasses import dataclass, field
from typing import Protocol


class BookOrder(Protocol):
    order_id: int
    price: int
    leaves: int
    side: int  # +1 buy, -1 sell


@dataclass
class Diff:
    first_id: int
    last_id: int
    bids: list[tuple[int, int]]
    asks: list[tuple[int, int]]


@dataclass
class Book:
    bids: dict[int, deque] = field(default_factory=dict)
    asks: dict[int, deque] = field(default_factory=dict)
    bid_px: list[int] = field(default_factory=list)  # ascending; best bid is last
    ask_px: list[int] = field(default_factory=list)  # ascending; best ask is first
    level_qty: dict[tuple[int, int], int] = field(default_factory=dict)
    update_id: int = 1
    _pending: dict[tuple[int, int], int] = field(default_factory=dict)
    _first_pending: int = 0
    last_emitted: int = 1

    # ------------------------------------------------------------------ levels
    def _touch(self, side: int, price: int) -> None:
        self.update_id += 1
        if not self._pending:
            self._first_pending = self.update_id
        self._pending[(side, price)] = self.level_qty.get((side, price), 0)

    def add(self, order: BookOrder) -> None:
        side_map = self.bids if order.side > 0 else self.asks
        prices = self.bid_px if order.side > 0 else self.ask_px
        q = side_map.get(order.price)
        if q is None:
            q = deque()
            side_map[order.price] = q
            bisect.insort(prices, order.price)
        q.append(order)
        key = (order.side, order.price)
        self.level_qty[key] = self.level_qty.get(key, 0) + order.leaves
        self._touch(order.side, order.price)

    def reduce(self, order: BookOrder, lots: int) -> None:
        """The order's resting quantity shrank by `lots` (fill or amend-down); removes it at zero."""
        key = (order.side, order.price)
        self.level_qty[key] = self.level_qty.get(key, 0) - lots
        if order.leaves <= 0:
            self._remove_from_queue(order)
        self._touch(order.side, order.price)

    def remove(self, order: BookOrder) -> None:
        key = (order.side, order.price)
        self.level_qty[key] = self.level_qty.get(key, 0) - order.leaves
        self._remove_from_queue(order)
        self._touch(order.side, order.price)

    def _remove_from_queue(self, order: BookOrder) -> None:
        side_map = self.bids if order.side > 0 else self.asks
        prices = self.bid_px if order.side > 0 else self.ask_px
        q = side_map.get(order.price)
        if q is None:
            return
        try:
            q.remove(order)
        except ValueError:
            return
        if not q:
            del side_map[order.price]
            i = bisect.bisect_left(prices, order.price)
            if i < len(prices) and prices[i] == order.price:
                prices.pop(i)
            self.level_qty.pop((order.side, order.price), None)

    # ------------------------------------------------------------------ queries
    def best_bid(self) -> int | None:
        return self.bid_px[-1] if self.bid_px else None

    def best_ask(self) -> int | None:
        return self.ask_px[0] if self.ask_px else None

    def best_queue(self, side: int) -> deque | None:
        """The queue a taker of `side` would hit first (asks for a buy)."""
        if side > 0:
            return self.asks[self.ask_px[0]] if self.ask_px else None
        return self.bids[self.bid_px[-1]] if self.bid_px else None

    def levels(self, side: int, limit: int) -> list[tuple[int, int]]:
        pxs = self.bid_px[::-1][:limit] if side > 0 else self.ask_px[:limit]
        return [(p, self.level_qty.get((side, p), 0)) for p in pxs]

    def crossing_lots(self, side: int, limit_px: int | None, max_lots: int) -> int:
        """Lots available to a taker of `side` up to `limit_px` (None = any price), capped at max_lots."""
        total = 0
        if side > 0:
            for p in self.ask_px:
                if limit_px is not None and p > limit_px:
                    break
                total += self.level_qty.get((-1, p), 0)
                if total >= max_lots:
                    return max_lots
        else:
            for p in reversed(self.bid_px):
                if limit_px is not None and p < limit_px:
                    break
                total += self.level_qty.get((1, p), 0)
                if total >= max_lots:
                    return max_lots
        return total

    # ------------------------------------------------------------------ depth diffs
    def take_diff(self) -> Diff | None:
        """Changed levels since the last call (absolute quantities; 0 = removed), or None."""
        if not self._pending:
            return None
        bids = sorted(((p, q) for (s, p), q in self._pending.items() if s > 0), reverse=True)
        asks = sorted((p, q) for (s, p), q in self._pending.items() if s < 0)
        # a level's final quantity is what the book holds now
        bids = [(p, self.level_qty.get((1, p), 0)) for p, _ in bids]
        asks = [(p, self.level_qty.get((-1, p), 0)) for p, _ in asks]
        diff = Diff(self._first_pending, self.update_id, bids, asks)
        self._pending = {}
        self.last_emitted = self.update_id
        return diff
