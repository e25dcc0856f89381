"""OCO, bracket and trailing-stop orders through the real gateway, engine, connector and Binance simulator.

The simulator starts with a static book (BTCUSDT spot 59997.00 / 60003.00, flow off); a counterparty
trades against our orders with python-binance. What the venue holds is read back from the venue with
our own key, so "canceled at the venue" and "sized to the fill" are checked where they happen.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from oms.api.gen.oms.v1 import gateway_pb2 as gw
from oms.api.gen.oms.v1 import types_pb2 as pb
from oms.client import Client, ClientError, order_request
from oms.engine import constants as C
from oms.shm import records as R
from tests.integration.conn.conftest import eventually
from tests.integration.gateway import venue_stack
from tests.integration.gateway.venue_stack import VenueStack


@pytest.fixture(scope="module")
def vs(tmp_path_factory: pytest.TempPathFactory, dev_certs: Any, nats_server: Any) -> Iterator[VenueStack]:
    yield from venue_stack.start(tmp_path_factory.mktemp("venue"), dev_certs, nats_server.admin_url)


def _client(vs: VenueStack) -> Client:
    return Client(vs.gw.target, token=vs.gw.tokens["trader"], ca=vs.gw.certs.ca_cert)


def _leg(side: str, qty: str, price: str = "", **kw: Any) -> pb.SubmitOrder:
    return order_request(1, "binance", "BTCUSDT", side, qty, price=price, market="spot", **kw)


def _venue_open(vs: VenueStack) -> list[dict[str, Any]]:
    c = vs.venue_client()
    try:
        return list(c.get_open_orders(symbol="BTCUSDT"))
    finally:
        c.close_connection()


def test_oco_fill_of_one_leg_cancels_the_other_at_the_venue(vs: VenueStack) -> None:
    with _client(vs) as t:
        res = t.submit_oco(_leg("buy", "0.001", "59999.00"), _leg("buy", "0.001", "59998.00"))
    a, b = (x.client_order_id for x in res.acks)
    assert [x.kind for x in res.acks] == [pb.EVENT_KIND_ORDER_SUBMITTED] * 2, res
    vs.wait(a, R.ORDER_ACCEPTED)
    vs.wait(b, R.ORDER_ACCEPTED)
    assert len(_venue_open(vs)) == 2
    cp = vs.counterparty()
    try:  # the first leg is the best bid now: a sell at its price fills it, and only it
        cp.create_order(
            symbol="BTCUSDT", side="SELL", type="LIMIT", timeInForce="IOC", price="59999.00", quantity="0.001"
        )
    finally:
        cp.close_connection()
    fill = vs.wait(a, R.ORDER_FILLED)[0]
    assert int(fill["status"]) == C.ST_FILLED and int(fill["price"]) == 5_999_900
    canceled = vs.wait(b, R.ORDER_CANCELED)[0]
    assert int(canceled["reason"]) in (C.R_OCO_PEER_DONE, 0)
    eventually(lambda: _venue_open(vs) == [], 10, what="the other leg gone from the venue")
    assert C.R_OCO_PEER_DONE in [int(e["reason"]) for e in vs.of(b, R.CANCEL_ORDER)]  # the engine asked


def test_bracket_children_follow_a_partly_filled_entry(vs: VenueStack) -> None:
    entry = _leg("buy", "0.01", "59999.50")
    stop = pb.SubmitOrder(
        side=pb.SIDE_SELL, order_type=pb.ORDER_TYPE_STOP_MARKET, trigger_price="59000.00"
    )  # account, symbol and quantity follow the entry
    take = pb.SubmitOrder(side=pb.SIDE_SELL, order_type=pb.ORDER_TYPE_LIMIT, price="61000.00")
    with _client(vs) as t:
        res = t.submit_bracket(entry, stop, take)
        assert [x.kind for x in res.acks] == [pb.EVENT_KIND_ORDER_SUBMITTED] * 3, res
        e, sl, tp = (x.client_order_id for x in res.acks)
        vs.wait(e, R.ORDER_ACCEPTED)
        assert t.get_order(1, sl).status == C.ST_HELD and t.get_order(1, tp).status == C.ST_HELD
        cp = vs.counterparty()
        try:
            cp.create_order(
                symbol="BTCUSDT",
                side="SELL",
                type="LIMIT",
                timeInForce="IOC",
                price="59999.50",
                quantity="0.003",
            )
        finally:
            cp.close_connection()
        f = vs.wait(e, R.ORDER_FILLED)[0]
        assert int(f["cum_qty"]) == 300 and int(f["status"]) == C.ST_PARTIALLY_FILLED
        assert t.get_order(1, sl).status == C.ST_HELD  # the entry still works: exits wait
        t.cancel(1, e)
        vs.wait(e, R.ORDER_CANCELED)
        vs.wait(sl, R.ORDER_ACCEPTED)
        vs.wait(tp, R.ORDER_ACCEPTED)
        assert t.get_order(1, sl).quantity == "0.003" and t.get_order(1, tp).quantity == "0.003"
    at_venue = _venue_open(vs)
    assert sorted((o["type"], o["origQty"]) for o in at_venue) == [
        ("LIMIT", "0.00300000"),
        ("STOP_LOSS", "0.00300000"),
    ], at_venue
    with _client(vs) as t:  # leave the book as it was for the next test
        t.cancel(1, tp)
        vs.wait(sl, R.ORDER_CANCELED)  # the take-profit's end cancels its OCO peer
    eventually(lambda: _venue_open(vs) == [], 10, what="exits canceled at the venue")


@pytest.mark.parametrize("market", ["spot", "usdm"])
def test_trailing_stop_is_emulated_and_triggers_at_the_trailed_price(vs: VenueStack, market: str) -> None:
    """Bid 59997 → 60001 (the stop trails to 60001 - 3 = 59998) → 59999 (no trigger) → 59997 (trigger)."""
    iid, ticks = (1, 100) if market == "spot" else (3, 10)  # instrument id, ticks per USDT
    qty = "0.001" if market == "spot" else "0.002"  # USD-M: notional >= 100 USDT
    fmt = "{:.2f}" if market == "spot" else "{:.1f}"

    def bid_forwarded(px: int, after: float) -> float | None:
        for ts, rec in list(vs.bbo):
            if ts >= after and int(rec["instrument"]) == iid and int(rec["price"]) == px * ticks:
                return ts
        return None

    start_ms = int(time.time() * 1000)
    with _client(vs) as t:
        ack = t.submit(
            account=1, venue="binance", market=market, symbol="BTCUSDT", side="sell", quantity=qty,
            order_type="trailing_stop_market", trailing_offset="3.00",
        )  # fmt: skip
        assert ack.kind == pb.EVENT_KIND_ORDER_SUBMITTED, ack
        oid = ack.client_order_id
        assert t.get_order(1, oid).status == C.ST_EMULATED  # Binance's capability data: not native
    cp = vs.counterparty()
    new, cancel = (
        (cp.create_order, cp.cancel_order)
        if market == "spot"
        else (cp.futures_create_order, cp.futures_cancel_order)
    )

    def bid(px: int) -> dict[str, Any]:
        return new(symbol="BTCUSDT", side="BUY", type="LIMIT", timeInForce="GTC", price=fmt.format(px),
                   quantity=qty)  # fmt: skip

    try:
        t0 = time.monotonic()
        hi = bid(60001)
        eventually(lambda: bid_forwarded(60001, t0), 10, what="bid 60001 at the engine")
        mid = bid(59999)
        t1 = time.monotonic()
        cancel(symbol="BTCUSDT", orderId=hi["orderId"])  # bid 59999: above 59998, no trigger
        eventually(lambda: bid_forwarded(59999, t1), 10, what="bid 59999 at the engine")
        time.sleep(0.3)  # a negative check needs a window: the engine has seen 59999 by now
        assert vs.of(oid, R.ORDER_TRIGGERED) == []
        t2 = time.monotonic()
        cancel(symbol="BTCUSDT", orderId=mid["orderId"])  # bid 59997 <= 59998: trigger
        seen = eventually(lambda: bid_forwarded(59997, t2), 10, what="bid 59997 at the engine")
    finally:
        cp.close_connection()
    trig = vs.wait(oid, R.ORDER_TRIGGERED)[0]
    assert int(trig["flags"]) & R.FLAG_EMULATED
    read_at = [
        ts for ts, e in vs.events if int(e["client_order_id"]) == oid and int(e["kind"]) == R.ORDER_TRIGGERED
    ]
    assert read_at[0] >= seen  # not before the bid reached the trailed price
    fill = vs.wait(oid, R.ORDER_FILLED)[0]
    assert int(fill["price"]) == 59997 * ticks and int(fill["status"]) == C.ST_FILLED
    c = vs.venue_client()
    try:
        orders = (
            c.get_all_orders(symbol="BTCUSDT")
            if market == "spot"
            else c.futures_get_all_orders(symbol="BTCUSDT")
        )
    finally:
        c.close_connection()
    sells = [o for o in orders if o["side"] == "SELL" and int(o["time"]) >= start_ms]
    assert {o["type"] for o in sells} == {"MARKET"}  # the venue never saw a trailing type
    assert Decimal(sells[-1]["executedQty"]) == Decimal(qty)


def test_contingent_requests_are_checked(vs: VenueStack) -> None:
    with _client(vs) as t:
        for bad, field in (
            (pb.SubmitOco(first=_leg("buy", "0.001", "59000")), "second"),
            (
                pb.SubmitOco(first=_leg("buy", "0.001", "59000"), second=_leg("buy", "0", "58000")),
                "second.quantity",
            ),
        ):
            with pytest.raises(ClientError) as ei:
                t._call(t.stub.SubmitOco, bad)
            assert ei.value.details.startswith(field), ei.value.details
        with pytest.raises(ClientError) as ei:
            t.submit_bracket(_leg("buy", "0.01", "59000"), pb.SubmitOrder(side=pb.SIDE_BUY,
                             order_type=pb.ORDER_TYPE_STOP_MARKET, trigger_price="58000"))  # fmt: skip
        assert "stop_loss.side" in ei.value.details
        with pytest.raises(ClientError) as ei:
            t.submit_bracket(_leg("buy", "0.01", "59000"), pb.SubmitOrder(side=pb.SIDE_SELL,
                             order_type=pb.ORDER_TYPE_LIMIT, price="58000"))  # fmt: skip
        assert "stop_loss.order_type" in ei.value.details
    other = Client(vs.gw.target, token=vs.gw.tokens["trader2"], ca=vs.gw.certs.ca_cert)  # account 2 only
    with other, pytest.raises(ClientError) as ei:
        other.submit_oco(_leg("buy", "0.001", "59000"), _leg("buy", "0.001", "58000"))
    assert "account" in ei.value.details
    assert _venue_open(vs) == []


def test_oco_and_bracket_on_the_order_stream(vs: VenueStack) -> None:
    with _client(vs) as t:
        req = gw.OrderStreamRequest(request_id=9)
        req.oco.add(first=_leg("buy", "0.001", "59000.00"), second=_leg("buy", "0.001", "58900.00"))
        resp = next(iter(t.stub.OrderStream(iter([req]), metadata=t._md(), timeout=10)))
        assert len(resp.acks) == 2 and all(a.kind == pb.EVENT_KIND_ORDER_SUBMITTED for a in resp.acks), resp
        for a in resp.acks:
            vs.wait(a.client_order_id, R.ORDER_ACCEPTED)
        t.cancel(1, resp.acks[0].client_order_id)
        vs.wait(resp.acks[1].client_order_id, R.ORDER_CANCELED)  # its peer went with it
    eventually(lambda: _venue_open(vs) == [], 10, what="both legs canceled at the venue")


def test_cli_submit_bracket(vs: VenueStack, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from oms.cli import main

    rc = main(
        ["order", "submit", "--target", vs.gw.target, "--token", vs.gw.tokens["trader"],
         "--ca", str(vs.gw.certs.ca_cert), "--account", "1", "--venue", "binance", "--market", "spot",
         "--symbol", "BTCUSDT", "--side", "buy", "--qty", "0.002", "--price", "59000.00",
         "--stop-loss", "58000.00", "--take-profit", "60500.00"]
    )  # fmt: skip
    out = capsys.readouterr().out
    assert rc == 0, out
    acks = json.loads(out.strip().splitlines()[-1])["acks"]
    assert [a["kind"] for a in acks] == ["EVENT_KIND_ORDER_SUBMITTED"] * 3, acks
    with _client(vs) as t:
        assert [t.get_order(1, int(a["client_order_id"])).status for a in acks[1:]] == [C.ST_HELD] * 2
        t.cancel(1, int(acks[0]["client_order_id"]))
        for a in acks[1:]:
            vs.wait(int(a["client_order_id"]), R.ORDER_CANCELED)  # entry ended unfilled: exits go
    eventually(lambda: _venue_open(vs) == [], 10, what="entry canceled at the venue")


def test_each_fill_moves_the_position_on_nats(vs: VenueStack, nats_server: Any) -> None:
    """The engine process's position feed: a fill → positions.binance.spot.BTCUSDT with the new qty."""
    import asyncio

    import msgspec
    import nats

    from oms.engine.report import PositionChanged

    async def run() -> list[PositionChanged]:
        nc = await nats.connect(nats_server.admin_url)
        got: list[PositionChanged] = []

        async def on_msg(m: Any) -> None:
            got.append(msgspec.json.decode(m.data, type=PositionChanged))

        try:
            await nc.subscribe("positions.binance.spot.BTCUSDT", cb=on_msg)
            await nc.flush()
            with _client(vs) as t:
                ack = await asyncio.to_thread(
                    t.submit, account=1, venue="binance", market="spot", symbol="BTCUSDT", side="buy",
                    quantity="0.001", order_type="market",
                )  # fmt: skip
                await asyncio.to_thread(vs.wait, ack.client_order_id, R.ORDER_FILLED)
            deadline = time.monotonic() + 10
            while not got and time.monotonic() < deadline:
                await asyncio.sleep(0.02)
            return got
        finally:
            await nc.close()

    got = asyncio.run(run())
    assert got and got[-1].account == 1 and got[-1].instrument == 1 and got[-1].fills >= 1
    with _client(vs) as t:  # the gateway's own view (built from the events) agrees with the feed
        (spot,) = [p for p in t.positions(1, "binance") if p.market == "spot" and p.symbol == "BTC/USDT"]
    assert Decimal(spot.quantity) == Decimal(got[-1].qty) and Decimal(got[-1].avg_price) > 0
