"""Bus/persistence room test fixtures: a fresh database per test, migrated; a unique ring prefix; helpers.

Touches only the session servers from tests/conftest.py (its own database, its own Redis key prefix,
its own JetStream streams which are deleted afterwards) and /dev/shm rings under a unique prefix.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import msgspec
import numpy as np
import psycopg
import pytest

from oms.bus.settings import Settings as BusSettings
from oms.bus.settings import StreamLimits
from oms.services.nats import NatsServer
from oms.services.postgres import PostgresServer
from oms.shm import records as R
from oms.store.migrate import migrate
from oms.store.settings import Settings as StoreSettings

CI = bool(os.environ.get("CI"))


def make_events(start: int, n: int, *, instrument: int = 7, venue: int = 1, market: int = 1) -> np.ndarray:
    """n EVENT records with seq start..start+n-1: per order Accepted then Filled (every 4th a fill)."""
    r = R.new(R.EVENT, n)
    seq = np.arange(start, start + n, dtype=np.uint64)
    r["seq"] = seq
    r["source"] = 1
    r["venue"], r["market"], r["instrument"], r["account"] = venue, market, instrument, 3
    r["client_order_id"] = 1_000_000 + seq // 4
    r["kind"] = np.where(seq % 4 == 3, R.ORDER_FILLED, R.ORDER_ACCEPTED)
    r["side"] = np.where((seq // 4) % 2 == 0, R.SIDE_BUY, R.SIDE_SELL)
    r["price"] = 50_000 + (seq % 100).astype(np.int64)
    r["qty"] = 10
    r["cum_qty"] = np.where(r["kind"] == R.ORDER_FILLED, 10, 0)
    r["leaves_qty"] = np.where(r["kind"] == R.ORDER_FILLED, 0, 10)
    r["trade_id"] = np.where(r["kind"] == R.ORDER_FILLED, seq, 0)
    r["ts_ns"] = 1_700_000_000_000_000_000 + seq.astype(np.int64)
    return r


@pytest.fixture
def pg_dsn(postgres_server: PostgresServer) -> Iterator[str]:
    name = f"bus_{uuid.uuid4().hex[:10]}"
    postgres_server.ensure_database(name)
    dsn = postgres_server.dsn_for(name)
    migrate(dsn)
    yield dsn
    with psycopg.connect(postgres_server.dsn, autocommit=True) as c:
        c.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def prefix() -> str:
    return f"t{uuid.uuid4().hex[:8]}"


def bus_settings(nats_url: str, tmp_path: object, **kw: object) -> BusSettings:
    small = StreamLimits(max_bytes=48 * 1024**2, max_age_s=3600.0)
    base = BusSettings(
        nats_url=nats_url,
        exchanges=["binance", "all"],
        streams={k: small for k in ("orders", "fills", "market", "positions", "risk", "audit")},
        spool_dir=str(tmp_path) + "/spool",
        spool_max_bytes=64 * 1024**2,
        spool_segment_bytes=4 * 1024**2,
        ack_timeout_s=2.0,
        ack_wait_s=3.0,
        durable_prefix=f"rec{uuid.uuid4().hex[:6]}",
    )
    return msgspec.structs.replace(base, **kw)


def write_toml(path: Path, bus: BusSettings) -> str:
    """The `[bus]` section as TOML (what a program reads with --config)."""
    d = msgspec.to_builtins(bus)
    lines = ["[bus]"] + [f"{k} = {json.dumps(v)}" for k, v in d.items() if not isinstance(v, dict)]
    for kind, lim in d["streams"].items():
        lines.append(f"[bus.streams.{kind}]")
        lines += [f"{k} = {json.dumps(v)}" for k, v in lim.items()]
    for name, snd in d["intake_senders"].items():
        lines.append(f"[bus.intake_senders.{name}]")
        lines += [f"{k} = {json.dumps(v)}" for k, v in snd.items()]
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def store_settings(dsn: str, redis_url: str, prefix: str) -> StoreSettings:
    return StoreSettings(postgres_dsn=dsn, redis_url=redis_url, redis_prefix=prefix, reconnect_s=0.2)


def pg_count(dsn: str, sql: str = "SELECT count(*), count(DISTINCT (source, seq)) FROM events") -> tuple:
    with psycopg.connect(dsn, connect_timeout=2) as c:
        return tuple(c.execute(sql).fetchone())  # type: ignore[arg-type]


@pytest.fixture
def nats_js(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsServer]:
    """A JetStream server of this test's own (file store): the stream names ORDERS_BINANCE... are
    global, so sharing the session server with other rooms' tests could mix their streams with ours."""
    srv = NatsServer(tmp_path_factory.mktemp("nats_bus"), sync_interval="2m")
    srv.start()
    yield srv
    srv.stop()
