"""Services room: the embedded local servers (NATS+JetStream, PostgreSQL, Redis, OpenBao).

Touches only processes it starts, their data dirs (under var/ or a test's temp dir), loopback ports and
var/run/services.json. Each class starts a real server on a free loopback port, waits until it really
answers, and stops it with its children; `ServiceSet` / `oms services up|down|status` drive all four.
See docs/foundation.md.
"""

from __future__ import annotations

from oms.services.base import Service, ServiceError
from oms.services.manager import ServiceSet, current
from oms.services.nats import NatsServer
from oms.services.openbao import OpenBaoServer
from oms.services.ports import free_port
from oms.services.postgres import PostgresServer
from oms.services.redis import RedisServer

__all__ = [
    "NatsServer",
    "OpenBaoServer",
    "PostgresServer",
    "RedisServer",
    "Service",
    "ServiceError",
    "ServiceSet",
    "current",
    "free_port",
]
