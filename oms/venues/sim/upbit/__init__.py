"""Upbit simulator room: a loopback Upbit (REST `/v1/...` with JWT auth, public and private WebSockets)
built on the simulator kit: KRW markets (`KRW-BTC`, quote first), the KRW price-band tick grid, the
5,000 KRW minimum total and Upbit's error names. See docs/simulators.md.

Touches nothing outside `oms/venues/sim/upbit/`; binds 127.0.0.1/::1 only.
"""

from __future__ import annotations

from oms.venues.sim.kit.thread import SimThread
from oms.venues.sim.upbit.config import UpbitConfig, default_config, krw_tick
from oms.venues.sim.upbit.server import UpbitSim

__all__ = ["SimThread", "UpbitConfig", "UpbitSim", "default_config", "krw_tick"]
