"""Simulator kit room: synthetic order flow so books move (seeded random walk with liquidity).

Touches only the cores it is given. A market maker (an `unlimited` account) keeps `book_levels`
levels each side around a mid that random-walks; now and then a small taker order trades, which moves
the last price, prints aggTrades and fills whatever rests at the touch (including users' orders).
Driven by `step()`; the server calls it every `flow_interval_ms`, tests may call it directly.
"""

from __future__ import annotations

import random

from oms.venues.sim.kit.accounts import Accounts
from oms.venues.sim.kit.errors import SimError
from oms.venues.sim.kit.matching import MarketCore
from oms.venues.sim.kit.orders import Order


class Flow:
    def __init__(self, cores: list[MarketCore], accounts: Accounts, rng: random.Random, levels: int) -> None:
        self.cores = cores
        self.maker = accounts.maker
        self.rng = rng
        self.levels = levels
        self.mid: dict[tuple[str, str], int] = {}
        self.quotes: dict[tuple[str, str], dict[tuple[int, int], Order]] = {}
        self.steps = 0
        for core in cores:
            for sym, spec in core.specs.items():
                self.mid[(core.market, sym)] = int(spec.start_price / spec.tick)
                self.quotes[(core.market, sym)] = {}
        self._requote_all()

    def _spacing(self, core: MarketCore, sym: str, mid: int) -> int:
        return max(1, mid // 20000)  # ~0.5 bp per level

    def _lots(self, core: MarketCore, sym: str, mid: int) -> int:
        spec = core.specs[sym]
        notional = 2000 * (0.5 + 1.5 * self.rng.random())
        lots = int(notional / float(spec.tick * mid) / float(spec.step))
        return max(lots, int(spec.min_qty / spec.step), 1)

    def _place(
        self,
        core: MarketCore,
        sym: str,
        side: int,
        price: int,
        lots: int,
        otype: str = "LIMIT",
        tif: str = "GTC",
    ) -> Order | None:
        o = core.new_order(
            order_id=core.new_id(),
            market=core.market,
            spec=core.specs[sym],
            account=self.maker,
            client_id=f"mm{core.next_id}",
            side=side,
            type=otype,
            tif=tif,
            price=price,
            qty=lots,
            time=core.clock(),
            orig_type=otype,
            limit=otype == "LIMIT",
        )
        try:
            core.submit(o)
        except SimError:
            return None
        return o

    def _requote(self, core: MarketCore, sym: str) -> None:
        key = (core.market, sym)
        if core.status[sym] != "TRADING":
            return
        mid = self.mid[key]
        sp = self._spacing(core, sym, mid)
        want = {(1, mid - sp * i) for i in range(1, self.levels + 1)}
        want |= {(-1, mid + sp * i) for i in range(1, self.levels + 1)}
        quotes = self.quotes[key]
        for k, o in list(quotes.items()):
            if not o.is_open or k not in want:
                if o.is_open:
                    core.cancel(o)
                del quotes[k]
        for side, px in sorted(want, key=lambda t: abs(t[1] - mid)):
            if (side, px) not in quotes and px > 0:
                o = self._place(core, sym, side, px, self._lots(core, sym, mid))
                if o is not None and o.is_open:
                    quotes[(side, px)] = o

    def _requote_all(self) -> None:
        for core in self.cores:
            for sym in core.specs:
                self._requote(core, sym)

    def step(self) -> None:
        """One tick: move every mid, trade a little, requote, refresh marks."""
        self.steps += 1
        for core in self.cores:
            for sym in core.specs:
                key = (core.market, sym)
                mid = self.mid[key]
                move = round(self.rng.gauss(0.0, max(1.0, mid * 0.00005)))
                self.mid[key] = max(self.levels * 4, mid + move)
                if self.rng.random() < 0.3 and core.status[sym] == "TRADING":
                    side = 1 if self.rng.random() < 0.5 else -1
                    self._place(core, sym, side, 0, self._lots(core, sym, mid) // 3 or 1, "MARKET", "GTC")
                self._requote(core, sym)
            core.update_marks()
