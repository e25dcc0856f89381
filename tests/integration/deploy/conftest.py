"""Deploy room integration fixtures: the bus room's per-test database (migrated) is reused as it is."""

from __future__ import annotations

from tests.integration.bus.conftest import pg_dsn  # noqa: F401  (a fixture, used by name)
