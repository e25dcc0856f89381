"""pyupbit (the commonly used Upbit SDK) against the Upbit simulator built on the kit: place and cancel
orders, read balances, orders and the book; and Upbit's error names and messages for a bad JWT, a
reused nonce, an off-grid price and an order under the 5,000 KRW minimum. Plain `requests` with our own
JWTs (HS256 and HS512) cover what pyupbit does not send: identifiers, ioc/fok/post_only, `best`, cancel
by identifier, closed orders, Remaining-Req and 429.

pyupbit writes `https://api.upbit.com` into every call (it has no base-URL constant), so the test swaps
the `requests` module pyupbit's request layer uses for one that rewrites exactly that origin to the
simulator and refuses any other URL: nothing leaves loopback.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Iterator
from decimal import Decimal
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlencode

import jwt
import pytest
import pyupbit
import requests
from pyupbit import errors as upbit_errors
from pyupbit import request_api

from oms.venues.sim.upbit import SimThread, UpbitSim, default_config, krw_tick

ACCESS, SECRET = "upbit-access-key", "upbit-secret-key-" + "0123456789abcdef" * 3
D = Decimal
UPBIT = "https://api.upbit.com"


@pytest.fixture(scope="module")
def st() -> Iterator[SimThread]:
    cfg = default_config()
    cfg.order_per_s = 1000
    with SimThread(UpbitSim(seed=7, config=cfg, flow=False)) as t:
        t.call(t.sim.add_api_key, ACCESS, SECRET)
        yield t


@pytest.fixture(scope="module")
def last() -> dict[str, Any]:
    return {}


@pytest.fixture(autouse=True)
def point_pyupbit(st: SimThread, last: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    def call(verb: str) -> Any:
        def go(url: str, **kw: Any) -> requests.Response:
            assert url.startswith(UPBIT + "/"), f"pyupbit tried to reach {url}"
            resp = getattr(requests, verb)(st.url + url[len(UPBIT) :], timeout=10, **kw)
            last["resp"] = resp
            return resp

        return go

    monkeypatch.setattr(
        request_api, "requests", SimpleNamespace(get=call("get"), post=call("post"), delete=call("delete"))
    )


def auth(
    params: dict[str, Any] | None = None, alg: str = "HS512", nonce: str | None = None
) -> dict[str, str]:
    claims: dict[str, Any] = {"access_key": ACCESS, "nonce": nonce or str(uuid.uuid4())}
    if params:
        claims["query_hash"] = hashlib.sha512(urlencode(params).encode()).hexdigest()
        claims["query_hash_alg"] = "SHA512"
    return {"Authorization": "Bearer " + jwt.encode(claims, SECRET, algorithm=alg)}


def call(
    st: SimThread, method: str, path: str, params: dict[str, Any] | None = None, **kw: Any
) -> requests.Response:
    h = auth(params, **kw)
    if method == "POST":
        return requests.post(st.url + path, json=params, headers=h, timeout=10)
    return requests.request(method, st.url + path, params=params, headers=h, timeout=10)


def error_of(resp: requests.Response) -> tuple[int, str, str]:
    e = resp.json()["error"]
    return resp.status_code, e["name"], e["message"]


def top(market: str = "KRW-BTC") -> tuple[D, D]:
    book = pyupbit.get_orderbook(market)
    u = book["orderbook_units"][0]
    return D(str(u["bid_price"])), D(str(u["ask_price"]))


# ---------------------------------------------------------------- pyupbit
def test_quotation_markets_book_and_price(st: SimThread) -> None:
    assert pyupbit.get_tickers(fiat="KRW") == ["KRW-BTC", "KRW-ETH", "KRW-USDT"]
    bid, ask = top()
    assert bid < ask and bid % krw_tick(bid) == 0 and ask % krw_tick(ask) == 0
    assert len(pyupbit.get_orderbook("KRW-BTC")["orderbook_units"]) == 15
    assert bid <= D(str(pyupbit.get_current_price("KRW-BTC"))) <= ask


def test_pyupbit_places_reads_and_cancels(st: SimThread) -> None:
    up = pyupbit.Upbit(ACCESS, SECRET)
    krw0 = D(str(up.get_balance("KRW")))
    bid, _ = top()
    price = bid - 10 * krw_tick(bid)
    placed = up.buy_limit_order("KRW-BTC", int(price), 0.001)
    assert placed["state"] == "wait" and placed["ord_type"] == "limit" and D(placed["price"]) == price
    assert D(str(up.get_balance("KRW"))) == krw0 - price * D("0.001")
    assert [o["uuid"] for o in up.get_order("KRW-BTC")] == [placed["uuid"]]
    assert up.get_individual_order(placed["uuid"])["remaining_volume"] == "0.001"
    up.cancel_order(placed["uuid"])
    assert up.get_individual_order(placed["uuid"])["state"] == "cancel"
    assert up.get_order("KRW-BTC") == []
    assert D(str(up.get_balance("KRW"))) == krw0


def test_pyupbit_market_buy_by_krw_and_market_sell(st: SimThread) -> None:
    up = pyupbit.Upbit(ACCESS, SECRET)
    btc0, krw0 = D(str(up.get_balance("KRW-BTC"))), D(str(up.get_balance("KRW")))
    bought = up.buy_market_order("KRW-BTC", 1_000_000)
    assert bought["ord_type"] == "price" and bought["volume"] is None
    done = up.get_individual_order(bought["uuid"])
    assert done["state"] in ("done", "cancel") and D(done["executed_volume"]) > 0 and done["trades"]
    assert D(done["executed_funds"]) <= 1_000_000
    assert D(str(up.get_balance("KRW-BTC"))) > btc0 and D(str(up.get_balance("KRW"))) < krw0
    sold = up.sell_market_order("KRW-BTC", 0.001)
    assert up.get_individual_order(sold["uuid"])["executed_volume"] == "0.001"
    ticks = requests.get(
        st.url + "/v1/trades/ticks", params={"market": "KRW-BTC", "count": 50}, timeout=10
    ).json()
    assert ticks and {t["ask_bid"] for t in ticks} == {"BID", "ASK"}  # our buy and our sell
    assert ticks[0]["sequential_id"] > ticks[-1]["sequential_id"]  # newest first
    prices = pyupbit.get_current_price(["KRW-BTC", "KRW-ETH"])
    assert set(prices) == {"KRW-BTC", "KRW-ETH"} and prices["KRW-BTC"] == ticks[0]["trade_price"]
    rows = {r["currency"]: r for r in up.get_balances()}
    assert rows["KRW"]["unit_currency"] == "KRW" and set(rows) >= {"KRW", "BTC", "ETH", "USDT"}


def test_bad_jwt_is_jwt_verification(st: SimThread, last: dict[str, Any]) -> None:
    with pytest.raises(upbit_errors.JwtVerification):
        pyupbit.Upbit(ACCESS, "not-the-secret-" + "x" * 48).get_balances()
    assert error_of(last["resp"]) == (401, "jwt_verification", "Jwt 토큰 검증에 실패했습니다.")
    r = requests.get(st.url + "/v1/accounts", headers={"Authorization": "Bearer x.y.z"}, timeout=10)
    assert error_of(r)[:2] == (401, "jwt_verification")
    r = requests.get(st.url + "/v1/accounts", timeout=10)
    assert error_of(r)[:2] == (401, "jwt_verification")


def test_reused_nonce_is_nonce_used(st: SimThread, last: dict[str, Any]) -> None:
    up = pyupbit.Upbit(ACCESS, SECRET)
    headers = up._request_headers()
    request_api._send_get_request(UPBIT + "/v1/accounts", headers=dict(headers))
    with pytest.raises(upbit_errors.NonceUsed):
        request_api._send_get_request(UPBIT + "/v1/accounts", headers=dict(headers))
    assert error_of(last["resp"]) == (401, "nonce_used", "이미 요청한 nonce값이 다시 사용되었습니다.")


def test_off_grid_price_is_invalid_price(st: SimThread) -> None:
    up = pyupbit.Upbit(ACCESS, SECRET)
    bid, ask = top()
    answer = up.buy_limit_order("KRW-BTC", int(bid - 500), 0.001)  # 1,000 KRW band: 500 is off the grid
    assert answer == {
        "error": {
            "name": "invalid_price_bid",
            "message": "주문가격 단위를 잘못 입력하셨습니다. 확인 후 시도해주세요.",
        }
    }
    answer = up.sell_limit_order("KRW-BTC", int(ask + 1), 0.001)
    assert answer["error"]["name"] == "invalid_price_ask"
    # the grid changes with the band: 1,400.5 is off the 1 KRW grid of KRW-USDT, 1,401 is on it
    assert up.buy_limit_order("KRW-USDT", 1300.5, 10)["error"]["name"] == "invalid_price_bid"
    ok = up.buy_limit_order("KRW-USDT", 1300, 10)
    assert ok["state"] == "wait"
    up.cancel_order(ok["uuid"])


def test_under_min_total(st: SimThread, last: dict[str, Any]) -> None:
    up = pyupbit.Upbit(ACCESS, SECRET)
    bid, _ = top()
    data = {"market": "KRW-BTC", "side": "bid", "volume": "0.00001", "price": str(bid), "ord_type": "limit"}
    with pytest.raises(upbit_errors.UnderMinTotalBid):
        request_api._send_post_request(UPBIT + "/v1/orders", headers=up._request_headers(data), data=data)
    assert error_of(last["resp"]) == (400, "under_min_total_bid", "최소주문금액 이상으로 주문해주세요")
    assert up.buy_market_order("KRW-BTC", 4999) is None  # pyupbit swallows it; the simulator said:
    assert error_of(last["resp"])[1] == "under_min_total_bid"
    assert up.sell_market_order("KRW-BTC", 0.00001) is None
    assert error_of(last["resp"])[1] == "under_min_total_ask"


def test_insufficient_funds_and_order_not_found(st: SimThread) -> None:
    bid, _ = top()
    r = call(
        st,
        "POST",
        "/v1/orders",
        {"market": "KRW-BTC", "side": "bid", "ord_type": "limit", "price": str(bid), "volume": "100"},
    )
    assert error_of(r)[:2] == (400, "insufficient_funds_bid")
    r = call(
        st, "POST", "/v1/orders", {"market": "KRW-BTC", "side": "ask", "ord_type": "market", "volume": "50"}
    )
    assert error_of(r)[:2] == (400, "insufficient_funds_ask")
    r = call(st, "GET", "/v1/order", {"uuid": str(uuid.uuid4())})
    assert error_of(r) == (404, "order_not_found", "주문을 찾지 못했습니다.")
    r = call(st, "POST", "/v1/orders", {"market": "KRW-BTC", "side": "bid", "ord_type": "limit"})
    assert error_of(r)[:2] == (400, "create_bid_error")
    r = call(
        st,
        "POST",
        "/v1/orders",
        {"market": "KRW-XRP", "side": "bid", "ord_type": "limit", "price": "1", "volume": "1"},
    )
    assert error_of(r)[:2] == (400, "validation_error") and "KRW-XRP" in error_of(r)[2]


def test_query_hash_must_cover_the_parameters(st: SimThread) -> None:
    h = auth({"uuid": "something-else"})
    r = requests.get(st.url + "/v1/order", params={"uuid": str(uuid.uuid4())}, headers=h, timeout=10)
    assert error_of(r)[:2] == (401, "invalid_query_payload")
    h = auth()  # no query_hash at all, but parameters sent
    r = requests.get(st.url + "/v1/orders/open", params={"market": "KRW-BTC"}, headers=h, timeout=10)
    assert error_of(r)[:2] == (401, "invalid_query_payload")


# ---------------------------------------------------------------- what pyupbit does not send
def test_identifier_tif_best_and_cancel_by_identifier(st: SimThread) -> None:
    bid, ask = top("KRW-ETH")
    tick = krw_tick(bid)
    p = {
        "market": "KRW-ETH",
        "side": "bid",
        "ord_type": "limit",
        "price": str(bid - 5 * tick),
        "volume": "0.01",
        "identifier": "my-1",
    }
    r = call(st, "POST", "/v1/orders", p, alg="HS256")
    assert r.status_code == 201 and r.json()["identifier"] == "my-1"
    assert error_of(call(st, "POST", "/v1/orders", p))[:2] == (
        400,
        "validation_error",
    )  # identifiers are never reused
    r = call(st, "GET", "/v1/order", {"identifier": "my-1"})
    assert r.json()["state"] == "wait"
    r = call(st, "DELETE", "/v1/order", {"identifier": "my-1"})
    assert r.status_code == 200
    assert call(st, "GET", "/v1/order", {"identifier": "my-1"}).json()["state"] == "cancel"
    assert error_of(call(st, "DELETE", "/v1/order", {"identifier": "my-1"}))[:2] == (404, "order_not_found")
    # post_only that would take is not left to take; ioc at a passive price ends canceled; fok too
    r = call(
        st,
        "POST",
        "/v1/orders",
        {
            "market": "KRW-ETH",
            "side": "bid",
            "ord_type": "limit",
            "price": str(ask),
            "volume": "0.01",
            "time_in_force": "post_only",
        },
    )
    o = call(st, "GET", "/v1/order", {"uuid": r.json()["uuid"]}).json()
    assert o["state"] == "cancel" and o["executed_volume"] == "0"
    for tif in ("ioc", "fok"):
        r = call(
            st,
            "POST",
            "/v1/orders",
            {
                "market": "KRW-ETH",
                "side": "bid",
                "ord_type": "limit",
                "price": str(bid - tick),
                "volume": "0.01",
                "time_in_force": tif,
            },
        )
        assert call(st, "GET", "/v1/order", {"uuid": r.json()["uuid"]}).json()["state"] == "cancel"
    r = call(
        st,
        "POST",
        "/v1/orders",
        {"market": "KRW-ETH", "side": "bid", "ord_type": "best", "price": "100000", "time_in_force": "ioc"},
    )
    o = call(st, "GET", "/v1/order", {"uuid": r.json()["uuid"]}).json()
    assert D(o["executed_volume"]) > 0 and all(D(t["price"]) == ask for t in o["trades"])
    r = call(
        st, "POST", "/v1/orders", {"market": "KRW-ETH", "side": "bid", "ord_type": "best", "price": "100000"}
    )
    assert error_of(r)[:2] == (400, "validation_error")
    closed = call(st, "GET", "/v1/orders/closed", {"market": "KRW-ETH", "limit": 100}).json()
    assert {"my-1"} <= {c.get("identifier") for c in closed} and all(
        c["state"] in ("done", "cancel") for c in closed
    )


def test_remaining_req_and_429() -> None:
    cfg = default_config()
    cfg.default_per_s = 3
    with SimThread(UpbitSim(seed=1, config=cfg, flow=False)) as t:
        t.call(t.sim.add_api_key, ACCESS, SECRET)
        seen, bodies = [], []
        if time.time() % 1 > 0.6:  # the budget is per clock second: start the burst early in one
            time.sleep(1.01 - time.time() % 1)
        for _ in range(5):
            r = requests.get(t.url + "/v1/accounts", headers=auth(), timeout=10)
            seen.append((r.status_code, r.headers["Remaining-Req"]))
            bodies.append(r)
        assert seen[0] == (200, "group=default; min=1799; sec=2")
        assert seen[2][0] == 200 and seen[2][1].endswith("sec=0")
        assert error_of(bodies[3]) == (429, "too_many_requests", "Too many API requests.")
        assert error_of(bodies[4])[:2] == (418, "too_many_requests")  # asking again at once: blocked
        r = requests.get(t.url + "/v1/orderbook", params={"markets": "KRW-BTC"}, timeout=10)
        assert r.headers["Remaining-Req"].startswith("group=orderbook; ")


def test_faults_from_the_kit(st: SimThread) -> None:
    st.call(st.sim.faults.set, error_5xx=1)
    assert requests.get(st.url + "/v1/market/all", timeout=10).status_code == 503
    assert requests.get(st.url + "/v1/market/all", timeout=10).status_code == 200
    st.call(st.sim.faults.set, ban_seconds=1)
    assert error_of(call(st, "GET", "/v1/accounts"))[:2] == (418, "too_many_requests")
    time.sleep(1.05)
    assert call(st, "GET", "/v1/accounts").status_code == 200
    st.call(st.sim.faults.set, maintenance=True)
    try:
        bid, _ = top()
        r = call(
            st,
            "POST",
            "/v1/orders",
            {"market": "KRW-BTC", "side": "bid", "ord_type": "limit", "price": str(bid), "volume": "0.001"},
        )
        assert error_of(r)[:2] == (400, "market_offline")
    finally:
        st.call(st.sim.faults.set, maintenance=False)
