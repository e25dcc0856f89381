"""Shared pytest fixtures (foundation room): real local servers, one of each per test session.

Each fixture starts a real server on a free loopback port with a data dir under pytest's temp root and
stops it at the end of the session (no process or port left behind). A test that must stop or restart a
server builds its own instance with `tmp_path` instead, e.g. `with RedisServer(tmp_path) as r: ...`.

`_isolate_oms_logging` (autouse) restores the `oms` logger after every test: `oms.log.setup()` (called
by `oms.cli.main`, for one) replaces its handlers and turns propagation off, which would otherwise hide
later tests' records from `caplog`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from oms.services.nats import NatsServer
from oms.services.openbao import OpenBaoServer
from oms.services.postgres import PostgresServer
from oms.services.redis import RedisServer


@pytest.fixture(autouse=True)
def _isolate_oms_logging() -> Iterator[None]:
    root = logging.getLogger("oms")
    saved = (list(root.handlers), root.level, root.propagate)
    yield
    root.handlers[:] = saved[0]
    root.setLevel(saved[1])
    root.propagate = saved[2]


@pytest.fixture(scope="session")
def nats_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsServer]:
    srv = NatsServer(tmp_path_factory.mktemp("nats"))
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def postgres_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PostgresServer]:
    srv = PostgresServer(tmp_path_factory.mktemp("postgres"), keep_data=False)
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    srv = RedisServer(tmp_path_factory.mktemp("redis"))
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def openbao_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OpenBaoServer]:
    srv = OpenBaoServer(tmp_path_factory.mktemp("openbao"))
    srv.start()
    yield srv
    srv.stop()
