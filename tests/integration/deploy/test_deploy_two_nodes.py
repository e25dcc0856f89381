"""Scale-out building block: two engine nodes' events through their own bridges into one set of streams
and one recorder. Engines number their events alike (source 100, seq from 0), so without a node id the
second node's frames are JetStream duplicates and PostgreSQL conflicts; with `[bus].event_source` set
per node every event of both nodes is stored exactly once. Real nats-server, PostgreSQL and Redis.
"""

from __future__ import annotations

import asyncio
import uuid

import msgspec
import pytest

from oms.bus.bridge import open_bridge
from oms.bus.settings import validate
from oms.services.nats import NatsServer
from oms.services.redis import RedisServer
from oms.shm import names
from oms.shm import records as R
from oms.shm.ring import Ring
from oms.store.recorder import Recorder
from oms.testing import eventually_async
from tests.integration.bus.conftest import bus_settings, make_events, pg_count, store_settings

N = 3000  # events per node
pytestmark = pytest.mark.timeout(120)


async def _two_nodes(nats_url: str, dsn: str, redis_url: str, tmp_path, sources: tuple[int, int]) -> int:
    """Both nodes publish N events with identical (source, seq); returns the rows PostgreSQL ends with."""
    base = bus_settings(nats_url, tmp_path / "a")
    rings, bridges, tasks, conns = [], [], [], []
    rec = Recorder(base, store_settings(dsn, redis_url, f"t{uuid.uuid4().hex[:6]}"))
    try:
        for i, source in enumerate(sources):
            ring = Ring.create(names.engine_events_to_bridge(f"n{uuid.uuid4().hex[:7]}"), R.EVENT, 1 << 14)
            rings.append(ring)
            bus = msgspec.structs.replace(base, event_source=source, spool_dir=str(tmp_path / f"spool{i}"))
            nc, bridge = await open_bridge(ring, bus)
            conns.append(nc)
            bridges.append(bridge)
            tasks.append(asyncio.get_running_loop().create_task(bridge.run()))
        await rec.start()
        ev = make_events(0, N)
        ev["source"] = 100  # what every engine stamps (oms/engine/constants.py SOURCE_ENGINE)
        for ring in rings:
            assert ring.publish_batch(ev) == N
        await eventually_async(lambda: all(b.stats.records_released == N for b in bridges), 30)
        want = 2 * N if all(sources) else N
        await eventually_async(lambda: pg_count(dsn)[0] >= want, 30, max_interval=0.2)
        await asyncio.sleep(1.0)  # anything more that was going to arrive (it must not, when want == N)
        rows, distinct = pg_count(dsn)
        assert rows == distinct
        return rows
    finally:
        for b in bridges:
            b.stop()
        await asyncio.gather(*tasks, return_exceptions=True)
        await rec.stop()
        for nc in conns:
            await nc.close()
        for ring in rings:
            ring.unlink()
            ring.close()


async def test_events_of_two_nodes_all_reach_the_one_recorder(
    nats_js: NatsServer, pg_dsn: str, redis_server: RedisServer, tmp_path
) -> None:
    rows = await _two_nodes(nats_js.admin_url, pg_dsn, redis_server.admin_url, tmp_path, (1001, 1002))
    assert rows == 2 * N
    stored = pg_count(
        pg_dsn,
        "SELECT count(*) FILTER (WHERE source = 1001), count(*) FILTER (WHERE source = 1002) FROM events",
    )
    assert stored == (N, N)


async def test_without_node_ids_the_second_node_is_lost(
    nats_js: NatsServer, pg_dsn: str, redis_server: RedisServer, tmp_path
) -> None:
    """Why event_source exists: the same (source, seq) from two nodes is stored once, the rest dropped."""
    rows = await _two_nodes(nats_js.admin_url, pg_dsn, redis_server.admin_url, tmp_path, (0, 0))
    assert rows == N


def test_event_source_must_be_a_node_id() -> None:
    from oms.bus.settings import Settings

    assert validate(Settings(event_source=1001)) == []
    for bad in (5, 100, 999, -1, 2**32):
        keys = [k for k, _, _ in validate(Settings(event_source=bad))]
        assert keys == ["bus.event_source"], bad
