"""Redis hot cache against a real redis-server: orders, positions, BBO, balances, TTLs, redelivery."""

from __future__ import annotations

from oms.services.redis import RedisServer
from oms.shm import records as R
from oms.store.cache import HotCache
from tests.integration.bus.conftest import make_events


def test_orders_and_positions_survive_redelivery(redis_server: RedisServer, prefix: str) -> None:
    c = HotCache(redis_server.admin_url, prefix=prefix, ttl_closed_order_s=60)
    ev = make_events(0, 8)  # orders 1_000_000 (buy) and 1_000_001 (sell): 3 accepted + 1 fill each
    c.apply_events(ev[:2])
    assert c.open_orders(3) == {1_000_000}
    c.apply_events(ev)
    assert c.open_orders(3) == set()
    assert c.position(3, 7) == 10 - 10
    # redelivery of everything, and of an older slice after newer ones: nothing moves
    c.apply_events(ev)
    c.apply_events(ev[:3])
    assert c.open_orders(3) == set()
    assert c.order(1_000_000)["leaves_qty"] == 0 and c.order(1_000_000)["seq"] == 3
    assert c.position(3, 7) == 0
    assert 0 < c.r.ttl(f"{prefix}:order:1000000") <= 60  # closed orders expire
    buys = make_events(8, 8)
    buys["side"] = R.SIDE_BUY
    c.apply_events(buys)
    c.apply_events(buys)
    assert c.position(3, 7) == 20
    assert int(c.r.hget(f"{prefix}:pos:3:7", "fills")) == 4


def test_bbo_last_wins_with_ttl(redis_server: RedisServer, prefix: str) -> None:
    c = HotCache(redis_server.admin_url, prefix=prefix, ttl_bbo_s=5)
    md = R.new(R.MARKET, 3)
    md["kind"] = [R.MD_BBO, R.MD_BBO, R.MD_TRADE]
    md["instrument"] = 7
    md["price"], md["qty"], md["ask_price"], md["ask_qty"] = (
        [100, 101, 1],
        [5, 6, 1],
        [102, 103, 1],
        [7, 8, 1],
    )
    md["ts_ns"] = [1000, 2000, 3000]
    md["seq"] = [1, 2, 3]
    assert c.apply_market(md) == 1
    assert c.bbo(7)["bid_px"] == 101 and c.bbo(7)["ask_qty"] == 8
    assert 0 < c.r.ttl(f"{prefix}:bbo:7") <= 5
    older = md[:1].copy()
    c.apply_market(older)
    assert c.bbo(7)["bid_px"] == 101  # an older quote never overwrites a newer one


def test_balances_with_ttl(redis_server: RedisServer, prefix: str) -> None:
    c = HotCache(redis_server.admin_url, prefix=prefix, ttl_balance_s=30)
    c.put_balance(3, 1, "USDT", "1000.5", "20", 123)
    assert c.balance(3, 1, "USDT") == {"free": "1000.5", "locked": "20", "ts_ns": "123"}
    assert 0 < c.r.ttl(f"{prefix}:bal:3:1:USDT") <= 30
