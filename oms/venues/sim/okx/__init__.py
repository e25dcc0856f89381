"""OKX simulator room: a loopback OKX v5 (REST `/api/v5/...` for SPOT and SWAP, WebSockets
`/ws/v5/public` and `/ws/v5/private`) built on the simulator kit, that python-okx cannot tell from the
venue in what it uses. See docs/simulators.md.

Touches nothing outside `oms/venues/sim/okx/`; binds 127.0.0.1/::1 only.
"""

from __future__ import annotations

from oms.venues.sim.kit.thread import SimThread
from oms.venues.sim.okx.config import OkxConfig, default_config
from oms.venues.sim.okx.rules import checksum
from oms.venues.sim.okx.server import OkxSim

__all__ = ["OkxConfig", "OkxSim", "SimThread", "checksum", "default_config"]
