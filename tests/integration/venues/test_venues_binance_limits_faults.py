"""Rate limits (429 with Retry-After, then 418) and fault injection of the Binance simulator, seen
through python-binance and plain HTTP."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import Iterator
from dataclasses import replace

import aiohttp
import pytest
import requests
from binance.client import Client
from binance.exceptions import BinanceAPIException

from oms.testing import eventually
from oms.venues.sim.binance import SimThread, default_config, point_python_binance
from oms.venues.sim.binance.config import RateLimits
from tests.integration.venues.conftest import API_KEY, API_SECRET


def _sim(limits: RateLimits) -> Iterator[SimThread]:
    cfg = replace(default_config(), spot_limits=limits)
    with SimThread(seed=3, config=cfg, flow=False) as st:
        st.call(st.sim.add_api_key, API_KEY, API_SECRET)
        restore = point_python_binance(st.url, st.ws_url)
        try:
            yield st
        finally:
            restore()


@pytest.fixture
def small_limits() -> Iterator[SimThread]:
    yield from _sim(RateLimits(weight_per_minute=40, orders_per_10s=3, ban_seconds=2))


@pytest.fixture
def faulty() -> Iterator[SimThread]:
    yield from _sim(RateLimits())


def test_weight_429_then_418_ban(small_limits: SimThread) -> None:
    # the weight window is the clock's minute: start well inside one so it cannot roll over mid-test
    eventually(lambda: small_limits.sim.now() % 60_000 < 55_000, 7)
    c = Client(API_KEY, API_SECRET)
    used = []
    with pytest.raises(BinanceAPIException) as e:
        for _ in range(20):  # depth weighs 5; 40 per minute allows 7 after the ping
            c.get_order_book(symbol="BTCUSDT", limit=10)
            used.append(int(c.response.headers["X-MBX-USED-WEIGHT-1M"]))
    assert used == sorted(used) and used[-1] <= 40
    assert (e.value.status_code, e.value.code) == (429, -1003)
    assert "Too many requests" in e.value.message
    assert int(e.value.response.headers["Retry-After"]) >= 1
    with pytest.raises(BinanceAPIException) as e:
        c.ping()  # ignoring Retry-After earns a ban
    assert (e.value.status_code, e.value.code) == (418, -1003)
    assert "banned until" in e.value.message and int(e.value.response.headers["Retry-After"]) >= 1


def test_order_count_limit(small_limits: SimThread) -> None:
    c = Client(API_KEY, API_SECRET)
    # the ORDERS window is 10 s on the clock: start well inside one so it cannot roll over mid-test
    eventually(lambda: small_limits.sim.now() % 10_000 < 7_000, 5)
    counts = []
    with pytest.raises(BinanceAPIException) as e:
        for i in range(5):
            c.create_order(
                symbol="BTCUSDT",
                side="BUY",
                type="LIMIT",
                timeInForce="GTC",
                quantity="0.001",
                price=f"{59000 + i}.00",
            )
            counts.append(int(c.response.headers["X-MBX-ORDER-COUNT-10S"]))
    assert counts == [1, 2, 3]
    assert (e.value.status_code, e.value.code) == (429, -1015)
    assert e.value.message == "Too many new orders; current limit is 3 orders per 10 SECOND."


def _admin(st: SimThread, what: str, body: dict) -> dict:
    r = requests.post(f"{st.url}/_sim/{what}", json=body, timeout=5)
    return {"status": r.status_code, **r.json()}


def test_faults_5xx_latency_skew_maintenance(faulty: SimThread) -> None:
    st = faulty
    c = Client(API_KEY, API_SECRET)
    assert _admin(st, "faults", {"error_5xx": 1})["error_5xx"] == 1
    with pytest.raises(BinanceAPIException) as e:
        c.get_server_time()
    assert e.value.status_code == 503
    assert c.get_server_time()["serverTime"] > 0  # one-shot fault consumed

    _admin(st, "faults", {"latency_ms": 150})
    t0 = time.monotonic()
    c.ping()
    assert time.monotonic() - t0 >= 0.15
    _admin(st, "faults", {"latency_ms": 0, "clock_skew_ms": 30_000})
    assert abs(c.get_server_time()["serverTime"] - int(time.time() * 1000) - 30_000) < 2_000
    with pytest.raises(BinanceAPIException) as e:
        c.get_account()  # our clock is now 30 s behind the venue's
    assert e.value.code == -1021
    _admin(st, "faults", {"clock_skew_ms": 0, "maintenance": True})
    info = c.get_symbol_info("BTCUSDT")
    assert info is not None and info["status"] == "BREAK"
    with pytest.raises(BinanceAPIException) as e:
        c.create_order(
            symbol="BTCUSDT", side="BUY", type="LIMIT", timeInForce="GTC", quantity="0.001", price="59000.00"
        )
    assert (e.value.code, e.value.message) == (-2010, "Market is closed.")
    bad = _admin(st, "faults", {"latency": 5})
    assert bad["status"] == 400 and "unknown fault 'latency'" in bad["error"]
    _admin(st, "faults", {"maintenance": False})


def test_outcome_unknown_5xx_after_execution(faulty: SimThread) -> None:
    st = faulty
    c = Client(API_KEY, API_SECRET)
    _admin(st, "faults", {"error_5xx": 1, "execute_before_5xx": True})
    with pytest.raises(BinanceAPIException) as e:
        c.create_order(
            symbol="BTCUSDT",
            side="BUY",
            type="LIMIT",
            timeInForce="GTC",
            quantity="0.001",
            price="59000.00",
            newClientOrderId="lost-answer-1",
        )
    assert e.value.status_code == 503
    # the answer was lost but the order exists: reconcile by client id
    o = c.get_order(symbol="BTCUSDT", origClientOrderId="lost-answer-1")
    assert o["status"] == "NEW"


def test_depth_gap_and_dropped_ws(faulty: SimThread) -> None:
    st = faulty

    async def run() -> tuple[list[tuple[int, int]], bool]:
        async with (
            aiohttp.ClientSession() as http,
            http.ws_connect(f"{st.ws_url}/ws/btcusdt@depth@100ms") as ws,
        ):
            events: list[tuple[int, int]] = []
            st.call(st.sim.depth_tick)
            for i in range(4):  # four diffs, the second of them swallowed by the fault
                if i == 1:
                    st.call(st.sim.faults.set, depth_gap=1)
                st.call(st.sim.flow.step)
                st.call(st.sim.depth_tick)
            st.call(st.sim.faults.drop_ws)
            closed = False
            for _ in range(10):  # every diff sent before the drop, then the close
                msg = await asyncio.wait_for(ws.receive(), 5)
                if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED):
                    closed = True
                    break
                d = json.loads(msg.data)
                events.append((d["U"], d["u"]))
            return events, closed

    events, closed = asyncio.run(run())
    gaps = [b[0] - a[1] for a, b in itertools.pairwise(events)]
    assert len(events) >= 3
    assert (
        sorted(gaps)[-1] > 1 and gaps.count(1) == len(gaps) - 1
    )  # one diff never arrived: U != previous u + 1
    assert closed
    eventually(lambda: st.call(lambda: len(st.sim.hub.conns)) == 0, 5)
