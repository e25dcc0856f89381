"""Secrets room integration fixtures: a root hvac client on the session's OpenBao dev server, and a
migrated PostgreSQL database for the audit trail."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from oms.services.openbao import OpenBaoServer
from oms.services.postgres import PostgresServer
from oms.store.migrate import migrate


@pytest.fixture
def bao_root(openbao_server: OpenBaoServer) -> Iterator[Any]:
    c = openbao_server.client()
    yield c
    c.adapter.close()


@pytest.fixture
def pg_dsn(postgres_server: PostgresServer) -> Iterator[str]:
    """A fresh database with the store room's migrations (audit tables) applied; dropped afterwards."""
    name = f"secrets_{uuid.uuid4().hex[:10]}"
    postgres_server.ensure_database(name)
    dsn = postgres_server.dsn_for(name)
    migrate(dsn)
    yield dsn
    with psycopg.connect(postgres_server.dsn, autocommit=True) as c:
        c.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
