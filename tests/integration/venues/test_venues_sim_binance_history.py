"""python-binance against the Binance simulator: history pages like the venue's (allOrders, myTrades,
userTrades, income: startTime / endTime / orderId / fromId / limit) and the USD-M and spot account
endpoints clients read positions, margin and history from (leverage brackets, positionRisk v2/v3,
account v2/v3, account and symbol config, commission rates).

A simulator of its own (no synthetic flow, so nothing but these calls trades), python-binance aimed at
it by base URL only; every call is a signed HTTP request.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from decimal import Decimal

import pytest
from binance.client import Client
from binance.exceptions import BinanceAPIException

from oms.venues.sim.binance import SimThread, point_python_binance

KEY, SECRET = "history-key", "history-secret-0123456789abcdef"
D = Decimal


@pytest.fixture(scope="module")
def hc() -> Iterator[tuple[SimThread, Client]]:
    with SimThread(seed=11, flow=False) as st:
        st.call(st.sim.add_api_key, KEY, SECRET)
        restore = point_python_binance(st.url, st.ws_url)
        c = Client(KEY, SECRET)
        try:
            yield st, c
        finally:
            c.close_connection()
            restore()


@pytest.fixture(scope="module")
def spot_orders(hc: tuple[SimThread, Client]) -> list[dict]:
    """30 resting spot orders far below the market, oldest first."""
    _, c = hc
    bid = D(c.get_order_book(symbol="BTCUSDT", limit=5)["bids"][0][0])
    return [
        c.create_order(
            symbol="BTCUSDT",
            side="BUY",
            type="LIMIT",
            timeInForce="GTC",
            quantity="0.001",
            price=str((bid * D("0.9") - i).quantize(D("0.01"))),
        )
        for i in range(30)
    ]


@pytest.fixture(scope="module")
def spot_trades(hc: tuple[SimThread, Client]) -> list[dict]:
    """Twelve small market buys: the account's spot fills."""
    _, c = hc
    for _ in range(12):
        c.create_order(symbol="ETHUSDT", side="BUY", type="MARKET", quantity="0.02")
    return c.get_my_trades(symbol="ETHUSDT", limit=1000)


def test_spot_all_orders_pages_by_order_id_and_time(
    hc: tuple[SimThread, Client], spot_orders: list[dict]
) -> None:
    _, c = hc
    ids = [o["orderId"] for o in spot_orders]
    assert [o["orderId"] for o in c.get_all_orders(symbol="BTCUSDT")] == ids  # default 500: all of them
    assert [o["orderId"] for o in c.get_all_orders(symbol="BTCUSDT", limit=10)] == ids[-10:]  # newest
    assert [o["orderId"] for o in c.get_all_orders(symbol="BTCUSDT", orderId=ids[5], limit=10)] == ids[5:15]
    walked, cursor = [], ids[0]
    while True:  # a client pages forward with orderId = last + 1
        page = c.get_all_orders(symbol="BTCUSDT", orderId=cursor, limit=7)
        walked += [o["orderId"] for o in page]
        if len(page) < 7:
            break
        cursor = page[-1]["orderId"] + 1
    assert walked == ids
    t0, t1 = spot_orders[10]["transactTime"], spot_orders[20]["transactTime"]
    rows = c.get_all_orders(symbol="BTCUSDT", startTime=t0, endTime=t1)
    assert rows and all(t0 <= o["time"] <= t1 for o in rows)
    assert set(ids[10:21]) <= {o["orderId"] for o in rows}
    assert c.get_all_orders(symbol="BTCUSDT", startTime=t1 + 60_000) == []
    assert next(o["orderId"] for o in c.get_all_orders(symbol="BTCUSDT", startTime=t0, limit=3)) in ids[:11]
    with pytest.raises(BinanceAPIException) as e:
        c.get_all_orders(symbol="BTCUSDT", startTime=t0, endTime=t0 + 25 * 3_600_000)
    assert (e.value.code, e.value.message) == (-1127, "More than 24 hours between startTime and endTime.")


