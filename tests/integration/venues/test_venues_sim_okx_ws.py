"""The OKX simulator's WebSockets through a plain aiohttp client following OKX's documented frames
(python-okx's WebSocketFactory always passes an SSL context, which `websockets` refuses for the
simulator's loopback ws:// URL; its `WsPrivateAsync` also sleeps 5 s after every login):
`login` (base64 HMAC of timestamp + "GET/users/self/verify") and its refusals, private `orders` pushes
for orders placed with python-okx, public `books` kept as a local book whose CRC32 checksum matches
every update (seqId / prevSeqId chained), a corrupted update the checksum catches, `trades`, `tickers`,
and text ping / pong.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import aiohttp
import pytest
from okx import MarketData, Trade

from oms.venues.sim.okx import OkxSim, SimThread, checksum, default_config

KEY, SECRET, PASS = "okx-ws-key", "okx-ws-secret-0123456789", "okx-Pass-2"
D = Decimal


@pytest.fixture(scope="module")
def st() -> Iterator[SimThread]:
    with SimThread(OkxSim(seed=11, flow=True)) as t:
        t.call(t.sim.add_api_key, KEY, SECRET, PASS)
        yield t


def login_frame(
    ts: str | None = None, secret: str = SECRET, pp: str = PASS, key: str = KEY
) -> dict[str, Any]:
    ts = ts or str(int(time.time()))
    sign = base64.b64encode(
        hmac.new(secret.encode(), f"{ts}GET/users/self/verify".encode(), hashlib.sha256).digest()
    )
    return {
        "op": "login",
        "args": [{"apiKey": key, "passphrase": pp, "timestamp": ts, "sign": sign.decode()}],
    }


async def recv(ws: aiohttp.ClientWebSocketResponse, pred: Any, timeout: float = 5.0) -> Any:
    async def loop() -> Any:
        while True:
            msg = await ws.receive()
            assert msg.type == aiohttp.WSMsgType.TEXT, msg
            data = msg.data if msg.data == "pong" else json.loads(msg.data)
            if pred(data):
                return data

    return await asyncio.wait_for(loop(), timeout)


def test_login_refusals_and_private_order_pushes(st: SimThread) -> None:
    trade = Trade.TradeAPI(KEY, SECRET, PASS, flag="1", domain=st.url)
    bid = D(
        MarketData.MarketAPI(flag="1", domain=st.url).get_orderbook("BTC-USDT-SWAP", sz=1)["data"][0]["bids"][
            0
        ][0]
    )

    async def run() -> None:
        async with aiohttp.ClientSession() as s, s.ws_connect(st.ws_url + "/ws/v5/private") as ws:
            await ws.send_str(
                json.dumps({"op": "subscribe", "args": [{"channel": "orders", "instType": "ANY"}]})
            )
            assert (await recv(ws, lambda d: True))["code"] == "60011"
            for frame, code in (
                (login_frame(secret="wrong"), "60007"),
                (login_frame(ts=str(int(time.time()) - 60)), "60004"),
                (login_frame(pp="wrong"), "60024"),
            ):
                await ws.send_str(json.dumps(frame))
                assert (await recv(ws, lambda d: True))["code"] == code
            await ws.send_str(json.dumps(login_frame()))
            assert await recv(ws, lambda d: True) == {
                "event": "login",
                "code": "0",
                "msg": "",
                "connId": ws_conn(st),
            }
            await ws.send_str(
                json.dumps({"op": "subscribe", "args": [{"channel": "orders", "instType": "SWAP"}]})
            )
            assert (await recv(ws, lambda d: True))["event"] == "subscribe"
            r = await asyncio.to_thread(
                trade.place_order,
                "BTC-USDT-SWAP",
                "cross",
                "buy",
                "limit",
                "1",
                px=str(bid - 500),
                clOrdId="ws1",
            )
            oid = r["data"][0]["ordId"]
            live = await recv(ws, lambda d: "data" in d and d["data"][0]["ordId"] == oid)
            assert live["arg"]["channel"] == "orders" and live["data"][0]["state"] == "live"
            assert live["data"][0]["clOrdId"] == "ws1" and live["data"][0]["sz"] == "1"
            await asyncio.to_thread(trade.cancel_order, "BTC-USDT-SWAP", ordId=oid)
            gone = await recv(ws, lambda d: "data" in d and d["data"][0]["state"] == "canceled")
            assert gone["data"][0]["ordId"] == oid
            m = await asyncio.to_thread(trade.place_order, "BTC-USDT-SWAP", "cross", "buy", "market", "1")
            fill = await recv(ws, lambda d: "data" in d and d["data"][0]["state"] == "filled")
            assert fill["data"][0]["ordId"] == m["data"][0]["ordId"] and fill["data"][0]["fillSz"] == "1"
            assert D(fill["data"][0]["fillPx"]) > 0 and fill["data"][0]["tradeId"]
            await ws.send_str("ping")
            assert await recv(ws, lambda d: d == "pong") == "pong"
            # account and positions: the current state on subscribe, then a push per change
            subs = [{"channel": "account"}, {"channel": "positions", "instType": "SWAP"}]
            await ws.send_str(json.dumps({"op": "subscribe", "args": subs}))
            acct = await recv(ws, lambda d: d.get("arg", {}).get("channel") == "account" and "data" in d)
            assert {r["ccy"] for r in acct["data"][0]["details"]} >= {"USDT", "BTC"}
            pos0 = await recv(ws, lambda d: d.get("arg", {}).get("channel") == "positions" and "data" in d)
            assert pos0["data"][0]["pos"] == "1" and pos0["data"][0]["instId"] == "BTC-USDT-SWAP"
            await asyncio.to_thread(trade.place_order, "BTC-USDT-SWAP", "cross", "buy", "market", "2")
            pos = await recv(
                ws,
                lambda d: (
                    d.get("arg", {}).get("channel") == "positions"
                    and d["data"]
                    and d["data"][0]["pos"] == "3"
                ),
            )
            assert D(pos["data"][0]["avgPx"]) > 0 and pos["data"][0]["posSide"] == "net"

    asyncio.run(run())


def ws_conn(st: SimThread) -> str:
    conns = st.call(lambda: [c.authed["connId"] for c in st.sim.hub.conns if c.market == "private"])
    return conns[0]


class LocalBook:
    def __init__(self) -> None:
        self.bids: dict[str, str] = {}
        self.asks: dict[str, str] = {}

    def apply(self, data: dict[str, Any]) -> None:
        for side, rows in ((self.bids, data["bids"]), (self.asks, data["asks"])):
            for px, sz, *_ in rows:
                if D(sz) == 0:
                    side.pop(px, None)
                else:
                    side[px] = sz

    def checksum(self) -> int:
        bids = sorted(self.bids.items(), key=lambda kv: -D(kv[0]))
        asks = sorted(self.asks.items(), key=lambda kv: D(kv[0]))
        return checksum([list(b) for b in bids], [list(a) for a in asks])


def test_books_checksum_seq_and_corruption(st: SimThread) -> None:
    async def run() -> None:
        async with aiohttp.ClientSession() as s, s.ws_connect(st.ws_url + "/ws/v5/public") as ws:
            args = [{"channel": c, "instId": "BTC-USDT-SWAP"} for c in ("books", "trades", "tickers")]
            await ws.send_str(json.dumps({"op": "subscribe", "args": args}))
            snap = await recv(ws, lambda d: isinstance(d, dict) and d.get("action") == "snapshot")
            book = LocalBook()
            book.apply(snap["data"][0])
            assert snap["data"][0]["prevSeqId"] == -1 and book.checksum() == snap["data"][0]["checksum"]
            assert all(int(r[3]) >= 1 for r in snap["data"][0]["bids"] + snap["data"][0]["asks"])  # numOrders
            seq = snap["data"][0]["seqId"]
            for _ in range(5):
                up = await recv(ws, lambda d: isinstance(d, dict) and d.get("action") == "update")
                d = up["data"][0]
                assert d["prevSeqId"] == seq
                seq = d["seqId"]
                book.apply(d)
                assert book.checksum() == d["checksum"]
            st.call(st.sim.corrupt_books, 1)
            up = await recv(ws, lambda d: isinstance(d, dict) and d.get("action") == "update")
            book.apply(up["data"][0])
            assert book.checksum() != up["data"][0]["checksum"]  # the client must resync
            trade = await recv(
                ws,
                lambda d: isinstance(d, dict) and d.get("arg", {}).get("channel") == "trades" and "data" in d,
            )
            assert trade["data"][0]["instId"] == "BTC-USDT-SWAP" and D(trade["data"][0]["px"]) > 0
            tick = await recv(
                ws,
                lambda d: (
                    isinstance(d, dict) and d.get("arg", {}).get("channel") == "tickers" and "data" in d
                ),
            )
            assert D(tick["data"][0]["bidPx"]) < D(tick["data"][0]["askPx"])
            await ws.send_str(
                json.dumps({"op": "subscribe", "args": [{"channel": "books", "instId": "NOPE"}]})
            )
            assert (await recv(ws, lambda d: isinstance(d, dict) and d.get("event") == "error"))[
                "code"
            ] == "60018"

    asyncio.run(run())


def test_idle_socket_closed_ping_keeps_alive_and_depth_gap() -> None:
    cfg = default_config()
    cfg.ws_idle_s = 0.6
    with SimThread(OkxSim(seed=2, config=cfg, flow=True)) as st:

        async def run() -> None:
            async with (
                aiohttp.ClientSession() as s,
                s.ws_connect(st.ws_url + "/ws/v5/public") as idle,
                s.ws_connect(st.ws_url + "/ws/v5/public") as alive,
            ):
                for _ in range(5):
                    await alive.send_str("ping")
                    assert await recv(alive, lambda d: d == "pong") == "pong"
                    await asyncio.sleep(0.3)
                closed = await asyncio.wait_for(idle.receive(), 2)
                assert closed.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
                arg = {"channel": "books", "instId": "BTC-USDT"}
                await alive.send_str(json.dumps({"op": "subscribe", "args": [arg]}))
                snap = await recv(alive, lambda d: isinstance(d, dict) and d.get("action") == "snapshot")
                st.call(st.sim.faults.set, depth_gap=1)
                up = await recv(alive, lambda d: isinstance(d, dict) and d.get("action") == "update")
                assert up["data"][0]["prevSeqId"] > snap["data"][0]["seqId"]  # one update never came

        asyncio.run(run())


def test_private_pushes_stay_with_their_account(st: SimThread) -> None:
    st.call(st.sim.add_api_key, "spy", "spy-secret", "spy-pp")
    trade = Trade.TradeAPI(KEY, SECRET, PASS, flag="1", domain=st.url)

    async def run() -> None:
        async with aiohttp.ClientSession() as s, s.ws_connect(st.ws_url + "/ws/v5/private") as spy:
            await spy.send_str(json.dumps(login_frame(secret="spy-secret", pp="spy-pp", key="spy")))
            assert (await recv(spy, lambda d: True))["code"] == "0"
            subs = [{"channel": "orders", "instType": "ANY"}, {"channel": "positions", "instType": "SWAP"}]
            await spy.send_str(json.dumps({"op": "subscribe", "args": subs}))
            own = await recv(spy, lambda d: "data" in d and d["arg"]["channel"] == "positions")
            assert own["data"] == []  # its own (flat) positions, right after subscribing
            await asyncio.to_thread(trade.place_order, "BTC-USDT-SWAP", "cross", "buy", "market", "1")
            with pytest.raises(asyncio.TimeoutError):
                await recv(spy, lambda d: True, timeout=0.5)  # nothing of the other account's arrives

    asyncio.run(run())


def test_business_socket_orders_algo(st: SimThread) -> None:
    trade = Trade.TradeAPI(KEY, SECRET, PASS, flag="1", domain=st.url)
    ask = D(
        MarketData.MarketAPI(flag="1", domain=st.url).get_orderbook("BTC-USDT", sz=1)["data"][0]["asks"][0][0]
    )

    async def run() -> None:
        async with aiohttp.ClientSession() as s, s.ws_connect(st.ws_url + "/ws/v5/business") as ws:
            arg = {"channel": "orders-algo", "instType": "SPOT"}
            await ws.send_str(json.dumps({"op": "subscribe", "args": [arg]}))
            assert (await recv(ws, lambda d: True))["code"] == "60011"  # log in first
            await ws.send_str(json.dumps(login_frame()))
            assert (await recv(ws, lambda d: True))["code"] == "0"
            await ws.send_str(
                json.dumps({"op": "subscribe", "args": [{"channel": "orders", "instType": "ANY"}]})
            )
            assert (await recv(ws, lambda d: True))["code"] == "60018"  # orders live on /private
            await ws.send_str(json.dumps({"op": "subscribe", "args": [arg]}))
            assert (await recv(ws, lambda d: True))["event"] == "subscribe"
            r = await asyncio.to_thread(
                trade.place_algo_order,
                "BTC-USDT",
                "cash",
                "buy",
                "trigger",
                "0.001",
                triggerPx=str(ask + 4000),
                orderPx="-1",
            )
            aid = r["data"][0]["algoId"]
            live = await recv(ws, lambda d: "data" in d and d["data"][0]["algoId"] == aid)
            assert live["arg"]["channel"] == "orders-algo" and live["data"][0]["state"] == "live"
            assert live["data"][0]["triggerPx"] == f"{ask + 4000:.1f}"
            await asyncio.to_thread(trade.cancel_algo_order, [{"instId": "BTC-USDT", "algoId": aid}])
            gone = await recv(ws, lambda d: "data" in d and d["data"][0]["state"] == "canceled")
            assert gone["data"][0]["algoId"] == aid

    asyncio.run(run())
