"""python-binance `Client` against the Binance simulator: market data, spot and futures orders, errors.

Only base URLs point the client at the simulator (point_python_binance); every call is a real HTTP
request to a loopback server speaking Binance's protocol.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from binance.client import Client
from binance.exceptions import BinanceAPIException

from oms.venues.sim.binance import SimThread
from tests.integration.venues.conftest import API_KEY, API_SECRET


def test_exchange_info_and_depth(client: Client) -> None:
    info = client.get_exchange_info()
    names = {s["symbol"] for s in info["symbols"]}
    assert {"BTCUSDT", "ETHUSDT"} <= names
    btc = next(s for s in info["symbols"] if s["symbol"] == "BTCUSDT")
    filters = {f["filterType"]: f for f in btc["filters"]}
    assert filters["PRICE_FILTER"]["tickSize"] == "0.01000000"
    assert filters["LOT_SIZE"]["stepSize"] == "0.00001000"
    assert any(r["rateLimitType"] == "REQUEST_WEIGHT" for r in info["rateLimits"])
    book = client.get_order_book(symbol="BTCUSDT", limit=10)
    assert len(book["bids"]) == 10 and len(book["asks"]) == 10
    assert Decimal(book["bids"][0][0]) < Decimal(book["asks"][0][0])
    finfo = client.futures_exchange_info()
    assert any(s["symbol"] == "BTCUSDT" and s["contractType"] == "PERPETUAL" for s in finfo["symbols"])
    fbook = client.futures_order_book(symbol="BTCUSDT", limit=5)
    assert Decimal(fbook["bids"][0][0]) < Decimal(fbook["asks"][0][0])


def test_spot_place_query_cancel(client: Client) -> None:
    book = client.get_order_book(symbol="BTCUSDT", limit=5)
    far = (Decimal(book["bids"][0][0]) * Decimal("0.97")).quantize(Decimal("0.01"))
    o = client.create_order(
        symbol="BTCUSDT", side="BUY", type="LIMIT", timeInForce="GTC", quantity="0.01", price=str(far)
    )
    assert o["status"] == "NEW" and o["clientOrderId"].startswith("x-")
    q = client.get_order(symbol="BTCUSDT", orderId=o["orderId"])
    assert q["status"] == "NEW" and q["price"] == f"{far:.8f}"
    assert any(x["orderId"] == o["orderId"] for x in client.get_open_orders(symbol="BTCUSDT"))
    acct = {b["asset"]: b for b in client.get_account()["balances"]}
    assert Decimal(acct["USDT"]["locked"]) == far * Decimal("0.01")
    c = client.cancel_order(symbol="BTCUSDT", orderId=o["orderId"])
    assert c["status"] == "CANCELED" and c["origClientOrderId"] == o["clientOrderId"]
    acct = {b["asset"]: b for b in client.get_account()["balances"]}
    assert Decimal(acct["USDT"]["locked"]) == 0


def test_spot_market_fill_and_trades(client: Client) -> None:
    before = {b["asset"]: Decimal(b["free"]) for b in client.get_account()["balances"]}
    m = client.create_order(symbol="ETHUSDT", side="BUY", type="MARKET", quantity="0.5")
    assert m["status"] == "FILLED" and m["fills"]
    qty = sum(Decimal(f["qty"]) for f in m["fills"])
    fee = sum(Decimal(f["commission"]) for f in m["fills"])
    cost = Decimal(m["cummulativeQuoteQty"])
    assert qty == Decimal("0.5")
    after = {b["asset"]: Decimal(b["free"]) for b in client.get_account()["balances"]}
    assert after["ETH"] - before["ETH"] == qty - fee
    assert before["USDT"] - after["USDT"] == cost
    trades = client.get_my_trades(symbol="ETHUSDT", orderId=m["orderId"])
    assert sum(Decimal(t["qty"]) for t in trades) == qty


def test_futures_place_query_cancel_and_batch(client: Client) -> None:
    client.futures_change_leverage(symbol="BTCUSDT", leverage=10)
    book = client.futures_order_book(symbol="BTCUSDT", limit=5)
    px = (Decimal(book["bids"][0][0]) * Decimal("0.98")).quantize(Decimal("0.1"))
    o = client.futures_create_order(
        symbol="BTCUSDT", side="BUY", type="LIMIT", timeInForce="GTC", quantity="0.01", price=str(px)
    )
    assert o["status"] == "NEW"
    assert client.futures_get_order(symbol="BTCUSDT", orderId=o["orderId"])["price"] == str(px)
    mod = client.futures_modify_order(
        symbol="BTCUSDT", orderId=o["orderId"], side="BUY", quantity="0.02", price=str(px - Decimal("1"))
    )
    assert mod["origQty"] == "0.020"
    assert client.futures_cancel_order(symbol="BTCUSDT", orderId=o["orderId"])["status"] == "CANCELED"
    batch = client.futures_place_batch_order(
        batchOrders=[
            {
                "symbol": "BTCUSDT",
                "side": "BUY",
                "type": "LIMIT",
                "timeInForce": "GTC",
                "quantity": "0.01",
                "price": str(px),
            },
            {
                "symbol": "BTCUSDT",
                "side": "BUY",
                "type": "LIMIT",
                "timeInForce": "GTC",
                "quantity": "0.01",
                "price": str(px) + "5",
            },  # off the 0.1 tick grid: rejected in its slot
        ]
    )
    assert batch[0]["status"] == "NEW"
    assert batch[1] == {"code": -4014, "msg": "Price not increased by tick size."}
    client.futures_cancel_all_open_orders(symbol="BTCUSDT")
    assert client.futures_get_open_orders(symbol="BTCUSDT") == []


def test_futures_position_from_market_fill(client: Client) -> None:
    r = client.futures_create_order(
        symbol="ETHUSDT", side="BUY", type="MARKET", quantity="0.1", newOrderRespType="RESULT"
    )
    assert r["status"] == "FILLED"
    pos = {p["symbol"]: p for p in client.futures_position_information(symbol="ETHUSDT")}
    assert Decimal(pos["ETHUSDT"]["positionAmt"]) == Decimal("0.1")
    assert Decimal(pos["ETHUSDT"]["entryPrice"]) == Decimal(r["avgPrice"])
    with pytest.raises(BinanceAPIException) as e:
        client.futures_create_order(
            symbol="ETHUSDT", side="BUY", type="MARKET", quantity="0.1", reduceOnly="true"
        )
    assert (e.value.code, e.value.message) == (-2022, "ReduceOnly Order is rejected.")
    client.futures_create_order(
        symbol="ETHUSDT", side="SELL", type="MARKET", quantity="0.1", reduceOnly="true"
    )
    pos = {p["symbol"]: p for p in client.futures_position_information()}
    assert "ETHUSDT" not in pos or Decimal(pos["ETHUSDT"]["positionAmt"]) == 0


def test_conditional_order_goes_to_algo_endpoint(client: Client) -> None:
    mark = Decimal(client.futures_mark_price(symbol="BTCUSDT")["markPrice"])
    trig = (mark * Decimal("1.2")).quantize(Decimal("0.1"))
    a = client.futures_create_order(
        symbol="BTCUSDT", side="BUY", type="STOP_MARKET", quantity="0.01", stopPrice=str(trig)
    )
    assert a["algoStatus"] == "NEW" and a["triggerPrice"] == str(trig)


@pytest.mark.parametrize(
    ("kwargs", "code", "msg"),
    [
        ({"symbol": "NOPEUSDT"}, -1121, "Invalid symbol."),
        ({"quantity": "0.000001"}, -1013, "Filter failure: LOT_SIZE"),
        ({"price": "100.001"}, -1013, "Filter failure: PRICE_FILTER"),
        ({"quantity": "0.00001", "price": "59000.00"}, -1013, "Filter failure: NOTIONAL"),
    ],
)
def test_spot_rejects_carry_binance_codes(client: Client, kwargs: dict, code: int, msg: str) -> None:
    order = {
        "symbol": "BTCUSDT",
        "side": "BUY",
        "type": "LIMIT",
        "timeInForce": "GTC",
        "quantity": "0.01",
        "price": "59000.00",
        **kwargs,
    }
    with pytest.raises(BinanceAPIException) as e:
        client.create_order(**order)
    assert (e.value.status_code, e.value.code, e.value.message) == (400, code, msg)


def test_bad_signature(sim: SimThread) -> None:
    bad = Client(API_KEY, "not-the-secret")
    with pytest.raises(BinanceAPIException) as e:
        bad.get_account()
    assert (e.value.code, e.value.message) == (-1022, "Signature for this request is not valid.")
    unknown = Client("no-such-key", API_SECRET)
    with pytest.raises(BinanceAPIException) as e:
        unknown.get_account()
    assert (e.value.status_code, e.value.code) == (401, -2015)


def test_expired_timestamp(sim: SimThread) -> None:
    c = Client(API_KEY, API_SECRET)
    c.timestamp_offset = -20_000  # 20 s behind: outside any recvWindow python-binance sends
    with pytest.raises(BinanceAPIException) as e:
        c.get_account()
    assert (e.value.code, e.value.message) == (
        -1021,
        "Timestamp for this request is outside of the recvWindow.",
    )
    c.timestamp_offset = 5_000
    with pytest.raises(BinanceAPIException) as e:
        c.get_account()
    assert e.value.code == -1021 and "ahead of the server" in e.value.message


def test_permissions_and_revocation(sim: SimThread) -> None:
    sim.call(sim.sim.add_api_key, "spot-only", "s3cret", permissions=("SPOT",))
    c = Client("spot-only", "s3cret")
    assert c.get_account()["accountType"] == "SPOT"
    with pytest.raises(BinanceAPIException) as e:
        c.futures_account_balance()
    assert e.value.code == -2015
    sim.call(sim.sim.revoke_api_key, "spot-only")
    with pytest.raises(BinanceAPIException) as e:
        c.get_account()
    assert e.value.code == -2015


def test_tickers_and_klines(client: Client) -> None:
    client.create_order(symbol="BNBUSDT", side="BUY", type="MARKET", quantity="1")  # at least one print
    t = client.get_ticker(symbol="BNBUSDT")
    assert t["symbol"] == "BNBUSDT" and t["count"] >= 1 and Decimal(t["volume"]) >= 1
    bars = client.get_klines(symbol="BNBUSDT", interval="1m", limit=5)
    assert bars and len(bars[-1]) == 12
    o, h, lo, c = (Decimal(x) for x in bars[-1][1:5])
    assert lo <= min(o, c) <= max(o, c) <= h
    assert Decimal(client.get_avg_price(symbol="BNBUSDT")["price"]) > 0
    fb = client.futures_klines(symbol="BTCUSDT", interval="1m", limit=3)
    assert all(len(b) == 12 for b in fb)
    with pytest.raises(BinanceAPIException) as e:
        client.get_klines(symbol="BNBUSDT", interval="7m")
    assert (e.value.code, e.value.message) == (-1120, "Invalid interval.")


def test_futures_hedge_mode(sim: SimThread) -> None:
    sim.call(sim.sim.add_api_key, "hedge-key", "hedge-secret")
    c = Client("hedge-key", "hedge-secret")
    assert c.futures_get_position_mode() == {"dualSidePosition": False}
    c.futures_change_position_mode(dualSidePosition="true")
    with pytest.raises(BinanceAPIException) as e:
        c.futures_change_position_mode(dualSidePosition="true")
    assert e.value.code == -4059
    with pytest.raises(BinanceAPIException) as e:  # BOTH is not a side in hedge mode
        c.futures_create_order(symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.01")
    assert e.value.code == -4061
    c.futures_create_order(symbol="BTCUSDT", side="BUY", positionSide="LONG", type="MARKET", quantity="0.02")
    c.futures_create_order(
        symbol="BTCUSDT", side="SELL", positionSide="SHORT", type="MARKET", quantity="0.01"
    )
    legs = {p["positionSide"]: p for p in c.futures_position_information(symbol="BTCUSDT")}
    assert Decimal(legs["LONG"]["positionAmt"]) == Decimal("0.02")
    assert Decimal(legs["SHORT"]["positionAmt"]) == Decimal("-0.01")
    with pytest.raises(BinanceAPIException) as e:  # closing more than the LONG leg holds
        c.futures_create_order(
            symbol="BTCUSDT", side="SELL", positionSide="LONG", type="MARKET", quantity="0.03"
        )
    assert e.value.code == -2022
    c.futures_create_order(symbol="BTCUSDT", side="SELL", positionSide="LONG", type="MARKET", quantity="0.02")
    with pytest.raises(BinanceAPIException) as e:  # a SHORT leg is still open
        c.futures_change_position_mode(dualSidePosition="false")
    assert e.value.code == -4068


def test_trailing_stop_via_algo_endpoint(client: Client) -> None:
    a = client.futures_create_order(
        symbol="BTCUSDT",
        side="SELL",
        type="TRAILING_STOP_MARKET",
        quantity="0.01",
        callbackRate="1.5",
        reduceOnly="true",
    )
    assert (a["orderType"], a["callbackRate"], a["algoStatus"]) == ("TRAILING_STOP_MARKET", "1.5", "NEW")
    with pytest.raises(BinanceAPIException) as e:
        client.futures_create_order(
            symbol="BTCUSDT", side="SELL", type="TRAILING_STOP_MARKET", quantity="0.01", callbackRate="25"
        )
    assert e.value.code == -2007
    client.futures_cancel_algo_order(symbol="BTCUSDT", algoId=a["algoId"])
