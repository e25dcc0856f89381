"""Simulator kit room: one tradable symbol of one simulated market (tick, step, filters, start price).

Touches nothing. Plain data: a venue simulator's config builds these; the matching core, the flow and
the venue's filters and instrument endpoints read them. `market` is the venue's own market name
("spot", "usdm", "linear", ...).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

D = Decimal
_0_01 = D("0.01")
_1E6 = D("1000000")
_5 = D("5")
_0_2 = D("0.2")


@dataclass(frozen=True)
class SymbolSpec:
    """One tradable symbol of one market."""

    symbol: str
    market: str
    base: str
    quote: str
    tick: Decimal
    step: Decimal
    min_qty: Decimal
    max_qty: Decimal
    min_notional: Decimal
    max_notional: Decimal
    start_price: Decimal
    min_price: Decimal = _0_01
    max_price: Decimal = _1E6
    multiplier_up: Decimal = _5
    multiplier_down: Decimal = _0_2
    max_num_orders: int = 200
    max_num_algo_orders: int = 5
    contract_type: str = ""  # PERPETUAL / CURRENT_QUARTER for derivatives
    delivery_date: int = 4133404800000
    status: str = "TRADING"

    @property
    def price_precision(self) -> int:
        return max(0, -self.tick.normalize().as_tuple().exponent)  # type: ignore[operator]

    @property
    def qty_precision(self) -> int:
        return max(0, -self.step.normalize().as_tuple().exponent)  # type: ignore[operator]
