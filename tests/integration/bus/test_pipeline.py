"""Ring → bridge → JetStream → recorder → PostgreSQL/Redis, with real servers, exactly once."""

from __future__ import annotations

import asyncio

import nats
import numpy as np

from oms.bus.bridge import EventBridge, open_bridge
from oms.bus.settings import Settings as BusSettings
from oms.services.nats import NatsServer
from oms.services.redis import RedisServer
from oms.shm import names
from oms.shm import records as R
from oms.shm.ring import Ring
from oms.store.cache import HotCache
from oms.store.recorder import Recorder
from oms.testing import eventually_async
from tests.integration.bus.conftest import CI, bus_settings, make_events, pg_count, store_settings

N = 20_000 if CI else 60_000


async def start_bridge(ring: Ring, bus: BusSettings) -> tuple[nats.NATS, EventBridge, asyncio.Task]:
    nc, bridge = await open_bridge(ring, bus)
    task = asyncio.get_running_loop().create_task(bridge.run())
    return nc, bridge, task


async def test_ring_to_postgres_exactly_once(
    nats_js: NatsServer, pg_dsn: str, redis_server: RedisServer, prefix: str, tmp_path
) -> None:
    bus = bus_settings(nats_js.admin_url, tmp_path)
    store = store_settings(pg_dsn, redis_server.admin_url, prefix)
    ring = Ring.create(names.engine_events_to_bridge(prefix), R.EVENT, 1 << 16)
    rec = Recorder(bus, store)
    try:
        nc, bridge, task = await start_bridge(ring, bus)
        await rec.start()
        ev = make_events(0, N)
        sent = 0
        while sent < N:  # the producer side: publish as the engine would, never blocking
            sent += ring.publish_batch(ev[sent : sent + 4096])
            await asyncio.sleep(0)
        await eventually_async(lambda: pg_count(pg_dsn)[0] == N, 60)
        # redeliver everything (a recorder that lost its acks): still exactly once
        assert pg_count(pg_dsn) == (N, N)
        n_fills = int((ev["kind"] == R.ORDER_FILLED).sum())
        assert pg_count(pg_dsn, "SELECT count(*), count(*) FROM fills") == (n_fills, n_fills)
        # orders: latest state per order; every order ended filled
        assert pg_count(pg_dsn, "SELECT count(*), sum((leaves_qty = 0)::int) FROM orders") == (N // 4, N // 4)
        cache = HotCache(redis_server.admin_url, prefix=prefix)
        buys = int(((ev["kind"] == R.ORDER_FILLED) & (ev["side"] == R.SIDE_BUY)).sum())
        await eventually_async(lambda: cache.position(3, 7) == (buys - (n_fills - buys)) * 10, 10)
        await eventually_async(lambda: cache.open_orders(3) == set(), 10)
        assert cache.order(1_000_000)["leaves_qty"] == 0
        assert bridge.stats.records_released == N
        bridge.stop()
        await task
        await nc.close()
    finally:
        await rec.stop()
        ring.unlink()
        ring.close()


async def test_writer_is_idempotent_on_redelivery(pg_dsn: str) -> None:
    from oms.store.writer import EventWriter

    w = EventWriter(pg_dsn)
    ev = make_events(0, 1000)
    assert w.write(ev).inserted == 1000
    assert w.write(ev).inserted == 0
    both = np.concatenate([ev[500:], make_events(1000, 500)])
    assert w.write(both).inserted == 500
    assert pg_count(pg_dsn) == (1500, 1500)
    w.close()
