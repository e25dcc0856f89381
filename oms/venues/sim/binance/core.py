"""Binance simulator room: Binance's rules for the kit's matching core — the error tables (the kit's
named reject reasons → Binance's code and message, per market) and the two cores (spot, USD-M).

Touches nothing outside this simulator. Matching, settlement and triggers are the kit's
(oms/venues/sim/kit/matching.py); this module only says how Binance answers.
"""

from __future__ import annotations

from collections.abc import Callable

from oms.venues.sim.binance.config import SimConfig
from oms.venues.sim.binance.orders import AlgoOrder, Order
from oms.venues.sim.kit.accounts import Accounts
from oms.venues.sim.kit.errors import ErrorTable, SimError
from oms.venues.sim.kit.matching import MarketCore

__all__ = ["SPOT_ERRORS", "USDM_ERRORS", "AlgoOrder", "MarketCore", "SimError", "make_core"]

INSUFFICIENT = "Account has insufficient balance for requested action."
_COMMON: dict[str, tuple[int, str]] = {
    "trigger_immediately": (-2010, "Stop price would trigger immediately."),
    "insufficient_balance": (-2010, INSUFFICIENT),
    "reduce_only_rejected": (-2022, "ReduceOnly Order is rejected."),
    "margin_insufficient": (-2019, "Margin is insufficient."),
    "order_not_found": (-2013, "Order does not exist."),
    "order_not_open": (-2011, "Unknown order sent."),
    "amend_qty_invalid": (
        -2038,
        "The requested quantity must be less than the order's quantity and "
        "greater than its executed quantity.",
    ),
    "modify_qty_too_small": (-4005, "Quantity greater than max quantity."),
    "modify_unchanged": (-5027, "No need to modify the order."),
}
SPOT_ERRORS: ErrorTable = {
    **_COMMON,
    "market_closed": (-2010, "Market is closed."),
    "duplicate_client_id": (-2010, "Duplicate order sent."),
    "max_open_orders": (-1013, "Filter failure: MAX_NUM_ORDERS"),
    "post_only_would_take": (-2010, "Order would immediately match and take."),
    # no fok_unfillable: a spot FOK that cannot fill whole expires
}
USDM_ERRORS: ErrorTable = {
    **_COMMON,
    "market_closed": (-4000, "Market is closed."),
    "duplicate_client_id": (-4015, "Duplicate order sent."),
    "max_open_orders": (-4016, "Filter failure: MAX_NUM_ORDERS"),
    "post_only_would_take": (
        -5022,
        "Due to the order could not be executed as maker, the Post Only order will be rejected.",
    ),
    "fok_unfillable": (
        -5021,
        "Due to the order could not be filled immediately, the FOK order has been rejected.",
    ),
}


def make_core(market: str, cfg: SimConfig, accounts: Accounts, clock: Callable[[], int]) -> MarketCore:
    """The kit's core with Binance's errors, fees, ids and decimals for `market` ("spot" or "usdm")."""
    spot = market == "spot"
    core = MarketCore(
        market,
        cfg.symbols,
        accounts,
        clock,
        derivatives=not spot,
        errors=SPOT_ERRORS if spot else USDM_ERRORS,
        maker_fee=cfg.spot_maker_fee if spot else cfg.futures_maker_fee,
        taker_fee=cfg.spot_taker_fee if spot else cfg.futures_taker_fee,
        default_leverage=cfg.default_leverage,
        first_id=1_000_000 if spot else 8_000_000,
        fixed_places=8 if spot else None,
    )
    core.order_class = Order
    return core
