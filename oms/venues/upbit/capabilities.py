"""Venues room (upbit): what Upbit does natively — data only (adapter not built yet)."""

from __future__ import annotations

from oms.venues.interface import Capabilities

CAPABILITIES: dict[str, Capabilities] = {
    "spot": Capabilities(
        venue="upbit",
        market="spot",
        max_batch=0,
        native_modify=False,
        native_stop=False,
        native_take_profit=False,
        post_only=True,
        reduce_only=False,
        cancel_all=False,
        positions=False,
        order_types=("limit", "market"),
        time_in_force=("gtc", "ioc", "fok"),
        max_client_id_len=40,
    ),
}
