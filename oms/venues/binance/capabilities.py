"""Venues room (binance): what Binance does natively, per market — data, not code paths. Touches nothing."""

from __future__ import annotations

from oms.venues.interface import Capabilities

CAPABILITIES: dict[str, Capabilities] = {
    "spot": Capabilities(
        venue="binance",
        market="spot",
        max_batch=0,
        max_cancel_batch=0,
        native_modify=True,
        modify_keeps_priority=True,  # amend/keepPriority: quantity down only; price changes use cancelReplace
        native_stop=True,
        native_take_profit=True,
        native_oco=True,
        native_trailing=False,  # emulated by the engine (oms/engine/conditional.py): no trailing type is sent
        post_only=True,
        reduce_only=False,
        hedge_mode=False,
        cancel_all=True,
        positions=False,
        order_types=(
            "limit",
            "market",
            "stop_market",
            "stop_limit",
            "take_profit_market",
            "take_profit_limit",
        ),
        time_in_force=("gtc", "ioc", "fok"),
        max_client_id_len=36,
    ),
    "usdm": Capabilities(
        venue="binance",
        market="usdm",
        max_batch=5,
        max_cancel_batch=10,
        native_modify=True,
        modify_keeps_priority=False,
        native_stop=True,
        native_take_profit=True,
        native_oco=False,
        native_trailing=False,  # emulated by the engine (oms/engine/conditional.py): no trailing type is sent
        post_only=True,
        reduce_only=True,
        hedge_mode=True,
        cancel_all=True,
        positions=True,
        order_types=(
            "limit",
            "market",
            "stop_market",
            "stop_limit",
            "take_profit_market",
            "take_profit_limit",
            "trailing_stop_market",
        ),
        time_in_force=("gtc", "ioc", "fok", "gtx"),
        max_client_id_len=36,
    ),
}
