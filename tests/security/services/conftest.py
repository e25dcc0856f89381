"""Fixtures of the services/bus/store security tests: a migrated database with a program's role."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from oms.services.postgres import PostgresServer
from oms.store.migrate import migrate
from oms.store.roles import grant_app_role


@pytest.fixture
def app_db(postgres_server: PostgresServer, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """(owner DSN, app DSN) of a fresh migrated database; the app role is what a program logs in as."""
    name = f"sec_{uuid.uuid4().hex[:10]}"
    postgres_server.ensure_database(name)
    owner = postgres_server.dsn_for(name)
    migrate(owner)
    role, pw = f"oms_t{uuid.uuid4().hex[:8]}", secrets.token_urlsafe(16)
    grant_app_role(owner, role, pw)
    passfile = postgres_server.write_passfile(tmp_path / "app.pgpass", role, pw)
    yield owner, postgres_server.dsn_for(name, user=role, passfile=passfile)
    with psycopg.connect(postgres_server.dsn_for("postgres"), autocommit=True) as c:
        c.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        c.execute(f'DROP ROLE IF EXISTS "{role}"')
