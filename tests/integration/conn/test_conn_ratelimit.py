"""Connector room: a 429 storm on a shared API key / IP never earns a 418.

A simulator with a small weight limit (600 per minute) whose clock is set so the current minute has
~15 s left. The connector process and a second client of the same key share the rate budget file
(/dev/shm). The second client bursts request weight without reserving it (like a tool that only
reports what it spent) until the venue answers 429, and tells the shared budget. The connector,
offering orders at a constant rate meanwhile, must hold off (its budget sees the venue's counters
and the block), never send into the ban window, and place every order once when the minute rolls.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest
from binance.client import Client
from binance.exceptions import BinanceAPIException

from oms.conn.ratelimit import RateBudget
from oms.shm import records as R
from oms.venues.binance.adapter import limits_from_exchange_info
from oms.venues.sim.binance import RateLimits, SimThread, default_config
from tests.integration.conn.conftest import SPOT_BTC, Connector, command, eventually

KEY, SECRET = "conn-storm-key", "conn-storm-secret-0123456789abcdef"


@pytest.fixture
def storm_sim():
    cfg = default_config()
    cfg.spot_limits = RateLimits(weight_per_minute=600, orders_per_10s=100, retry_after_cap=60)
    with SimThread(seed=3, config=cfg, flow=False) as st:
        now = st.sim.now()
        skew = (45_000 - now % 60_000) % 60_000  # the venue's minute now has ~15 s left
        st.call(st.sim.faults.set, clock_skew_ms=skew)
        st.call(st.sim.add_api_key, KEY, SECRET)
        yield st


def test_429_storm_never_418(storm_sim: SimThread, tmp_path: Path) -> None:
    sim = storm_sim
    c = Connector(
        sim,
        tmp_path,
        f"tr{uuid.uuid4().hex[:8]}",
        key=(KEY, SECRET),
        extra_env={
            "OMS_CONNECTOR__MARKETS": '["spot"]',
            "OMS_CONNECTOR__MARKET_DATA": "false",
            "OMS_CONNECTOR__RECV_WINDOW_MS": "5000",
            # this test is about waiting out the venue's minute without a 418, so orders may wait for
            # the budget that long here; the default bound (2 s, reject) is tested in
            # tests/unit/conn/test_conn_order_backpressure.py
            "OMS_CONNECTOR__MAX_ORDER_WAIT_S": "60",
        },
    )
    neighbour = Client(KEY, SECRET, ping=False)
    neighbour.API_URL = sim.url + "/api"
    try:
        c.start()
        limits = limits_from_exchange_info(neighbour.get_exchange_info()["rateLimits"])
        budget = RateBudget(f"binance_spot:{KEY}", limits, clock_ms=sim.sim.now)
        ids = [c.new_id() for _ in range(40)]
        px = 5_000_000  # 50000.00: rests far under the market
        t0 = time.monotonic()
        burst_done = False
        for k, oid in enumerate(ids):  # constant offered rate: 20 orders/s
            while time.monotonic() < t0 + k * 0.05:
                time.sleep(0.005)
            c.send(command(R.SUBMIT_ORDER, oid, SPOT_BTC, price=px - k, qty=20))
            if k == 10 and not burst_done:
                burst_done = True
                while True:  # the neighbour burns the minute's weight, folding each answer in
                    try:
                        neighbour.get_exchange_info()
                        budget.observe(neighbour.response.headers)
                    except BinanceAPIException as e:
                        assert e.status_code == 429, f"neighbour got {e.status_code} {e.message}"
                        budget.blocked(float(e.response.headers.get("Retry-After", "1")))
                        break
        # every order ends accepted exactly once (after the venue's minute rolls), none rejected
        for oid in ids:
            c.wait_event(oid, R.ORDER_ACCEPTED, timeout=40)
        c.pump()
        assert not [e for e in c.events if int(e["kind"]) == R.ORDER_REJECTED]
        assert all(len(c.of(oid, R.ORDER_ACCEPTED)) == 1 for oid in ids)
        limiter = sim.sim.limiters["spot"]
        assert limiter.banned_until == {}, "an IP was banned (418)"
        st = eventually(
            lambda: (lambda s: s if s.get("rest", {}).get("throttled_waits", 0) > 0 else None)(c.stats()),
            what="the connector held off on the shared budget",
        )
        assert st["rest"]["http_418"] == 0
        assert budget.snapshot()["throttled"] >= 1
        c.send(*[command(R.CANCEL_ALL, 0, SPOT_BTC)])
    finally:
        neighbour.close_connection()
        c.close()
        Path(budget.path).unlink(missing_ok=True) if "budget" in locals() else None
