"""Shared pytest fixtures (foundation room): real local servers, one of each per test session.

Each fixture starts a real server on a free loopback port with a data dir under pytest's temp root and
stops it at the end of the session (no process or port left behind). A test that must stop or restart a
server builds its own instance with `tmp_path` instead, e.g. `with RedisServer(tmp_path) as r: ...`.

`_isolate_oms_logging` (autouse) restores the `oms` logger after every test: `oms.log.setup()` (called
by `oms.cli.main`, for one) replaces its handlers and turns propagation off, which would otherwise hide
later tests' records from `caplog`.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

import pytest

from oms.services.nats import NatsServer
from oms.services.openbao import OpenBaoServer
from oms.services.postgres import PostgresServer
from oms.services.redis import RedisServer


@pytest.fixture(scope="session", autouse=True)
def _leave_dev_shm_as_found() -> Iterator[None]:
    """Tests create rings, tables and per-key rate budgets in /dev/shm under unique names. At the end of
    the session remove the ones this session added that are dead (as `oms shm gc` does) or its own, and
    its rate-budget files (test API keys are throwaway), so repeated runs do not pile up segments."""
    import os

    from oms.shm import segment

    shm = "/dev/shm"
    before = set(os.listdir(shm)) if os.path.isdir(shm) else set()
    yield
    if not os.path.isdir(shm):
        return
    added = set(os.listdir(shm)) - before
    for info in segment.scan(""):
        if info.name in added and (not info.alive or info.creator_pid == os.getpid()):
            segment.unlink(info.name)
    for name in added:
        if name.startswith("oms.rl."):
            with contextlib.suppress(OSError):
                os.unlink(os.path.join(shm, name))


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
    # authentication on as in production; JetStream fsyncs on its 2-minute timer instead of every
    # write (tests choose speed explicitly; the stack's default is "always")
    srv = NatsServer(tmp_path_factory.mktemp("nats"), sync_interval="2m")
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def postgres_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PostgresServer]:
    # scram-sha-256 with a generated password (srv.dsn names its passfile); fsync off: a throwaway server
    srv = PostgresServer(tmp_path_factory.mktemp("postgres"), keep_data=False, fsync=False)
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
