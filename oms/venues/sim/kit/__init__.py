"""Simulator kit room: the venue-neutral parts of every venue simulator — price-time matching
(`matching`, `book`), order types and triggers (`orders`), accounts and settlement (`accounts`,
`settlement`), the rate limiter (`ratelimit`), faults (`faults`), seeded flow (`flow`), history paging
(`history`) and the aiohttp HTTP/WS server skeleton (`server`, `ws`, `thread`). See docs/simulators.md.

Touches nothing at import; a simulator built on it binds 127.0.0.1/::1 only. Imports no venue.
"""

from __future__ import annotations

from oms.venues.sim.kit.accounts import Account, Accounts, ApiKey, LedgerEntry, Position
from oms.venues.sim.kit.errors import REASONS, ErrorTable, SimError
from oms.venues.sim.kit.faults import Faults
from oms.venues.sim.kit.flow import Flow
from oms.venues.sim.kit.history import page
from oms.venues.sim.kit.matching import CoreEvents, MarketCore
from oms.venues.sim.kit.orders import AlgoOrder, Fill, Order, Print, triggered
from oms.venues.sim.kit.ratelimit import RateErrors, RateLimiter, Window
from oms.venues.sim.kit.server import SimServer
from oms.venues.sim.kit.spec import SymbolSpec
from oms.venues.sim.kit.thread import SimThread
from oms.venues.sim.kit.ws import Conn, WsHubBase

__all__ = [
    "REASONS",
    "Account",
    "Accounts",
    "AlgoOrder",
    "ApiKey",
    "Conn",
    "CoreEvents",
    "ErrorTable",
    "Faults",
    "Fill",
    "Flow",
    "LedgerEntry",
    "MarketCore",
    "Order",
    "Position",
    "Print",
    "RateErrors",
    "RateLimiter",
    "SimError",
    "SimServer",
    "SimThread",
    "SymbolSpec",
    "Window",
    "WsHubBase",
    "page",
    "triggered",
]
