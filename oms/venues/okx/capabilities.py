"""Venues room (okx): what OKX v5 does natively, per market — data only (adapter not built yet)."""

from __future__ import annotations

from oms.venues.interface import Capabilities

_COMMON = {
    "max_batch": 20,
    "max_cancel_batch": 20,
    "native_modify": True,
    "native_stop": True,
    "native_take_profit": True,
    "native_oco": True,
    "native_trailing": True,
    "post_only": True,
    "cancel_all": False,
    "time_in_force": ("gtc", "ioc", "fok", "gtx"),
    "max_client_id_len": 32,
}

CAPABILITIES: dict[str, Capabilities] = {
    "spot": Capabilities(
        venue="okx", market="spot", reduce_only=False, hedge_mode=False, positions=False, **_COMMON
    ),  # type: ignore[arg-type]
    "linear": Capabilities(
        venue="okx", market="linear", reduce_only=True, hedge_mode=True, positions=True, **_COMMON
    ),  # type: ignore[arg-type]
    "inverse": Capabilities(
        venue="okx", market="inverse", reduce_only=True, hedge_mode=True, positions=True, **_COMMON
    ),  # type: ignore[arg-type]
}