def test_spot_my_trades_pages_by_from_id(hc: tuple[SimThread, Client], spot_trades: list[dict]) -> None:
    _, c = hc
    tids = [t["id"] for t in spot_trades]
    assert len(tids) >= 12 and tids == sorted(tids)
    walked, cursor = [], 0
    while True:
        page = c.get_my_trades(symbol="ETHUSDT", fromId=cursor, limit=5)
        walked += [t["id"] for t in page]
        if len(page) < 5:
            break
        cursor = page[-1]["id"] + 1
    assert walked == tids
    assert [t["id"] for t in c.get_my_trades(symbol="ETHUSDT", limit=3)] == tids[-3:]
    oid = spot_trades[4]["orderId"]
    assert {t["orderId"] for t in c.get_my_trades(symbol="ETHUSDT", orderId=oid)} == {oid}
    t0 = spot_trades[3]["time"]
    assert all(t["time"] >= t0 for t in c.get_my_trades(symbol="ETHUSDT", startTime=t0))
    with pytest.raises(BinanceAPIException) as e:
        c.get_my_trades(symbol="ETHUSDT", fromId=tids[0], startTime=t0)
    assert (e.value.code, e.value.message) == (-1128, "Combination of optional parameters invalid.")
    row = spot_trades[0]
    assert {
        "symbol",
        "id",
        "orderId",
        "orderListId",
        "price",
        "qty",
        "quoteQty",
        "commission",
        "commissionAsset",
        "time",
        "isBuyer",
        "isMaker",
        "isBestMatch",
    } <= set(row)


@pytest.fixture(scope="module")
def futures_fills(hc: tuple[SimThread, Client]) -> list[dict]:
    """Open then close 0.1 ETHUSDT eight times: fills with realized PnL and commissions."""
    _, c = hc
    for _ in range(8):
        c.futures_create_order(symbol="ETHUSDT", side="BUY", type="MARKET", quantity="0.1")
        c.futures_create_order(
            symbol="ETHUSDT", side="SELL", type="MARKET", quantity="0.1", reduceOnly="true"
        )
    return c.futures_account_trades(symbol="ETHUSDT", limit=1000)


def test_futures_user_trades_and_all_orders_page(
    hc: tuple[SimThread, Client], futures_fills: list[dict]
) -> None:
    _, c = hc
    tids = [t["id"] for t in futures_fills]
    assert len(tids) >= 16
    walked, cursor = [], 0
    while True:
        page = c.futures_account_trades(symbol="ETHUSDT", fromId=cursor, limit=4)
        walked += [t["id"] for t in page]
        if len(page) < 4:
            break
        cursor = page[-1]["id"] + 1
    assert walked == tids
    with pytest.raises(BinanceAPIException) as e:
        c.futures_account_trades(symbol="ETHUSDT", fromId=tids[0], startTime=futures_fills[0]["time"])
    assert e.value.code == -1128
    t0 = futures_fills[0]["time"]
    with pytest.raises(BinanceAPIException) as e:
        c.futures_account_trades(symbol="ETHUSDT", startTime=t0, endTime=t0 + 8 * 86_400_000)
    assert (e.value.code, e.value.message) == (-1127, "More than 7 days between startTime and endTime.")
    old = t0 - 10 * 86_400_000  # a week that ended before any trade
    assert c.futures_account_trades(symbol="ETHUSDT", startTime=old) == []
    orders = c.futures_get_all_orders(symbol="ETHUSDT")
    oids = [o["orderId"] for o in orders]
    assert len(oids) == 16 and oids == sorted(oids)
    assert [
        o["orderId"] for o in c.futures_get_all_orders(symbol="ETHUSDT", orderId=oids[3], limit=5)
    ] == oids[3:8]
    assert [o["orderId"] for o in c.futures_get_all_orders(symbol="ETHUSDT", limit=2)] == oids[-2:]
    row = futures_fills[-1]
    assert {
        "symbol",
        "id",
        "orderId",
        "side",
        "price",
        "qty",
        "realizedPnl",
        "marginAsset",
        "quoteQty",
        "commission",
        "commissionAsset",
        "time",
        "positionSide",
        "buyer",
        "maker",
    } <= set(row)


