"""Gateway decisions land in the store room's hash-chained audit log (real PostgreSQL), and the chain
verifies."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import psycopg
import pytest

from oms.api.gen.oms.v1 import gateway_pb2 as gw
from oms.services.postgres import PostgresServer
from oms.store.audit import AuditLog
from oms.store.migrate import migrate
from oms.testing import eventually
from tests.integration.gateway.conftest import Stack, close_stack, make_stack
from tests.integration.gateway.helpers import limit_order, md, status_of, stubs


@pytest.fixture
def audit_dsn(postgres_server: PostgresServer) -> Iterator[str]:
    name = f"gw_{uuid.uuid4().hex[:10]}"
    postgres_server.ensure_database(name)
    dsn = postgres_server.dsn_for(name)
    migrate(dsn)
    yield dsn
    with psycopg.connect(postgres_server.dsn, autocommit=True) as c:
        c.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def store_stack(tmp_path, dev_certs, audit_dsn) -> Iterator[Stack]:  # type: ignore[no-untyped-def]
    st = make_stack(tmp_path, dev_certs, audit_dsn=audit_dsn)
    yield st
    close_stack(st)


def test_decisions_in_hash_chained_store(store_stack: Stack, audit_dsn: str) -> None:
    g, _ = stubs(store_stack.channel())
    assert status_of(g.SubmitOrder, limit_order(), md(store_stack.tokens["trader"]))[0].name == "OK"
    assert (
        status_of(g.SubmitOrder, limit_order(), md(store_stack.tokens["viewer"]))[0].name
        == "PERMISSION_DENIED"
    )
    assert status_of(g.ListOrders, gw.ListOrdersRequest(account=1), ())[0].name == "UNAUTHENTICATED"
    log = AuditLog(audit_dsn)
    try:
        rows = eventually(lambda: (r := log.rows()) and len(r) >= 3 and r, timeout=10)
        acts = {(r.actor, r.action, r.subject) for r in rows}
        assert (store_stack.ids["trader"], "gateway.allow", "/oms.v1.Gateway/SubmitOrder") in acts
        assert (store_stack.ids["viewer"], "gateway.deny", "/oms.v1.Gateway/SubmitOrder") in acts
        assert ("-", "gateway.deny", "/oms.v1.Gateway/ListOrders") in acts
        assert log.verify().ok
    finally:
        log.close()
