"""A real 3-node NATS cluster on loopback: formation, R3 streams, kill -9 of a stream leader under load.

The acceptance scenario of issue 22 runs bench/nats_cluster.py's run_failover on real servers: constant
event load through bridge → JetStream (every stream R3) → recorder → PostgreSQL; the node leading
ORDERS_BINANCE is SIGKILLed, then restarted; afterwards every event is in PostgreSQL exactly once and
the restarted node is a current replica again. Recovery times are printed (run with -s to see them).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import nats
import pytest

from bench.nats_cluster import run_failover
from oms.errors import OmsError
from oms.services.nats_cluster import ExternalNats, NatsCluster, from_settings
from oms.services.redis import RedisServer
from oms.services.settings import NatsSettings, Settings, validate
from oms.testing import eventually
from tests.integration.bus.conftest import CI


@pytest.fixture
def cluster(tmp_path: Path):
    c = NatsCluster(tmp_path / "nats", 3, max_file_store="512MB")
    c.start()
    yield c
    c.stop()


async def test_three_nodes_form_one_cluster_with_r3_streams(cluster: NatsCluster) -> None:
    assert len(set(cluster.server_names())) == 3 and cluster.meta_leader() in cluster.server_names()
    nc = await nats.connect(cluster.admin_url.split(","))
    try:
        js = nc.jetstream()
        await js.add_stream(name="R3TEST", subjects=["r3.>"], num_replicas=3)
        ack = await js.publish("r3.x", b"hello")
        info = await js.stream_info("R3TEST")
        assert ack.seq == 1 and info.cluster is not None
        members = {info.cluster.leader, *(r.name for r in info.cluster.replicas or [])}
        assert members == set(cluster.server_names())  # one copy on every node
    finally:
        await nc.close()


async def test_leader_kill_under_load_loses_and_duplicates_nothing(
    cluster: NatsCluster, pg_dsn: str, redis_server: RedisServer, tmp_path: Path, capsys
) -> None:
    rate, seconds = (800, 5.0) if CI else (1000, 6.0)
    r = await run_failover(
        cluster, pg_dsn, redis_server.admin_url, rate=rate, seconds=seconds, tmp=tmp_path / "run"
    )
    with capsys.disabled():
        print(
            f"\n[nats cluster R3] {r.events} events at {rate}/s: lost {r.lost}, duplicated {r.duplicated}; "
            f"new leaders {r.leader_s:.2f} s, flowing again {r.flow_s:.2f} s after kill -9, "
            f"restarted node current {r.catchup_s:.2f} s after restart"
        )
    assert (r.lost, r.duplicated, r.refused) == (0, 0, 0)
    assert r.stored == r.events
    # streams the dead node led elect new leaders; the flow may resume before the last of them (a stream
    # these events do not use) has one
    assert 0 < r.leader_s < 60 and 0 < r.flow_s < 60
    assert all(n.running() for n in cluster.nodes)


def test_cluster_settings_and_their_errors(tmp_path: Path) -> None:
    assert validate(Settings(nats=NatsSettings(cluster=3))) == []
    bad = {k for k, _, _ in validate(Settings(nats=NatsSettings(cluster=2)))}
    assert bad == {"nats.cluster"}
    bad = {k for k, _, _ in validate(Settings(nats=NatsSettings(urls=["http://x:4222"])))}
    assert bad == {"nats.urls[0]"}
    bad = {k for k, _, _ in validate(Settings(nats=NatsSettings(urls=["nats://x:4222"], cluster=3)))}
    assert bad == {"nats.cluster"}
    assert isinstance(from_settings(NatsSettings(cluster=3), tmp_path), NatsCluster)
    ext = from_settings(NatsSettings(urls=["nats://127.0.0.1:1", "nats://127.0.0.1:2"]), tmp_path)
    assert isinstance(ext, ExternalNats) and ext.url == "nats://127.0.0.1:1,nats://127.0.0.1:2"
    assert not ext.healthy()  # nobody listens there
    with pytest.raises(OmsError, match="3 or 5 nodes"):
        NatsCluster(tmp_path, 2)
    with pytest.raises(OmsError, match="none of the NATS URLs"):
        ext.wait_ready(0.3)


def test_a_killed_node_rejoins_under_its_old_name(cluster: NatsCluster) -> None:
    names = cluster.server_names()
    cluster.kill(1)
    assert not cluster.nodes[1].running()
    eventually(cluster.healthy, 30)  # two of three keep (or re-elect) the meta group
    cluster.restart(1)
    assert cluster.server_names() == names
    eventually(cluster.healthy, 30)


def test_services_up_with_a_cluster(tmp_path: Path) -> None:
    """ServiceSet (what `oms services up` and `oms up` use) starts the cluster from [services.nats]."""
    from oms.services.manager import ServiceSet

    ss = ServiceSet(Settings(start=["nats"], nats=NatsSettings(cluster=3)), root=tmp_path)
    try:
        ss.start()
        svc = ss.services["nats"]
        assert isinstance(svc, NatsCluster) and svc.healthy() and svc.url.count("nats://") == 3

        async def roundtrip() -> bytes:
            nc = await nats.connect(svc.admin_url.split(","))
            sub = await nc.subscribe("x")
            await nc.publish("x", b"ok")
            msg = await sub.next_msg(timeout=5)
            await nc.close()
            return msg.data

        assert asyncio.run(roundtrip()) == b"ok"
    finally:
        ss.stop()
