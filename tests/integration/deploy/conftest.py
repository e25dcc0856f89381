"""Deploy room integration fixtures: the bus room's per-test database (migrated) and its own JetStream
server are reused as they are."""

from __future__ import annotations

from tests.integration.bus.conftest import nats_js, pg_dsn  # noqa: F401  (fixtures, used by name)
