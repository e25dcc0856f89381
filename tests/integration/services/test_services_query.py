"""Services room: each real local server answers a real query (session fixtures from tests/conftest.py)."""

from __future__ import annotations

import decimal
import uuid

import hvac
import nats
import psycopg
import pytest
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, StorageType, StreamConfig

from oms.services.nats import NatsServer
from oms.services.openbao import OpenBaoServer
from oms.services.postgres import PostgresServer
from oms.services.redis import RedisServer


async def test_nats_jetstream_publish_consume(nats_server: NatsServer) -> None:
    nc = await nats.connect(nats_server.admin_url, connect_timeout=2)
    try:
        js = nc.jetstream()
        info = await js.account_info()  # raises ServiceUnavailableError when JetStream is off
        assert info.limits is not None
        name = f"T{uuid.uuid4().hex[:8].upper()}"
        await js.add_stream(StreamConfig(name=name, subjects=[f"{name}.>"], storage=StorageType.FILE))
        acks = [
            await js.publish(f"{name}.orders", f"order-{i}".encode(), headers={"Nats-Msg-Id": f"id-{i}"})
            for i in range(5)
        ]
        assert [a.seq for a in acks] == [1, 2, 3, 4, 5]
        dup = await js.publish(f"{name}.orders", b"order-0", headers={"Nats-Msg-Id": "id-0"})
        assert dup.duplicate is True
        sub = await js.pull_subscribe(
            f"{name}.>",
            durable="worker",
            config=ConsumerConfig(ack_policy=AckPolicy.EXPLICIT, deliver_policy=DeliverPolicy.ALL),
        )
        msgs = await sub.fetch(5, timeout=2)
        assert [m.data for m in msgs] == [f"order-{i}".encode() for i in range(5)]
        for m in msgs:
            await m.ack_sync()
        ci = await js.consumer_info(name, "worker")
        assert ci.num_pending == 0 and ci.num_ack_pending == 0
        si = await js.stream_info(name)
        assert si.state.messages == 5
        await js.delete_stream(name)
    finally:
        await nc.close()


def test_nats_jetstream_store_in_data_dir(nats_server: NatsServer) -> None:
    assert (nats_server.store_dir / "jetstream").is_dir()
    assert "max_memory_store: 256MB" in nats_server.config_path.read_text()


def test_postgres_query(postgres_server: PostgresServer) -> None:
    with psycopg.connect(postgres_server.dsn, autocommit=True) as c:
        assert c.execute("select 1 + 1").fetchone() == (2,)
        assert c.execute("show fsync").fetchone() == ("off",)
        assert c.execute("select current_user").fetchone() == ("postgres",)
        c.execute("create temporary table fills (id int primary key, px numeric(38,18))")
        c.cursor().executemany("insert into fills values (%s, %s)", [(1, "0.1"), (2, "65000.123456789")])
        rows = c.execute("select px from fills order by id").fetchall()
        assert rows == [(decimal.Decimal("0.1"),), (decimal.Decimal("65000.123456789"),)]


def test_postgres_ensure_database(postgres_server: PostgresServer) -> None:
    postgres_server.ensure_database("oms_t")
    postgres_server.ensure_database("oms_t")  # idempotent
    with psycopg.connect(postgres_server.dsn.replace("dbname=postgres", "dbname=oms_t")) as c:
        assert c.execute("select current_database()").fetchone() == ("oms_t",)


def test_redis_set_get(redis_server: RedisServer) -> None:
    r = redis_server.client(decode_responses=True)
    try:
        assert r.set("oms:test:k", "v1", ex=30)
        assert r.get("oms:test:k") == "v1"
        r.hset("oms:test:h", mapping={"a": "1", "b": "2"})
        assert r.hgetall("oms:test:h") == {"a": "1", "b": "2"}
        assert r.config_get("save") == {"save": ""}
        assert r.config_get("appendonly") == {"appendonly": "no"}
    finally:
        r.close()


def test_openbao_kv2_write_read(openbao_server: OpenBaoServer) -> None:
    c = hvac.Client(url=openbao_server.url, token=openbao_server.root_token)
    assert c.is_authenticated()
    kv = c.secrets.kv.v2
    path = f"oms-tests/test_{uuid.uuid4().hex[:6]}"  # not under exchanges/: the vault tests list that
    kv.create_or_update_secret(path=path, secret={"api_key": "k1", "secret": "s1"}, mount_point="secret")
    kv.create_or_update_secret(
        path=path, secret={"api_key": "k2", "secret": "s2"}, cas=1, mount_point="secret"
    )
    now = kv.read_secret_version(path=path, mount_point="secret", raise_on_deleted_version=True)
    assert now["data"]["data"] == {"api_key": "k2", "secret": "s2"}
    assert now["data"]["metadata"]["version"] == 2
    old = kv.read_secret_version(path=path, version=1, mount_point="secret", raise_on_deleted_version=True)
    assert old["data"]["data"]["api_key"] == "k1"
    with pytest.raises(hvac.exceptions.InvalidRequest):
        kv.create_or_update_secret(path=path, secret={"x": "y"}, cas=1, mount_point="secret")


def test_openbao_wrong_token_is_refused(openbao_server: OpenBaoServer) -> None:
    c = hvac.Client(url=openbao_server.url, token="not-the-token")
    assert not c.is_authenticated()
