"""Binance simulator room: a loopback Binance (spot `/api/v3`, USD-M `/fapi`, streams, WS API) that
python-binance and ccxt cannot tell from the venue in what they use. See docs/venues.md.

Touches nothing outside `oms/venues/sim/binance/`; binds 127.0.0.1/::1 only.
"""

from __future__ import annotations

from oms.venues.sim.binance.config import RateLimits, SimConfig, SymbolSpec, default_config
from oms.venues.sim.binance.server import BinanceSim
from oms.venues.sim.binance.thread import SimThread, point_python_binance
from oms.venues.sim.kit.faults import Faults

__all__ = [
    "BinanceSim",
    "Faults",
    "RateLimits",
    "SimConfig",
    "SimThread",
    "SymbolSpec",
    "default_config",
    "point_python_binance",
]
