"""The Upbit simulator's WebSockets with a plain aiohttp client: public `orderbook` and `trade` in
Upbit's list-of-tickets request (SIMPLE and DEFAULT formats, ticket errors), and the private endpoint
with the JWT in the handshake's Authorization header (refused without it, with a bad one or a reused
nonce), pushing `myOrder` and `myAsset` as orders rest, fill and are canceled through REST.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import aiohttp
import jwt
import pytest

from oms.venues.sim.upbit import UpbitSim, krw_tick

ACCESS, SECRET = "upbit-ws-access", "upbit-ws-secret-" + "0123456789abcdef" * 3
D = Decimal


def bearer(nonce: str | None = None, params: dict[str, Any] | None = None) -> dict[str, str]:
    import hashlib
    from urllib.parse import urlencode

    claims: dict[str, Any] = {"access_key": ACCESS, "nonce": nonce or str(uuid.uuid4())}
    if params:
        claims["query_hash"] = hashlib.sha512(urlencode(params).encode()).hexdigest()
        claims["query_hash_alg"] = "SHA512"
    return {"Authorization": "Bearer " + jwt.encode(claims, SECRET, algorithm="HS512")}


@pytest.fixture
async def sim() -> AsyncIterator[UpbitSim]:
    async with UpbitSim(seed=3, flow=False) as s:
        s.add_api_key(ACCESS, SECRET)
        yield s


async def recv(ws: aiohttp.ClientWebSocketResponse, want: Any, timeout: float = 5.0) -> dict[str, Any]:
    async def loop() -> dict[str, Any]:
        while True:
            msg = json.loads((await ws.receive()).data)
            if want(msg):
                return msg

    return await asyncio.wait_for(loop(), timeout)


async def order(http: aiohttp.ClientSession, sim: UpbitSim, **p: Any) -> dict[str, Any]:
    async with http.post(sim.url + "/v1/orders", json=p, headers=bearer(params=p)) as r:
        body = await r.json()
        assert r.status == 201, body
        return body


async def test_public_orderbook_and_trade(sim: UpbitSim) -> None:
    async with aiohttp.ClientSession() as http, http.ws_connect(sim.ws_url + "/websocket/v1") as ws:
        await ws.send_str(
            json.dumps(
                [
                    {"ticket": "t1"},
                    {"type": "orderbook", "codes": ["KRW-BTC"]},
                    {"type": "trade", "codes": ["KRW-BTC"]},
                    {"format": "SIMPLE"},
                ]
            )
        )
        snap = await recv(ws, lambda m: m.get("ty") == "orderbook")
        assert snap["cd"] == "KRW-BTC" and snap["st"] == "SNAPSHOT" and len(snap["obu"]) == 15
        ask = D(str(snap["obu"][0]["ap"]))
        assert ask % krw_tick(ask) == 0
        await order(http, sim, market="KRW-BTC", side="bid", ord_type="price", price="2000000")
        t = await recv(ws, lambda m: m.get("ty") == "trade")
        assert t["cd"] == "KRW-BTC" and t["ab"] == "BID" and D(str(t["tp"])) == ask and t["st"] == "REALTIME"
        rt = await recv(ws, lambda m: m.get("ty") == "orderbook")
        assert rt["st"] == "REALTIME"
        await ws.send_str(json.dumps([{"ticket": "t2"}, {"type": "trade", "codes": ["KRW-BTC"]}]))
        await order(http, sim, market="KRW-BTC", side="ask", ord_type="market", volume="0.001")
        t = await recv(ws, lambda m: m.get("type") == "trade")  # DEFAULT format: full key names
        assert t["code"] == "KRW-BTC" and t["ask_bid"] == "ASK" and t["trade_volume"] > 0
        for bad, name in (
            ([{"type": "trade", "codes": ["KRW-BTC"]}], "NO_TICKET"),
            ([{"ticket": "x"}], "NO_TYPE"),
            ([{"ticket": "x"}, {"type": "trade"}], "NO_CODES"),
            ([{"ticket": "x"}, {"type": "myOrder"}], "INVALID_PARAM"),  # private data needs the JWT
            ({"ticket": "x"}, "WRONG_FORMAT"),
        ):
            await ws.send_str(json.dumps(bad))
            assert (await recv(ws, lambda m: "error" in m))["error"]["name"] == name


async def test_private_needs_a_good_jwt(sim: UpbitSim) -> None:
    url = sim.ws_url + "/websocket/v1/private"
    async with aiohttp.ClientSession() as http:
        for headers, name in (
            ({}, "jwt_verification"),
            (
                {
                    "Authorization": "Bearer "
                    + jwt.encode({"access_key": ACCESS, "nonce": "n"}, "x" * 64, algorithm="HS256")
                },
                "jwt_verification",
            ),
            (
                {
                    "Authorization": "Bearer "
                    + jwt.encode({"access_key": "nobody", "nonce": "n"}, SECRET, algorithm="HS256")
                },
                "invalid_access_key",
            ),
        ):
            async with http.get(url, headers=headers) as r:
                assert r.status == 401 and (await r.json())["error"]["name"] == name
        h = bearer("same-nonce")
        async with http.ws_connect(url, headers=h):
            pass
        async with http.get(url, headers=h) as r:
            assert r.status == 401 and (await r.json())["error"]["name"] == "nonce_used"


async def test_private_my_order_and_my_asset(sim: UpbitSim) -> None:
    async with (
        aiohttp.ClientSession() as http,
        http.ws_connect(sim.ws_url + "/websocket/v1/private", headers=bearer()) as ws,
    ):
        await ws.send_str(
            json.dumps([{"ticket": "p"}, {"type": "myOrder", "codes": ["KRW-ETH"]}, {"type": "myAsset"}])
        )
        await ws.send_str(json.dumps([{"ticket": "p"}, {"type": "orderbook", "codes": ["KRW-ETH"]}]))
        assert (await recv(ws, lambda m: "error" in m))["error"][
            "name"
        ] == "INVALID_PARAM"  # private endpoint only
        await ws.send_str(
            json.dumps([{"ticket": "p"}, {"type": "myOrder", "codes": ["KRW-ETH"]}, {"type": "myAsset"}])
        )
        await asyncio.sleep(0.05)
        bid = sim.core.specs["KRW-ETH"].tick * sim.core.books["KRW-ETH"].best_bid()
        price = bid - 3 * krw_tick(bid)
        placed = await order(
            http,
            sim,
            market="KRW-ETH",
            side="bid",
            ord_type="limit",
            price=str(price),
            volume="0.01",
            identifier="ws-1",
        )
        m = await recv(ws, lambda m: m.get("type") == "myOrder")
        assert (m["uuid"], m["state"], m["identifier"], m["ask_bid"]) == (
            placed["uuid"],
            "wait",
            "ws-1",
            "BID",
        )
        a = await recv(ws, lambda m: m.get("type") == "myAsset")
        krw = next(x for x in a["assets"] if x["currency"] == "KRW")
        assert D(str(krw["locked"])) == price * D("0.01")
        p = {"uuid": placed["uuid"]}
        async with http.delete(sim.url + "/v1/order", params=p, headers=bearer(params=p)) as r:
            assert r.status == 200
        m = await recv(ws, lambda m: m.get("type") == "myOrder")
        assert m["state"] == "cancel"
        await order(http, sim, market="KRW-ETH", side="bid", ord_type="price", price="100000")
        m = await recv(ws, lambda m: m.get("type") == "myOrder" and m["state"] == "trade")
        assert m["is_maker"] is False and m["trade_uuid"] and m["volume"] > 0
        await order(
            http, sim, market="KRW-BTC", side="bid", ord_type="price", price="100000"
        )  # not subscribed
        await ws.send_str(json.dumps([{"ticket": "p"}, {"type": "myOrder"}, {"format": "SIMPLE"}]))
        await asyncio.sleep(0.05)
        await order(http, sim, market="KRW-BTC", side="bid", ord_type="price", price="100000")
        m = await recv(ws, lambda m: m.get("ty") == "myOrder")
        assert m["cd"] == "KRW-BTC" and m["ab"] == "BID"


async def test_flow_moves_the_book_and_the_private_stream_drops_on_the_fault() -> None:
    async with UpbitSim(seed=4, flow=True) as sim, aiohttp.ClientSession() as http:
        sim.add_api_key(ACCESS, SECRET)
        async with http.ws_connect(sim.ws_url + "/websocket/v1") as pub:
            await pub.send_str(json.dumps([{"ticket": "f"}, {"type": "trade", "codes": ["KRW-USDT"]}]))
            t = await recv(pub, lambda m: m.get("type") == "trade", timeout=10)  # the seeded flow trades
            assert D(str(t["trade_price"])) % krw_tick(D(str(t["trade_price"]))) == 0
        async with http.ws_connect(sim.ws_url + "/websocket/v1/private", headers=bearer()) as ws:
            await ws.send_str(json.dumps([{"ticket": "p"}, {"type": "myOrder"}, {"type": "myAsset"}]))
            await asyncio.sleep(0.05)
            sim.faults.set(drop_user_ws_after=2)
            await order(http, sim, market="KRW-BTC", side="bid", ord_type="price", price="1000000")
            got = []
            while True:
                msg = await asyncio.wait_for(ws.receive(), 5)
                if msg.type != aiohttp.WSMsgType.TEXT:
                    break
                got.append(json.loads(msg.data))
            assert len(got) == 2 and ws.closed  # dropped in the middle of the fill's pushes
