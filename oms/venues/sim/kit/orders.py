"""Simulator kit room: the simulated order, the conditional order held outside the book, a fill and a
public print — venue-neutral records the matching core works on and a venue renders.

Touches nothing. Prices are int ticks, quantities int lots. `type`, `tif`, `status` and `orig_type` are
the venue's own words (rendered as they are); the core decides only on the neutral flags a venue's
order builder sets: `limit` (has a limit price: caps matching, may rest), `post_only`, `trigger_dir`
(+1 fires when the reference price rises to `stop_price`, -1 when it falls to it, 0 = not conditional).
Statuses the core sets: NEW, PARTIALLY_FILLED, FILLED, CANCELED, EXPIRED, EXPIRED_IN_MATCH.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from oms.venues.sim.kit.spec import SymbolSpec

ZERO = Decimal(0)
OPEN = ("NEW", "PARTIALLY_FILLED")


def triggered(direction: int, price: int, trigger: int) -> bool:
    """A conditional with `direction` fires at reference `price` (ticks) against `trigger` (ticks)."""
    return price >= trigger if direction > 0 else price <= trigger


@dataclass
class Fill:
    """One side of one trade, as the account that traded sees it."""

    trade_id: int
    order_id: int
    symbol: str
    side: int
    price: int  # ticks
    lots: int
    quote: Decimal
    fee: Decimal
    fee_asset: str
    maker: bool
    realized_pnl: Decimal
    time: int
    position_side: str = "BOTH"


@dataclass
class Print:
    """One public trade (the tape)."""

    trade_id: int
    price: int
    lots: int
    quote: Decimal
    time: int
    buyer_maker: bool


@dataclass(eq=False)
class Order:
    order_id: int
    market: str
    spec: SymbolSpec
    account: Any  # accounts.Account
    client_id: str
    side: int  # +1 buy, -1 sell
    type: str
    tif: str
    price: int  # ticks; 0 for market orders
    qty: int  # lots
    time: int
    stop_price: int = 0
    reduce_only: bool = False
    position_side: str = "BOTH"  # BOTH (one-way) or LONG / SHORT (hedge mode)
    quote_order_qty: Decimal = ZERO  # spot market orders sized in the quote asset
    working_type: str = "CONTRACT_PRICE"
    close_position: bool = False
    stp_mode: str = "NONE"  # NONE / EXPIRE_TAKER / EXPIRE_MAKER / EXPIRE_BOTH
    executed: int = 0
    cum_quote: Decimal = ZERO
    status: str = "NEW"
    update_time: int = 0
    working_time: int = -1
    is_working: bool = True
    locked: Decimal = ZERO  # spot: balance still locked for this order
    lock_asset: str = ""
    orig_type: str = ""
    algo_id: int = 0
    fills: list[Fill] = field(default_factory=list)
    reject_reason: str = "NONE"
    realized_pnl: Decimal = ZERO
    limit: bool = False
    post_only: bool = False
    trigger_dir: int = 0

    @property
    def leaves(self) -> int:
        return self.qty - self.executed

    @property
    def side_name(self) -> str:
        return "BUY" if self.side > 0 else "SELL"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN

    @property
    def is_market(self) -> bool:
        return not self.limit and not self.trigger_dir

    def px(self, ticks: int) -> Decimal:
        return self.spec.tick * ticks

    def lots(self, lots: int) -> Decimal:
        return self.spec.step * lots


@dataclass(eq=False)
class AlgoOrder:
    """A conditional order held outside the book until its trigger (stop, take-profit, trailing).

    When it fires the core submits an ordinary order (market, or limit at `price`)."""

    algo_id: int
    client_algo_id: str
    account: Any
    spec: SymbolSpec
    side: int
    order_type: str  # the venue's word, e.g. STOP_MARKET
    qty: int
    price: int
    trigger: int
    working_type: str  # CONTRACT_PRICE (last trade) or MARK_PRICE
    reduce_only: bool
    close_position: bool
    tif: str
    time: int
    status: str = "NEW"
    actual_order_id: int = 0
    position_side: str = "BOTH"
    callback_rate: Decimal = ZERO  # trailing: retrace in percent
    activate: int = 0  # trailing: activation price in ticks (0 = active at once)
    extreme: int = 0  # best price seen since activation (high for a SELL, low for a BUY)
    trigger_dir: int = 0
    is_market: bool = True
    trailing: bool = False

    def trail_fires(self, ref: int) -> bool:
        """Track the extreme; True when the price has retraced callback_rate % from it."""
        if not self.extreme:
            if self.activate and (ref < self.activate if self.side < 0 else ref > self.activate):
                return False
            self.extreme = ref
        if self.side < 0:
            self.extreme = max(self.extreme, ref)
            return ref <= self.extreme * (1 - self.callback_rate / 100)
        self.extreme = min(self.extreme, ref)
        return ref >= self.extreme * (1 + self.callback_rate / 100)
