"""pybit (Bybit's official SDK) `HTTP` against the Bybit simulator built on the kit: place, amend,
cancel, cancel-all and batch orders (spot and linear), positions, leverage, the UNIFIED wallet,
instruments and the book; and Bybit's own codes for a bad signature (10004), an expired timestamp
(10002), an unknown key (10003), an unknown symbol, lot-size and tick violations and the rate limit
(10006 with the X-Bapi-Limit headers).

The session's base URL is the only thing pointed at the simulator; every call is signed by pybit.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest
from pybit.exceptions import InvalidRequestError
from pybit.unified_trading import HTTP

from oms.venues.sim.bybit import BybitConfig, BybitSim, SimThread, default_config, point_pybit

KEY, SECRET = "bybit-test-key", "bybit-test-secret-0123456789"
D = Decimal
NO_RETRY = {-1}  # pybit retries 10002 / 10006 by default; the tests want to see them


def session(st: SimThread, key: str = KEY, secret: str = SECRET, **kw: object) -> HTTP:
    return point_pybit(
        HTTP(api_key=key, api_secret=secret, retry_codes=NO_RETRY, max_retries=1, **kw), st.url
    )


@pytest.fixture(scope="module")
def st() -> Iterator[SimThread]:
    cfg: BybitConfig = default_config()
    cfg.trade_per_s = 1000  # the rate-limit test runs its own simulator
    with SimThread(BybitSim(seed=5, config=cfg, flow=False)) as t:
        t.call(t.sim.add_api_key, KEY, SECRET)
        yield t


@pytest.fixture(scope="module")
def http(st: SimThread) -> HTTP:
    return session(st)


def best(http: HTTP, category: str, symbol: str) -> tuple[D, D]:
    book = http.get_orderbook(category=category, symbol=symbol, limit=5)["result"]
    return D(book["b"][0][0]), D(book["a"][0][0])


def test_market_data_instruments_and_time(st: SimThread, http: HTTP) -> None:
    t = http.get_server_time()
    assert t["retCode"] == 0 and abs(int(t["result"]["timeSecond"]) * 1000 - st.sim.now()) < 2000
    lin = http.get_instruments_info(category="linear", symbol="BTCUSDT")["result"]["list"][0]
    assert lin["priceFilter"]["tickSize"] == "0.1" and lin["lotSizeFilter"]["qtyStep"] == "0.001"
    assert lin["lotSizeFilter"]["minNotionalValue"] == "5" and lin["contractType"] == "LinearPerpetual"
    spot = http.get_instruments_info(category="spot")["result"]["list"]
    assert {s["symbol"] for s in spot} == {"BTCUSDT", "ETHUSDT"}
    assert spot[0]["lotSizeFilter"]["basePrecision"] and spot[0]["lotSizeFilter"]["minOrderAmt"] == "1"
    book = http.get_orderbook(category="linear", symbol="BTCUSDT")["result"]
    assert len(book["b"]) == 20 and D(book["b"][0][0]) < D(book["a"][0][0]) and book["u"] >= 1
    assert len(http.get_orderbook(category="spot", symbol="BTCUSDT")["result"]["b"]) == 1  # spot default 1
    tick = http.get_tickers(category="linear", symbol="ETHUSDT")["result"]["list"][0]
    assert D(tick["bid1Price"]) < D(tick["ask1Price"]) and D(tick["markPrice"]) > 0


def test_linear_place_amend_cancel_and_position(http: HTTP) -> None:
    bid, ask = best(http, "linear", "BTCUSDT")
    far = (bid * D("0.97")).quantize(D("0.1"))
    r = http.place_order(
        category="linear",
        symbol="BTCUSDT",
        side="Buy",
        orderType="Limit",
        qty="0.01",
        price=str(far),
        orderLinkId="lin-1",
    )
    assert r["retCode"] == 0 and r["result"]["orderLinkId"] == "lin-1"
    oid = r["result"]["orderId"]
    row = http.get_open_orders(category="linear", symbol="BTCUSDT")["result"]["list"][0]
    assert (row["orderId"], row["orderStatus"], row["price"], row["qty"]) == (oid, "New", f"{far}", "0.010")
    http.amend_order(category="linear", symbol="BTCUSDT", orderLinkId="lin-1", price=str(far - 1), qty="0.02")
    row = http.get_open_orders(category="linear", symbol="BTCUSDT", orderId=oid)["result"]["list"][0]
    assert (D(row["price"]), D(row["qty"])) == (far - 1, D("0.02"))
    assert http.cancel_order(category="linear", symbol="BTCUSDT", orderId=oid)["result"]["orderId"] == oid
    with pytest.raises(InvalidRequestError) as e:
        http.cancel_order(category="linear", symbol="BTCUSDT", orderId=oid)
    assert (e.value.status_code, e.value.message) == (110001, "Order does not exist.")
    done = http.get_order_history(category="linear", symbol="BTCUSDT")["result"]["list"][0]
    assert (done["orderId"], done["orderStatus"]) == (oid, "Cancelled")
    http.set_leverage(category="linear", symbol="BTCUSDT", buyLeverage="5", sellLeverage="5")
    with pytest.raises(InvalidRequestError) as e:
        http.set_leverage(category="linear", symbol="BTCUSDT", buyLeverage="5", sellLeverage="5")
    assert (e.value.status_code, e.value.message) == (110043, "Set leverage not modified")
    m = http.place_order(category="linear", symbol="BTCUSDT", side="Buy", orderType="Market", qty="0.05")
    pos = http.get_positions(category="linear", symbol="BTCUSDT")["result"]["list"][0]
    assert (pos["side"], pos["size"], pos["leverage"]) == ("Buy", "0.050", "5")
    assert D(pos["avgPrice"]) >= ask
    fills = http.get_executions(category="linear", symbol="BTCUSDT")["result"]["list"]
    assert fills and {f["orderId"] for f in fills} == {m["result"]["orderId"]}
    assert sum(D(f["execQty"]) for f in fills) == D("0.05")
    with pytest.raises(InvalidRequestError) as e:  # reduce-only the wrong way
        http.place_order(
            category="linear", symbol="BTCUSDT", side="Buy", orderType="Market", qty="0.05", reduceOnly=True
        )
    assert e.value.status_code == 110017
    http.place_order(
        category="linear", symbol="BTCUSDT", side="Sell", orderType="Market", qty="0.05", reduceOnly=True
    )
    assert http.get_positions(category="linear", settleCoin="USDT")["result"]["list"] == []


def test_conditional_post_only_and_batch(http: HTTP) -> None:
    bid, ask = best(http, "linear", "ETHUSDT")
    with pytest.raises(InvalidRequestError) as e:  # a rising trigger below the market fires at once
        http.place_order(
            category="linear",
            symbol="ETHUSDT",
            side="Buy",
            orderType="Market",
            qty="0.1",
            triggerPrice=str(bid - 50),
            triggerDirection=1,
        )
    assert e.value.status_code == 110092
    c = http.place_order(
        category="linear",
        symbol="ETHUSDT",
        side="Buy",
        orderType="Market",
        qty="0.1",
        triggerPrice=str(ask + 50),
        triggerDirection=1,
    )["result"]
    row = http.get_open_orders(category="linear", symbol="ETHUSDT", orderId=c["orderId"])["result"]["list"][0]
    assert (row["orderStatus"], row["triggerDirection"], D(row["triggerPrice"])) == (
        "Untriggered",
        1,
        ask + 50,
    )
    po = http.place_order(
        category="linear",
        symbol="ETHUSDT",
        side="Buy",
        orderType="Limit",
        qty="0.1",
        price=str(ask),
        timeInForce="PostOnly",
    )["result"]  # would take: accepted, then cancelled
    row = http.get_open_orders(category="linear", symbol="ETHUSDT", orderId=po["orderId"])["result"]["list"][
        0
    ]
    assert row["orderStatus"] == "Cancelled" and row["cumExecQty"] == "0.00"
    reqs = [
        {
            "symbol": "ETHUSDT",
            "side": "Buy",
            "orderType": "Limit",
            "qty": "0.1",
            "price": str(bid - 20 - i),
            "orderLinkId": f"b{i}",
        }
        for i in range(3)
    ] + [{"symbol": "ETHUSDT", "side": "Buy", "orderType": "Limit", "qty": "0.001", "price": str(bid - 30)}]
    b = http.place_batch_order(category="linear", request=reqs)
    assert [x["orderLinkId"] for x in b["result"]["list"][:3]] == ["b0", "b1", "b2"]
    codes = [x["code"] for x in b["retExtInfo"]["list"]]
    assert codes[:3] == [0, 0, 0] and codes[3] == 10001  # per item: the lot-size violation fails alone
    with pytest.raises(InvalidRequestError) as e:
        http.place_batch_order(category="linear", request=reqs * 6)  # 24 > 20
    assert e.value.status_code == 10001
    gone = http.cancel_all_orders(category="linear", symbol="ETHUSDT")["result"]
    assert {x["orderLinkId"] for x in gone["list"]} >= {"b0", "b1", "b2"} and gone["success"] == "1"
    assert http.get_open_orders(category="linear", symbol="ETHUSDT")["result"]["list"] == []


def test_spot_orders_and_unified_wallet(http: HTTP) -> None:
    before = {
        c["coin"]: D(c["walletBalance"])
        for c in http.get_wallet_balance(accountType="UNIFIED")["result"]["list"][0]["coin"]
    }
    bid, _ = best(http, "spot", "ETHUSDT")
    far = (bid * D("0.95")).quantize(D("0.01"))
    r = http.place_order(
        category="spot",
        symbol="ETHUSDT",
        side="Buy",
        orderType="Limit",
        qty="0.5",
        price=str(far),
        orderLinkId="spot-1",
    )["result"]
    coins = {
        c["coin"]: c for c in http.get_wallet_balance(accountType="UNIFIED")["result"]["list"][0]["coin"]
    }
    assert D(coins["USDT"]["locked"]) == far * D("0.5")
    http.cancel_order(category="spot", symbol="ETHUSDT", orderLinkId="spot-1")
    with pytest.raises(InvalidRequestError) as e:
        http.cancel_order(category="spot", symbol="ETHUSDT", orderId=r["orderId"])
    assert (e.value.status_code, e.value.message) == (170213, "Order does not exist.")
    m = http.place_order(
        category="spot", symbol="ETHUSDT", side="Buy", orderType="Market", qty="100"
    )  # 100 USDT
    row = http.get_order_history(category="spot", symbol="ETHUSDT")["result"]["list"][0]
    assert row["orderId"] == m["result"]["orderId"] and row["orderStatus"] == "Filled"
    assert D("99") < D(row["cumExecValue"]) <= D("100")
    after = {
        c["coin"]: D(c["walletBalance"])
        for c in http.get_wallet_balance(accountType="UNIFIED")["result"]["list"][0]["coin"]
    }
    assert after["ETH"] > before["ETH"] and after["USDT"] < before["USDT"]
    with pytest.raises(InvalidRequestError) as e:
        http.get_wallet_balance(accountType="SPOT")
    assert e.value.status_code == 10001


@pytest.mark.parametrize(
    ("category", "symbol", "qty", "price", "code", "message"),
    [
        ("spot", "NOPEUSDT", "1", "10", 170121, "Invalid symbol."),
        ("linear", "NOPEUSDT", "1", "10", 10001, "params error: symbol invalid"),
        (
            "linear",
            "BTCUSDT",
            "0.0005",
            "50000",
            10001,
            "The number of contracts exceeds minimum limit allowed",
        ),
        ("linear", "BTCUSDT", "0.0015", "50000", 10001, "params error: Qty invalid"),
        ("linear", "BTCUSDT", "0.01", "50000.05", 10001, "params error: price invalid"),
        ("spot", "BTCUSDT", "0.0000001", "50000", 170137, "Order quantity has too many decimals."),
        ("spot", "BTCUSDT", "0.00001", "50000", 170136, "Order quantity exceeded lower limit."),
        ("spot", "BTCUSDT", "0.001", "50000.001", 170134, "Order price has too many decimals."),
    ],
)
def test_rejects_carry_bybits_code_and_message(
    http: HTTP, category: str, symbol: str, qty: str, price: str, code: int, message: str
) -> None:
    with pytest.raises(InvalidRequestError) as e:
        http.place_order(
            category=category, symbol=symbol, side="Buy", orderType="Limit", qty=qty, price=price
        )
    assert (e.value.status_code, e.value.message) == (code, message)


def test_signature_timestamp_and_key_are_checked(st: SimThread) -> None:
    bad = session(st, secret="wrong-secret")
    with pytest.raises(InvalidRequestError) as e:
        bad.get_positions(category="linear", symbol="BTCUSDT")
    assert e.value.status_code == 10004 and e.value.message.startswith("error sign! origin_string[")
    with pytest.raises(InvalidRequestError) as e:
        session(st, key="who-is-this").get_wallet_balance(accountType="UNIFIED")
    assert (e.value.status_code, e.value.message) == (10003, "API key is invalid.")
    st.call(st.sim.faults.set, clock_skew_ms=8000)  # the venue's clock runs 8 s ahead of ours
    try:
        with pytest.raises(InvalidRequestError) as e:
            session(st).get_wallet_balance(accountType="UNIFIED")
        assert e.value.status_code == 10002 and "server timestamp or recv_window" in e.value.message
    finally:
        st.call(st.sim.faults.set, clock_skew_ms=0)
    st.call(st.sim.add_api_key, "spot-only", SECRET, ("SPOT",))
    with pytest.raises(InvalidRequestError) as e:
        session(st, key="spot-only").get_positions(category="linear", symbol="BTCUSDT")
    assert e.value.status_code == 10005
    assert session(st).get_positions(category="linear", symbol="BTCUSDT")["retCode"] == 0


def test_rate_limit_10006_with_headers() -> None:
    cfg = default_config()
    cfg.trade_per_s = 3
    with SimThread(BybitSim(seed=6, config=cfg, flow=False)) as st:
        st.call(st.sim.add_api_key, KEY, SECRET)
        h = session(st, return_response_headers=True)
        bid, _ = best(point_pybit(HTTP(), st.url), "linear", "BTCUSDT")
        far = str((bid * D("0.9")).quantize(D("0.1")))
        seen = []
        with pytest.raises(InvalidRequestError) as e:
            for _ in range(50):  # 3 per second per UID on create: one second cannot hold 50
                _, _, headers = h.place_order(
                    category="linear", symbol="BTCUSDT", side="Buy", orderType="Limit", qty="0.001", price=far
                )
                seen.append((int(headers["X-Bapi-Limit"]), int(headers["X-Bapi-Limit-Status"])))
        assert (e.value.status_code, e.value.message) == (10006, "Too many visits!")
        assert e.value.resp_headers["X-Bapi-Limit-Status"] == "0"
        assert int(e.value.resp_headers["X-Bapi-Limit-Reset-Timestamp"]) > 0
        assert seen and all(limit == 3 for limit, _ in seen) and seen[0][1] >= seen[-1][1]


def test_batch_amend_cancel_and_spot_amend_relocks(http: HTTP) -> None:
    bid, _ = best(http, "linear", "ETHUSDT")
    reqs = [
        {
            "symbol": "ETHUSDT",
            "side": "Buy",
            "orderType": "Limit",
            "qty": "0.1",
            "price": str(bid - 40 - i),
            "orderLinkId": f"ab{i}",
        }
        for i in range(2)
    ]
    http.place_batch_order(category="linear", request=reqs)
    a = http.amend_batch_order(
        category="linear",
        request=[
            {"symbol": "ETHUSDT", "orderLinkId": "ab0", "qty": "0.2"},
            {"symbol": "ETHUSDT", "orderLinkId": "nope", "qty": "0.2"},
        ],
    )
    assert [x["code"] for x in a["retExtInfo"]["list"]] == [0, 110001]
    row = http.get_open_orders(category="linear", symbol="ETHUSDT", orderLinkId="ab0")["result"]["list"][0]
    assert row["qty"] == "0.20"
    c = http.cancel_batch_order(
        category="linear",
        request=[
            {"symbol": "ETHUSDT", "orderLinkId": "ab0"},
            {"symbol": "ETHUSDT", "orderLinkId": "ab1"},
            {"symbol": "ETHUSDT", "orderLinkId": "ab0"},
        ],
    )
    assert [x["code"] for x in c["retExtInfo"]["list"]] == [0, 0, 110001]
    sbid, _ = best(http, "spot", "BTCUSDT")
    px = (sbid * D("0.9")).quantize(D("0.01"))
    http.place_order(
        category="spot",
        symbol="BTCUSDT",
        side="Buy",
        orderType="Limit",
        qty="0.01",
        price=str(px),
        orderLinkId="sa1",
    )

    def usdt_locked() -> D:
        coins = http.get_wallet_balance(accountType="UNIFIED")["result"]["list"][0]["coin"]
        return next(D(x["locked"]) for x in coins if x["coin"] == "USDT")

    assert usdt_locked() == px * D("0.01")
    http.amend_order(category="spot", symbol="BTCUSDT", orderLinkId="sa1", qty="0.02", price=str(px - 100))
    assert usdt_locked() == (px - 100) * D("0.02")  # the lock follows the amended order
    http.cancel_order(category="spot", symbol="BTCUSDT", orderLinkId="sa1")
    assert usdt_locked() == 0


def test_position_take_profit_and_stop_loss(st: SimThread, http: HTTP) -> None:
    st.call(st.sim.add_api_key, "tpsl-key", SECRET)
    me, other = session(st, key="tpsl-key"), session(st, key=KEY)
    bid, ask = best(me, "linear", "ETHUSDT")
    with pytest.raises(InvalidRequestError) as e:  # a Buy's stop-loss must sit below where it opens
        me.place_order(
            category="linear",
            symbol="ETHUSDT",
            side="Buy",
            orderType="Market",
            qty="0.1",
            stopLoss=str(ask + 5),
        )
    assert e.value.status_code == 10001 and e.value.message.startswith("StopLoss:")
    with pytest.raises(InvalidRequestError) as e:
        me.set_trading_stop(category="linear", symbol="ETHUSDT", takeProfit=str(ask + 50))
    assert (e.value.status_code, e.value.message) == (10001, "can not set tp/sl/ts for zero position")
    me.place_order(
        category="linear",
        symbol="ETHUSDT",
        side="Buy",
        orderType="Market",
        qty="0.1",
        takeProfit=str(ask + 50),
        stopLoss=str(bid - D("0.5")),
    )
    pos = me.get_positions(category="linear", symbol="ETHUSDT")["result"]["list"][0]
    assert (pos["size"], D(pos["takeProfit"]), D(pos["stopLoss"])) == ("0.10", ask + 50, bid - D("0.5"))
    me.set_trading_stop(
        category="linear", symbol="ETHUSDT", takeProfit=str(ask + 60), tpslMode="Full", positionIdx=0
    )
    pos = me.get_positions(category="linear", symbol="ETHUSDT")["result"]["list"][0]
    assert (D(pos["takeProfit"]), D(pos["stopLoss"])) == (ask + 60, bid - D("0.5"))  # SL untouched
    other.place_order(category="linear", symbol="ETHUSDT", side="Sell", orderType="Market", qty="8")  # sweeps
    pos = me.get_positions(category="linear", symbol="ETHUSDT")["result"]["list"][0]
    assert (pos["size"], pos["takeProfit"], pos["stopLoss"]) == ("0.00", "0", "0")  # closed: TP gone too
    closes = [
        o
        for o in me.get_order_history(category="linear", symbol="ETHUSDT")["result"]["list"]
        if o["stopOrderType"] == "StopLoss"
    ]
    assert len(closes) == 1 and closes[0]["orderStatus"] == "Filled" and closes[0]["side"] == "Sell"
    assert closes[0]["reduceOnly"] is True and closes[0]["qty"] == "0.10"
