"""python-binance `AsyncClient` + `BinanceSocketManager` against the simulator: market streams, local
order book sync (DepthCacheManager), spot user data over the WS API and futures user data via listenKey.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import AsyncIterator
from decimal import Decimal

import aiohttp
import pytest
from binance import AsyncClient, BinanceSocketManager
from binance.ws.depthcache import DepthCacheManager

from oms.venues.sim.binance import BinanceSim, point_python_binance
from tests.integration.venues.conftest import API_KEY, API_SECRET

RECV_S = 5.0


@pytest.fixture
async def env(short_ws_timeout: None) -> AsyncIterator[tuple[BinanceSim, AsyncClient]]:
    sim = BinanceSim(seed=11)
    await sim.start()
    sim.add_api_key(API_KEY, API_SECRET)
    restore = point_python_binance(sim.url, sim.ws_url)
    client = await AsyncClient.create(API_KEY, API_SECRET)
    try:
        yield sim, client
    finally:
        await client.close_connection()
        restore()
        await sim.stop()


async def test_depth_stream_sequence_is_gapless(env: tuple[BinanceSim, AsyncClient]) -> None:
    _, client = env
    bm = BinanceSocketManager(client)
    async with bm.depth_socket("BTCUSDT", interval=100) as s:
        prev_u = None
        for _ in range(5):
            m = await asyncio.wait_for(s.recv(), RECV_S)
            assert m["e"] == "depthUpdate" and m["s"] == "BTCUSDT" and m["U"] <= m["u"]
            if prev_u is not None:
                assert m["U"] == prev_u + 1
            prev_u = m["u"]


async def test_futures_depth_pu_chain_and_snapshot_alignment(env: tuple[BinanceSim, AsyncClient]) -> None:
    _, client = env
    bm = BinanceSocketManager(client)
    async with bm.futures_multiplex_socket(["btcusdt@depth@100ms"], category="public") as s:
        first = (await asyncio.wait_for(s.recv(), RECV_S))["data"]  # buffering starts before the snapshot
        snap = await client.futures_order_book(symbol="BTCUSDT", limit=1000)
        events = [first] + [(await asyncio.wait_for(s.recv(), RECV_S))["data"] for _ in range(6)]
        for a, b in itertools.pairwise(events):
            assert b["pu"] == a["u"]  # each event chains to the previous one
        last = snap["lastUpdateId"]
        # the venue's rule: drop u < lastUpdateId; the first kept event has U <= lastUpdateId <= u
        kept = [e for e in events if e["u"] >= last]
        applied = bool(kept) and kept[0]["U"] <= last <= kept[0]["u"]
        assert applied


async def test_depth_cache_manager_syncs(env: tuple[BinanceSim, AsyncClient]) -> None:
    _, client = env
    async with DepthCacheManager(client, "ETHUSDT", refresh_interval=0) as dcm:
        for _ in range(3):
            cache = await asyncio.wait_for(dcm.recv(), RECV_S)
            bid, ask = cache.get_bids()[0][0], cache.get_asks()[0][0]
            assert 0 < bid < ask


async def test_spot_user_data_for_own_fill(env: tuple[BinanceSim, AsyncClient]) -> None:
    _, client = env
    bm = BinanceSocketManager(client)
    async with bm.user_socket() as us:
        o = await client.create_order(symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.002")
        events = [await asyncio.wait_for(us.recv(), RECV_S) for _ in range(3)]
    reports = [e for e in events if e["e"] == "executionReport"]
    assert [r["x"] for r in reports] == ["NEW", "TRADE"]
    assert reports[1]["i"] == o["orderId"] and reports[1]["X"] == "FILLED"
    assert Decimal(reports[1]["z"]) == Decimal("0.002")
    pos = next(e for e in events if e["e"] == "outboundAccountPosition")
    assert {b["a"] for b in pos["B"]} == {"BTC", "USDT"}


async def test_futures_user_data_for_own_fill(env: tuple[BinanceSim, AsyncClient]) -> None:
    _, client = env
    bm = BinanceSocketManager(client)
    async with bm.futures_user_socket() as fs:
        o = await client.futures_create_order(symbol="BTCUSDT", side="SELL", type="MARKET", quantity="0.01")
        events = [await asyncio.wait_for(fs.recv(), RECV_S) for _ in range(3)]
    kinds = [e["e"] for e in events]
    assert kinds == ["ORDER_TRADE_UPDATE", "ORDER_TRADE_UPDATE", "ACCOUNT_UPDATE"]
    assert events[1]["o"]["i"] == o["orderId"] and events[1]["o"]["X"] == "FILLED"
    assert events[2]["a"]["P"][0]["pa"] == "-0.010"


async def test_combined_streams_and_subscribe(env: tuple[BinanceSim, AsyncClient]) -> None:
    sim, _ = env
    async with aiohttp.ClientSession() as http:
        url = f"{sim.ws_url}/fstream/market/stream?streams=btcusdt@markPrice@1s"
        async with http.ws_connect(url) as ws:
            await ws.send_str(json.dumps({"method": "SUBSCRIBE", "params": ["btcusdt@aggTrade"], "id": 7}))
            seen: set[str] = set()
            got_reply = False
            for _ in range(500):
                msg = json.loads((await asyncio.wait_for(ws.receive(), RECV_S)).data)
                if msg.get("id") == 7:
                    got_reply = msg == {"result": None, "id": 7}
                    continue
                seen.add(msg["stream"])
                if msg["stream"] == "btcusdt@markPrice@1s":
                    assert msg["data"]["e"] == "markPriceUpdate"
                if len(seen) == 2:
                    break
            assert got_reply and seen == {"btcusdt@markPrice@1s", "btcusdt@aggTrade"}
        async with http.ws_connect(f"{sim.ws_url}/ws") as ws:
            await ws.send_str(json.dumps({"method": "SUBSCRIBE", "params": ["ethusdt@bookTicker"], "id": 1}))
            await ws.send_str(json.dumps({"method": "LIST_SUBSCRIPTIONS", "id": 2}))
            replies = {}
            while len(replies) < 2:
                m = json.loads((await asyncio.wait_for(ws.receive(), RECV_S)).data)
                if "id" in m:
                    replies[m["id"]] = m
            assert replies[2]["result"] == ["ethusdt@bookTicker"]
            m = json.loads((await asyncio.wait_for(ws.receive(), RECV_S)).data)
            assert m["s"] == "ETHUSDT" and set(m) == {"u", "s", "b", "B", "a", "A"}
