"""More of the simulator through python-binance: Ed25519 keys, the spot WS API for orders, IP
restriction, stale market data, maintenance refusing WebSockets, USD-M order-count headers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
import pytest
from binance import AsyncClient
from binance.client import Client
from binance.exceptions import BinanceAPIException
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from oms.venues.sim.binance import BinanceSim, SimThread, point_python_binance
from tests.integration.venues.conftest import API_KEY, API_SECRET


def test_ed25519_key_spot_and_futures(sim: SimThread) -> None:
    priv = Ed25519PrivateKey.generate()
    pem = priv.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    pub = priv.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    sim.call(sim.sim.add_api_key, "ed-key", ed25519_public_key=pub)
    c = Client("ed-key", private_key=pem)
    assert c.get_account()["accountType"] == "SPOT"
    o = c.create_order(
        symbol="BTCUSDT", side="BUY", type="LIMIT", timeInForce="GTC", quantity="0.01", price="50000.00"
    )
    assert o["status"] == "NEW"
    assert c.futures_account_balance()[0]["asset"] == "USDT"
    other = (
        Ed25519PrivateKey.generate()
        .private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        .decode()
    )
    with pytest.raises(BinanceAPIException) as e:
        Client("ed-key", private_key=other).get_account()
    assert e.value.code == -1022


def test_ip_restricted_key(sim: SimThread) -> None:
    sim.call(sim.sim.add_api_key, "ip-key", "ip-secret", ips=("10.1.2.3",))
    with pytest.raises(BinanceAPIException) as e:
        Client("ip-key", "ip-secret").get_account()
    assert (e.value.status_code, e.value.code) == (401, -2015)


def test_futures_order_count_headers(client: Client) -> None:
    client.futures_create_order(
        symbol="ETHUSDT", side="BUY", type="LIMIT", timeInForce="GTC", quantity="0.01", price="2900.00"
    )
    h = client.response.headers
    assert int(h["X-MBX-ORDER-COUNT-10S"]) >= 1 and int(h["X-MBX-ORDER-COUNT-1M"]) >= 1
    assert int(h["X-MBX-USED-WEIGHT-1M"]) >= 1


@pytest.fixture
async def asim(short_ws_timeout: None) -> AsyncIterator[BinanceSim]:
    s = BinanceSim(seed=21)
    await s.start()
    s.add_api_key(API_KEY, API_SECRET)
    restore = point_python_binance(s.url, s.ws_url)
    try:
        yield s
    finally:
        restore()
        await s.stop()


async def test_ws_api_order_entry(asim: BinanceSim) -> None:
    client = await AsyncClient.create(API_KEY, API_SECRET)
    try:
        placed = await client.ws_create_order(
            symbol="BTCUSDT", side="BUY", type="LIMIT", timeInForce="GTC", quantity="0.01", price="50000.00"
        )
        assert placed["status"] == "NEW" and placed["clientOrderId"].startswith("x-")
        got = await client.ws_get_order(symbol="BTCUSDT", orderId=placed["orderId"])
        assert got["price"] == "50000.00000000"
        gone = await client.ws_cancel_order(symbol="BTCUSDT", orderId=placed["orderId"])
        assert gone["status"] == "CANCELED"
        with pytest.raises(BinanceAPIException) as e:
            await client.ws_create_order(symbol="NOPE", side="BUY", type="MARKET", quantity="1")
        assert e.value.status_code == 400
    finally:
        await client.close_connection()


async def test_stale_depth_and_maintenance(asim: BinanceSim) -> None:
    async with aiohttp.ClientSession() as http:

        async def depth() -> dict:
            async with http.get(f"{asim.url}/api/v3/depth?symbol=BTCUSDT&limit=5") as r:
                return await r.json()

        asim.faults.set(stale_ms=60_000)
        first = await depth()
        for _ in range(5):
            asim.flow.step()
        assert await depth() == first  # served from the stale snapshot
        asim.faults.set(stale_ms=0)
        assert (await depth())["lastUpdateId"] > first["lastUpdateId"]
        asim.faults.set(maintenance=True)
        with pytest.raises(aiohttp.WSServerHandshakeError) as e:
            await http.ws_connect(f"{asim.ws_url}/ws/btcusdt@depth")
        assert e.value.status == 503
        async with http.get(f"{asim.url}/api/v3/exchangeInfo?symbol=BTCUSDT") as r:
            assert (await r.json())["symbols"][0]["status"] == "BREAK"
        asim.faults.set(maintenance=False)
        async with http.ws_connect(f"{asim.ws_url}/ws/btcusdt@depth") as ws:
            asim.flow.step()
            asim.depth_tick()
            msg = await asyncio.wait_for(ws.receive(), 5)
            assert msg.type == aiohttp.WSMsgType.TEXT


async def test_listen_key_expiry_and_keepalive(asim: BinanceSim) -> None:
    async with aiohttp.ClientSession() as http:
        hdr = {"X-MBX-APIKEY": API_KEY}
        async with http.post(f"{asim.url}/fapi/v1/listenKey", headers=hdr) as r:
            key = (await r.json())["listenKey"]
        async with http.post(f"{asim.url}/fapi/v1/listenKey", headers=hdr) as r:
            assert (await r.json())["listenKey"] == key  # one active key per account, as on the venue
        async with http.put(f"{asim.url}/fapi/v1/listenKey?listenKey=nope", headers=hdr) as r:
            assert (r.status, (await r.json())["code"]) == (400, -1125)
        async with http.ws_connect(f"{asim.ws_url}/fstream/private/ws?listenKey={key}") as ws:
            account, market, _ = asim.hub.listen[key]
            asim.hub.listen[key] = (account, market, asim.now() - 1)  # let it lapse
            assert asim.hub.expire_listen_keys() == 1
            msg = await asyncio.wait_for(ws.receive(), 5)
            assert msg.json() == {"e": "listenKeyExpired", "E": msg.json()["E"], "listenKey": key}
            assert (await asyncio.wait_for(ws.receive(), 5)).type in (
                aiohttp.WSMsgType.CLOSE,
                aiohttp.WSMsgType.CLOSED,
            )


async def test_futures_ws_api_order_entry(asim: BinanceSim) -> None:
    client = await AsyncClient.create(API_KEY, API_SECRET)
    try:
        placed = await client.ws_futures_create_order(
            symbol="BTCUSDT", side="BUY", type="LIMIT", timeInForce="GTC", quantity="0.01", price="58000.0"
        )
        assert placed["status"] == "NEW"
        moved = await client.ws_futures_edit_order(
            symbol="BTCUSDT", orderId=placed["orderId"], side="BUY", quantity="0.02", price="58001.0"
        )
        assert moved["origQty"] == "0.020" and moved["price"] == "58001.0"
        status = await client.ws_futures_get_order(symbol="BTCUSDT", orderId=placed["orderId"])
        assert status["status"] == "NEW"
        gone = await client.ws_futures_cancel_order(symbol="BTCUSDT", orderId=placed["orderId"])
        assert gone["status"] == "CANCELED"
        bal = await client.ws_futures_account_balance()
        assert bal[0]["asset"] == "USDT"
    finally:
        await client.close_connection()
        await client.ws_future.close()
