"""Shared rate budget: two processes share one key's budget; headers and 429s are authoritative."""

from __future__ import annotations

import multiprocessing as mp
import uuid

from oms.conn.ratelimit import RateBudget
from oms.venues.binance.adapter import SPOT_LIMITS as BINANCE_SPOT_LIMITS
from oms.venues.binance.adapter import limits_from_exchange_info
from oms.venues.interface import Limit


def _spend(key: str, directory: str, n: int, q) -> None:
    b = RateBudget(
        key,
        (Limit("weight", 60_000, 100, "x-mbx-used-weight-1m"),),
        safety=1.0,
        directory=directory,
        clock_ms=lambda: 1_000,
    )
    ok = sum(1 for _ in range(n) if b.acquire(weight=1) == 0.0)
    b.close()
    q.put(ok)


def test_two_processes_never_exceed_shared_limit(tmp_path) -> None:
    key = f"k-{uuid.uuid4()}"
    q: mp.Queue = mp.get_context("spawn").Queue()
    ctx = mp.get_context("spawn")
    ps = [ctx.Process(target=_spend, args=(key, str(tmp_path), 80, q)) for _ in range(2)]
    for p in ps:
        p.start()
    for p in ps:
        p.join(60)
    got = [q.get(timeout=5), q.get(timeout=5)]
    # each wanted 80: together they get exactly the limit of 100, not one more
    assert sum(got) == 100, got


def test_budget_counts_and_windows(tmp_path) -> None:
    now = [60_000]
    b = RateBudget(
        "x",
        (Limit("weight", 60_000, 10, "x-mbx-used-weight-1m"),),
        safety=1.0,
        directory=str(tmp_path),
        clock_ms=lambda: now[0],
    )
    assert all(b.acquire(weight=2) == 0.0 for _ in range(5))
    wait = b.acquire(weight=1)
    assert wait == 60.0  # next window starts at 120_000
    now[0] = 120_000
    assert b.acquire(weight=1) == 0.0
    b.unlink()


def test_headers_raise_usage_and_429_blocks_everyone(tmp_path) -> None:
    now = [0]
    mk = lambda: RateBudget("y", BINANCE_SPOT_LIMITS, directory=str(tmp_path), clock_ms=lambda: now[0])  # noqa: E731
    a, b = mk(), mk()
    a.observe({"X-MBX-USED-WEIGHT-1M": "5395"})  # 0.9 * 6000 = 5400
    assert b.acquire(weight=10) > 0  # the other process sees the venue's count
    assert b.acquire(weight=10, orders=0) > 0
    now[0] = 60_000
    assert b.acquire(weight=10) == 0.0
    a.blocked(retry_after_s=7)
    assert b.acquire(weight=1) == 7.0
    assert b.snapshot()["throttled"] == 1
    a.unlink()


def test_limits_from_exchange_info() -> None:
    lims = limits_from_exchange_info(
        [
            {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 6000},
            {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 10, "limit": 100},
            {"rateLimitType": "RAW_REQUESTS", "interval": "MINUTE", "intervalNum": 5, "limit": 61000},
        ]
    )
    assert [(x.kind, x.interval_ms, x.limit, x.header) for x in lims] == [
        ("weight", 60_000, 6000, "x-mbx-used-weight-1m"),
        ("orders", 10_000, 100, "x-mbx-order-count-10s"),
    ]
