"""Bybit simulator room: position take-profit / stop-loss (tpslMode Full) — set by `takeProfit` /
`stopLoss` on an order when it fills, or by `POST /v5/position/trading-stop`; held as the kit's algo
orders (close the whole position at market when the last price crosses), cancelled when the position
closes.

Touches nothing outside this simulator.
"""

from __future__ import annotations

from oms.venues.sim.kit.accounts import Account
from oms.venues.sim.kit.matching import MarketCore
from oms.venues.sim.kit.orders import AlgoOrder

KINDS = ("TAKE_PROFIT", "STOP_LOSS")


class PositionTpsl:
    def __init__(self, core: MarketCore) -> None:
        self.core = core
        self.legs: dict[tuple[int, str], dict[str, AlgoOrder]] = {}  # (uid, symbol) -> kind -> algo

    def prices(self, account: Account, symbol: str) -> tuple[int, int]:
        legs = self.legs.get((account.uid, symbol), {})
        tp, sl = legs.get("TAKE_PROFIT"), legs.get("STOP_LOSS")
        return (
            tp.trigger if tp and tp.status == "NEW" else 0,
            sl.trigger if sl and sl.status == "NEW" else 0,
        )

    def set(self, account: Account, symbol: str, tp: int | None, sl: int | None) -> None:
        """Place or replace the position's TP / SL (None leaves one as it is, 0 removes it)."""
        core = self.core
        pos = account.position(symbol, core.default_leverage)
        legs = self.legs.setdefault((account.uid, symbol), {})
        for kind, price in (("TAKE_PROFIT", tp), ("STOP_LOSS", sl)):
            if price is None:
                continue
            old = legs.pop(kind, None)
            if old is not None and old.status == "NEW":
                old.status = "CANCELED"
            if not price or not pos.amt:
                continue
            long = pos.amt > 0
            rise = long if kind == "TAKE_PROFIT" else not long  # a long takes profit on a rise
            a = AlgoOrder(
                algo_id=core.new_id(),
                client_algo_id="",
                account=account,
                spec=core.specs[symbol],
                side=-1 if long else 1,
                order_type=kind,
                qty=0,
                price=0,
                trigger=price,
                working_type="CONTRACT_PRICE",
                reduce_only=True,
                close_position=True,
                tif="IOC",
                time=core.clock(),
                trigger_dir=1 if rise else -1,
            )
            legs[kind] = a
            core.algos[a.algo_id] = a

    def position_changed(self, account: Account, symbol: str) -> None:
        """A flat position keeps no TP / SL."""
        if not account.position(symbol, self.core.default_leverage).amt:
            for a in self.legs.pop((account.uid, symbol), {}).values():
                if a.status == "NEW":
                    a.status = "CANCELED"
