"""Deploy room integration fixtures: the bus room's per-test database (migrated) and its own JetStream
server, and the connector room's Binance simulator and counterparty, reused as they are."""

from __future__ import annotations

from tests.integration.bus.conftest import nats_js, pg_dsn  # noqa: F401  (fixtures, used by name)
from tests.integration.conn.conftest import counterparty, sim  # noqa: F401
