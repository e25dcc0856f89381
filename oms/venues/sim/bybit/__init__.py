"""Bybit simulator room: a loopback Bybit v5 (REST `/v5/...` for `category=spot|linear`, public and
private WebSockets) built on the simulator kit, that pybit cannot tell from the venue in what it uses.
See docs/simulators.md.

Touches nothing outside `oms/venues/sim/bybit/`; binds 127.0.0.1/::1 only.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from oms.venues.sim.bybit.config import BybitConfig, default_config
from oms.venues.sim.bybit.server import BybitSim
from oms.venues.sim.kit.thread import SimThread

__all__ = ["BybitConfig", "BybitSim", "SimThread", "default_config", "point_pybit", "point_pybit_ws"]


def point_pybit(session: Any, url: str) -> Any:
    """Aim a pybit `HTTP` session at the simulator (its base URL is an instance attribute)."""
    session.endpoint = url.rstrip("/")
    return session


def point_pybit_ws(ws_url: str) -> Callable[[], None]:
    """Aim pybit's `WebSocket` URL templates (module constants) at the simulator; returns `restore()`.
    Call before constructing a `WebSocket`."""
    from pybit import unified_trading

    base = ws_url.rstrip("/")
    saved = (unified_trading.PUBLIC_WSS, unified_trading.PRIVATE_WSS)
    unified_trading.PUBLIC_WSS = base + "/v5/public/{CHANNEL_TYPE}"
    unified_trading.PRIVATE_WSS = base + "/v5/private"

    def restore() -> None:
        unified_trading.PUBLIC_WSS, unified_trading.PRIVATE_WSS = saved

    return restore