def test_income_history_matches_fills(hc: tuple[SimThread, Client], futures_fills: list[dict]) -> None:
    _, c = hc
    rows = c.futures_income_history(symbol="ETHUSDT", limit=1000)
    kinds = {r["incomeType"] for r in rows}
    assert kinds <= {"REALIZED_PNL", "COMMISSION"} and "COMMISSION" in kinds
    fees = sum(D(r["income"]) for r in rows if r["incomeType"] == "COMMISSION")
    assert fees == -sum(D(t["commission"]) for t in futures_fills)
    pnl = sum(D(r["income"]) for r in rows if r["incomeType"] == "REALIZED_PNL")
    assert pnl == sum(D(t["realizedPnl"]) for t in futures_fills)
    only = c.futures_income_history(incomeType="COMMISSION", limit=1000)
    assert {r["incomeType"] for r in only} == {"COMMISSION"} and len(only) == len(futures_fills)
    assert c.futures_income_history(incomeType="COMMISSION", limit=5) == only[-5:]  # newest page
    p1 = c.futures_income_history(
        incomeType="COMMISSION", startTime=futures_fills[0]["time"], limit=5, page=1
    )
    p2 = c.futures_income_history(
        incomeType="COMMISSION", startTime=futures_fills[0]["time"], limit=5, page=2
    )
    assert p1 == only[:5] and p2 == only[5:10]
    assert {"symbol", "incomeType", "income", "asset", "info", "time", "tranId", "tradeId"} <= set(rows[0])
    assert len({r["tranId"] for r in rows}) == len(rows)
    with pytest.raises(BinanceAPIException) as e:
        c.futures_income_history(incomeType="FREE_MONEY")
    assert e.value.code == -1100


def test_leverage_brackets(hc: tuple[SimThread, Client]) -> None:
    _, c = hc
    every = c.futures_leverage_bracket()
    assert {b["symbol"] for b in every} == {"BTCUSDT", "ETHUSDT", "BTCUSDT_260925"}
    one = c.futures_leverage_bracket(symbol="BTCUSDT")
    br = one["brackets"]
    assert one["symbol"] == "BTCUSDT" and br[0]["initialLeverage"] == 125 and br[0]["notionalFloor"] == 0
    for lo, hi in itertools.pairwise(br):  # contiguous caps, leverage falls, maintenance continuous
        assert hi["notionalFloor"] == lo["notionalCap"] and hi["initialLeverage"] < lo["initialLeverage"]
        at = D(str(lo["notionalCap"]))
        assert at * D(str(lo["maintMarginRatio"])) - D(str(lo["cum"])) == pytest.approx(
            at * D(str(hi["maintMarginRatio"])) - D(str(hi["cum"]))
        )


