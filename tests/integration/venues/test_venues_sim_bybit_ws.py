"""pybit's `WebSocket` against the Bybit simulator: a public order book (snapshot, then deltas whose
`u` counts up, size "0" deleting a level) and trades, and the private order / execution / position /
wallet pushes after an authenticated login; a login with a bad signature or an expired time is refused
with Bybit's answer. URLs are the only thing pointed at the simulator.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from decimal import Decimal

import pytest
from pybit.exceptions import InvalidRequestError
from pybit.unified_trading import HTTP, WebSocket

from oms.testing import eventually
from oms.venues.sim.bybit import BybitSim, SimThread, point_pybit, point_pybit_ws

KEY, SECRET = "bybit-ws-key", "bybit-ws-secret-0123456789"
D = Decimal


@pytest.fixture(scope="module")
def st() -> Iterator[SimThread]:
    with SimThread(BybitSim(seed=9, flow=False)) as t:
        t.call(t.sim.add_api_key, KEY, SECRET)
        restore = point_pybit_ws(t.ws_url)
        try:
            yield t
        finally:
            restore()


class Inbox:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.items: list[dict] = []

    def __call__(self, msg: dict) -> None:
        with self.lock:
            self.items.append(msg)

    def of(self, topic: str) -> list[dict]:
        with self.lock:
            return [m for m in self.items if m.get("topic") == topic]


def test_public_book_and_trades(st: SimThread) -> None:
    ws = WebSocket(channel_type="linear", testnet=False)
    book, trades = Inbox(), Inbox()
    try:
        ws.orderbook_stream(50, "BTCUSDT", book)
        ws.trade_stream("BTCUSDT", trades)
        first = eventually(lambda: book.of("orderbook.50.BTCUSDT"), timeout=5)[0]
        assert len(first["data"]["b"]) == 20 and first["data"]["u"] == 1  # the sim's 20 levels each side
        http = point_pybit(HTTP(api_key=KEY, api_secret=SECRET), st.url)
        bid = D(first["data"]["b"][0][0])
        http.place_order(
            category="linear",
            symbol="BTCUSDT",
            side="Buy",
            orderType="Limit",
            qty="0.5",
            price=str(bid + D("0.1")),
        )  # a new best bid
        http.place_order(category="linear", symbol="BTCUSDT", side="Sell", orderType="Market", qty="1")
        eventually(lambda: trades.of("publicTrade.BTCUSDT"), timeout=5)
        t = trades.of("publicTrade.BTCUSDT")[0]["data"][0]
        assert t["s"] == "BTCUSDT" and t["S"] == "Sell" and D(t["v"]) > 0
        # pybit folds the deltas into its local book; the sim's own book must match it
        want = st.call(
            lambda: [
                [str(st.sim.cores["linear"].specs["BTCUSDT"].tick * p), q]
                for p, q in st.sim.cores["linear"].books["BTCUSDT"].levels(1, 50)
            ]
        )

        def synced() -> bool:
            msgs = book.of("orderbook.50.BTCUSDT")
            local = sorted(((D(p), D(q)) for p, q in msgs[-1]["data"]["b"]), reverse=True)
            spec = st.sim.cores["linear"].specs["BTCUSDT"]
            return len(msgs) > 1 and [(p, q) for p, q in local] == [(D(p), spec.step * q) for p, q in want]

        eventually(synced, timeout=5)
        assert book.of("orderbook.50.BTCUSDT")[-1]["data"]["u"] > 1
    finally:
        ws.exit()


def test_private_order_and_execution_pushes(st: SimThread) -> None:
    ws = WebSocket(channel_type="private", testnet=False, api_key=KEY, api_secret=SECRET)
    orders, execs, positions, wallet = Inbox(), Inbox(), Inbox(), Inbox()
    try:
        eventually(lambda: ws.auth, timeout=5)
        ws.order_stream(orders)
        ws.execution_stream(execs)
        ws.position_stream(positions)
        ws.wallet_stream(wallet)
        time.sleep(0.2)  # let the subscriptions land before trading
        http = point_pybit(HTTP(api_key=KEY, api_secret=SECRET), st.url)
        r = http.place_order(
            category="linear",
            symbol="ETHUSDT",
            side="Buy",
            orderType="Market",
            qty="0.5",
            orderLinkId="ws-mkt-1",
        )["result"]
        eventually(
            lambda: any(d["orderStatus"] == "Filled" for m in orders.of("order") for d in m["data"]),
            timeout=5,
        )
        filled = next(d for m in orders.of("order") for d in m["data"] if d["orderStatus"] == "Filled")
        assert (filled["orderId"], filled["orderLinkId"], filled["category"]) == (
            r["orderId"],
            "ws-mkt-1",
            "linear",
        )
        got = eventually(lambda: [d for m in execs.of("execution") for d in m["data"]], timeout=5)
        assert {e["orderId"] for e in got} == {r["orderId"]} and sum(D(e["execQty"]) for e in got) == D("0.5")
        pos = eventually(lambda: positions.of("position"), timeout=5)[-1]["data"][0]
        assert (pos["symbol"], pos["side"], pos["size"]) == ("ETHUSDT", "Buy", "0.50")
        w = eventually(lambda: wallet.of("wallet"), timeout=5)[-1]["data"][0]
        assert w["accountType"] == "UNIFIED" and any(c["coin"] == "USDT" for c in w["coin"])
    finally:
        ws.exit()


def _raw_auth(url: str, args: list) -> dict:
    import websocket  # websocket-client, pybit's own transport

    c = websocket.create_connection(url, timeout=5)
    try:
        c.send(json.dumps({"op": "auth", "args": args, "req_id": "a1"}))
        return json.loads(c.recv())
    finally:
        c.close()


def test_private_login_is_checked(st: SimThread) -> None:
    url = st.ws_url + "/v5/private"
    expires = int(time.time() * 1000) + 5000
    good = hmac.new(SECRET.encode(), f"GET/realtime{expires}".encode(), hashlib.sha256).hexdigest()
    assert _raw_auth(url, [KEY, expires, good])["success"] is True
    bad = _raw_auth(url, [KEY, expires, "00" * 32])
    assert (bad["success"], bad["op"]) == (False, "auth") and "sign" in bad["ret_msg"]
    old = int(time.time() * 1000) - 1000
    sig = hmac.new(SECRET.encode(), f"GET/realtime{old}".encode(), hashlib.sha256).hexdigest()
    late = _raw_auth(url, [KEY, old, sig])
    assert (late["success"], late["ret_msg"], late["req_id"]) == (False, "Request expired", "a1")
    assert _raw_auth(url, ["nobody", expires, good])["ret_msg"] == "Invalid apikey"


def test_disconnect_cancel_after_the_private_socket_drops(st: SimThread) -> None:
    http = point_pybit(HTTP(api_key=KEY, api_secret=SECRET), st.url)
    with pytest.raises(InvalidRequestError) as e:
        http.set_dcp(product="DERIVATIVES", timeWindow=1)
    assert (e.value.status_code, e.value.message) == (
        10001,
        "params error: timeWindow must be 3..300 seconds",
    )
    http.set_dcp(product="DERIVATIVES", timeWindow=3)
    info = http.query_dcp_info()["result"]["dcpInfos"]
    assert {"product": "DERIVATIVES", "dcpStatus": "ON", "timeWindow": "3"} in info
    bid = D(http.get_orderbook(category="linear", symbol="BTCUSDT")["result"]["b"][0][0])
    http.place_order(
        category="linear",
        symbol="BTCUSDT",
        side="Buy",
        orderType="Limit",
        qty="0.01",
        price=str(bid - 500),
        orderLinkId="dcp-1",
    )
    ws = WebSocket(
        channel_type="private", testnet=False, api_key=KEY, api_secret=SECRET, restart_on_error=False
    )
    eventually(lambda: ws.auth, timeout=5)
    ws.exit()  # the connector died: no private socket any more
    fired = st.call(lambda: st.sim.hub.dcp_fired)

    def cancelled() -> bool:
        rows = http.get_open_orders(category="linear", symbol="BTCUSDT", orderLinkId="dcp-1")["result"][
            "list"
        ]
        return rows[0]["orderStatus"] == "Cancelled"

    assert not cancelled()  # not before the window
    eventually(cancelled, timeout=8)
    assert st.call(lambda: st.sim.hub.dcp_fired) > fired


def test_faults_drop_user_stream_mid_fill_and_5xx_after_placing(st: SimThread) -> None:
    import websocket

    http = point_pybit(HTTP(api_key=KEY, api_secret=SECRET, max_retries=1), st.url)
    c = websocket.create_connection(st.ws_url + "/v5/private", timeout=5)
    try:
        expires = int(time.time() * 1000) + 5000
        sig = hmac.new(SECRET.encode(), f"GET/realtime{expires}".encode(), hashlib.sha256).hexdigest()
        c.send(json.dumps({"op": "auth", "args": [KEY, expires, sig]}))
        assert json.loads(c.recv())["success"] is True
        c.send(json.dumps({"op": "subscribe", "args": ["execution"]}))
        assert json.loads(c.recv())["success"] is True
        st.call(st.sim.faults.set, drop_user_ws_after=2)
        r = http.place_order(category="linear", symbol="ETHUSDT", side="Sell", orderType="Market", qty="3")
        got = []
        with pytest.raises(
            (websocket.WebSocketConnectionClosedException, websocket.WebSocketTimeoutException)
        ):
            while True:
                frame = c.recv()
                if not frame:
                    raise websocket.WebSocketConnectionClosedException("closed")
                got.append(json.loads(frame))
        assert len(got) == 2 and all(m["topic"] == "execution" for m in got)  # then the socket died
        order = http.get_open_orders(category="linear", symbol="ETHUSDT", orderId=r["result"]["orderId"])
        fills = http.get_executions(category="linear", symbol="ETHUSDT", limit=100)["result"]["list"]
        assert order["result"]["list"][0]["orderStatus"] == "Filled"
        assert len([f for f in fills if f["orderId"] == r["result"]["orderId"]]) > 2  # more fills than pushed
    finally:
        c.close()
    from pybit.exceptions import FailedRequestError

    st.call(st.sim.faults.set, error_5xx=1, execute_before_5xx=True)
    with pytest.raises(FailedRequestError) as e:  # the answer is lost, the order is not
        http.place_order(
            category="linear",
            symbol="BTCUSDT",
            side="Buy",
            orderType="Limit",
            qty="0.01",
            price="50000",
            orderLinkId="lost-answer",
        )
    assert e.value.status_code == 503
    row = http.get_open_orders(category="linear", symbol="BTCUSDT", orderLinkId="lost-answer")["result"][
        "list"
    ][0]
    assert row["orderStatus"] == "New"
    st.call(st.sim.faults.set, execute_before_5xx=False)