def test_positions_and_account_versions(hc: tuple[SimThread, Client]) -> None:
    _, c = hc
    c.futures_change_leverage(symbol="BTCUSDT", leverage=10)
    c.futures_create_order(symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.01")
    v3 = c.futures_position_information()  # python-binance reads /fapi/v3/positionRisk
    assert [p["symbol"] for p in v3] == ["BTCUSDT"]  # v3: only what has a position or open orders
    p = v3[0]
    assert D(p["positionAmt"]) == D("0.01") and p["positionSide"] == "BOTH" and p["marginAsset"] == "USDT"
    assert D(p["initialMargin"]) == (D(p["notional"]) / 10).quantize(D("0.00000001"))
    assert {
        "breakEvenPrice",
        "maintMargin",
        "positionInitialMargin",
        "openOrderInitialMargin",
        "adl",
        "bidNotional",
        "askNotional",
        "liquidationPrice",
        "isolatedWallet",
    } <= set(p)
    assert "leverage" not in p
    v2 = c._request_futures_api("get", "positionRisk", True, 2, data={})
    assert {r["symbol"] for r in v2} == {"BTCUSDT", "ETHUSDT", "BTCUSDT_260925"}  # v2: every symbol
    assert next(r for r in v2 if r["symbol"] == "BTCUSDT")["leverage"] == "10"
    assert [
        r["symbol"]
        for r in c._request_futures_api("get", "positionRisk", True, 2, data={"symbol": "ETHUSDT"})
    ] == ["ETHUSDT"]
    a2 = c.futures_account()
    assert "feeTier" in a2 and len(a2["positions"]) == 3 and a2["assets"][0]["marginAvailable"] is True
    a3 = c._request_futures_api("get", "account", True, 3, data={})
    assert "feeTier" not in a3 and [x["symbol"] for x in a3["positions"]] == ["BTCUSDT"]
    assert (
        D(a3["totalWalletBalance"]) == D(a2["totalWalletBalance"])
        and "marginAvailable" not in a3["assets"][0]
    )
    cfg = c.futures_account_config()
    assert cfg["dualSidePosition"] is False and cfg["multiAssetsMargin"] is False
    sym = c.futures_symbol_config(symbol="BTCUSDT")
    assert sym == [
        {
            "symbol": "BTCUSDT",
            "marginType": "CROSSED",
            "isAutoAddMargin": "false",
            "leverage": 10,
            "maxNotionalValue": "100000000",
        }
    ]
    assert c.futures_get_multi_assets_mode() == {"multiAssetsMargin": False}
    rates = c.futures_commission_rate(symbol="BTCUSDT")
    assert (rates["makerCommissionRate"], rates["takerCommissionRate"]) == ("0.0002", "0.0005")
    spot = c.get_account()
    assert spot["commissionRates"]["maker"] == "0.00100000" and spot["accountType"] == "SPOT"


def test_history_endpoints_refuse_bad_signatures(hc: tuple[SimThread, Client]) -> None:
    _st, _ = hc
    bad = Client(KEY, "not-the-secret")
    try:
        for call in (
            lambda: bad.futures_income_history(),
            lambda: bad.futures_leverage_bracket(),
            lambda: bad.get_my_trades(symbol="ETHUSDT"),
            lambda: bad._request_futures_api("get", "account", True, 3, data={}),
        ):
            with pytest.raises(BinanceAPIException) as e:
                call()
            assert (e.value.code, e.value.status_code) == (-1022, 400)
    finally:
        bad.close_connection()
    stranger = Client("no-such-key", SECRET)
    try:
        with pytest.raises(BinanceAPIException) as e:
            stranger.futures_account_config()
        assert (e.value.code, e.value.status_code) == (-2015, 401)
    finally:
        stranger.close_connection()


def test_order_count_and_liquidations(hc: tuple[SimThread, Client]) -> None:
    _, c = hc
    bid = D(c.get_order_book(symbol="ETHUSDT", limit=5)["bids"][0][0])
    rows = {r["interval"]: r for r in c.get_current_order_count()}
    c.create_order(
        symbol="ETHUSDT",
        side="BUY",
        type="LIMIT",
        timeInForce="GTC",
        quantity="0.01",
        price=str((bid * D("0.9")).quantize(D("0.01"))),
    )
    after = {r["interval"]: r for r in c.get_current_order_count()}
    assert set(after) == {"SECOND", "DAY"} and after["DAY"]["count"] == rows["DAY"]["count"] + 1
    assert after["SECOND"]["limit"] == 100 and after["SECOND"]["intervalNum"] == 10
    fut = {r["interval"]: r for r in c.futures_v1_get_rate_limit_order()}
    assert set(fut) == {"SECOND", "MINUTE"} and fut["MINUTE"]["limit"] == 1200
    assert c.futures_liquidation_orders() == []
