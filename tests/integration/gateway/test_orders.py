"""Orders end to end over TLS through the real rings to the (fake) engine: unary, batch, stream, queries,
events, admin commands, validation errors naming their field, and an engine that is down."""

from __future__ import annotations

import threading
import time

import grpc
import pytest

from oms.api.gen.oms.v1 import gateway_pb2 as gw
from oms.api.gen.oms.v1 import types_pb2 as pb
from oms.client import Client, ClientError
from tests.integration.gateway.conftest import Stack, close_stack, make_stack
from tests.integration.gateway.helpers import limit_order, md, status_of, stubs

OK = grpc.StatusCode.OK
INVALID = grpc.StatusCode.INVALID_ARGUMENT


def client(st: Stack, who: str = "trader") -> Client:
    return Client(st.target, token=st.tokens[who], ca=st.certs.ca_cert, totp_secret=st.totp.get(who))


def test_submit_list_get_cancel_modify(fake_stack: Stack) -> None:
    # FAKE engine: cancel/modify answers come from a venue: the fake engine gives them without one
    stack = fake_stack
    with client(stack) as c:
        ack = c.submit(
            account=1, venue="binance", symbol="BTC/USDT", side="buy", quantity="0.002", price="50000.5"
        )
        assert ack.kind == pb.EVENT_KIND_ORDER_ACCEPTED and ack.client_order_id and ack.command_seq
        coid = ack.client_order_id
        # venue form of the symbol resolves to the same instrument
        ack2 = c.submit(
            account=1, venue="binance", symbol="BTCUSDT", side="sell", quantity="0.001", price="60000"
        )
        assert ack2.kind == pb.EVENT_KIND_ORDER_ACCEPTED
        o = c.get_order(1, coid)
        assert (o.symbol, o.price, o.quantity, o.open) == ("BTC/USDT", "50000.5", "0.002", True)
        m = c.modify(1, coid, "binance", "BTC/USDT", price="50001")
        assert m.kind == pb.EVENT_KIND_ORDER_MODIFIED
        assert c.get_order(1, coid).price == "50001"
        assert c.cancel(1, coid).kind == pb.EVENT_KIND_ORDER_CANCELED
        assert c.cancel(1, coid).kind == pb.EVENT_KIND_CANCEL_REJECTED  # not open any more
        assert not c.get_order(1, coid).open
        assert coid in [x.client_order_id for x in c.list_orders(1)]
        assert coid not in [x.client_order_id for x in c.list_orders(1, open_only=True)]
        acks = c.cancel_all(1, venue="binance")
        assert acks.kind == pb.EVENT_KIND_ORDER_CANCELED
        assert c.list_orders(1, open_only=True) == []


def test_fills_move_positions_and_balances(fake_stack: Stack) -> None:
    # FAKE engine: fills come from a venue: the fake engine fills IOC orders itself
    stack = fake_stack
    with client(stack, "trader2") as c:
        for side, px in (("buy", "100"), ("buy", "200"), ("sell", "300")):
            ack = c.submit(
                account=2,
                venue="binance",
                market="usdm",
                symbol="ETH/USDT:USDT",
                side=side,
                quantity="1",
                price=px,
                tif="ioc",
            )
            assert ack.kind == pb.EVENT_KIND_ORDER_ACCEPTED

        def pos():
            ps = c.positions(2)
            return ps and ps[0].quantity == "1" and ps

        from oms.testing import eventually

        p = eventually(pos, timeout=5)[0]
        assert (p.symbol, p.avg_price, p.realized_pnl) == ("ETH/USDT:USDT", "150", "150")
        bal = {b.asset: b.change for b in c.balances(2)}
        assert bal == {"USDT": "150"}


def test_batch_and_validation_errors_name_the_field(stack: Stack) -> None:
    g, _ = stubs(stack.channel())
    tok = md(stack.tokens["trader"])
    code, msg, resp = status_of(
        g.SubmitBatch, pb.SubmitBatch(orders=[limit_order(), limit_order(price="50001")]), tok
    )
    assert code == OK and [a.kind for a in resp.acks] == [pb.EVENT_KIND_ORDER_SUBMITTED] * 2
    cases = [
        (limit_order(price="50000.001"), "price", "tick size 0.01"),
        (limit_order(quantity="0"), "quantity", "positive"),
        (limit_order(quantity="1e3"), "quantity", "plain decimal"),
        (limit_order(quantity="-1"), "quantity", "plain decimal"),
        (limit_order(symbol="DOGE/XYZ"), "symbol", "unknown symbol"),
        (limit_order(venue="nasdaq"), "venue", "unknown venue"),
        (limit_order(side=pb.SIDE_UNSPECIFIED), "side", "SIDE_BUY"),
        (limit_order(order_type=99), "order_type", "not an order type"),
        (limit_order(price=""), "price", "required"),
        (limit_order(price="1", quantity="0.001"), "quantity", "minimum notional"),
        (limit_order(trigger_price="5"), "trigger_price", "only for"),
        (limit_order(account=0), "account", "account id"),
        (limit_order(market="spot", symbol="BTC/USDT:USDT"), "market", ""),
        (limit_order(expire_time_ns=5), "expire_time_ns", "within the next year"),
        (limit_order(post_only=True, time_in_force=pb.TIME_IN_FORCE_IOC), "post_only", "post-only"),
    ]
    for req, field, words in cases:
        code, msg, _ = status_of(g.SubmitOrder, req, tok)
        assert code == INVALID, (req, msg)
        assert msg.startswith(f"{field}:") and words in msg, msg
    code, msg, _ = status_of(
        g.SubmitBatch, pb.SubmitBatch(orders=[limit_order(), limit_order(price="x")]), tok
    )
    assert code == INVALID and msg.startswith("orders[1].price:")
    code, msg, _ = status_of(g.SubmitBatch, pb.SubmitBatch(), tok)
    assert code == INVALID and msg.startswith("orders:")


def test_order_stream_acks_and_errors_in_band(stack: Stack) -> None:
    g, _ = stubs(stack.channel())
    reqs = [
        gw.OrderStreamRequest(request_id=i, submit=[limit_order(), limit_order(price="50001")])
        for i in range(1, 51)
    ]
    reqs.append(gw.OrderStreamRequest(request_id=99, submit=[limit_order(price="bad")]))
    reqs.append(gw.OrderStreamRequest(request_id=100))
    acks: list[pb.OrderAck] = []
    for resp in g.OrderStream(iter(reqs), metadata=md(stack.tokens["trader"]), timeout=20):
        acks.extend(resp.acks)
    ok = [a for a in acks if not a.error]
    assert len(ok) == 100 and all(a.kind == pb.EVENT_KIND_ORDER_SUBMITTED for a in ok)
    assert sorted({a.request_id for a in ok}) == list(range(1, 51))
    bad = {a.request_id: a for a in acks if a.error}
    assert bad[99].error.startswith("submit[0].price:") and bad[99].error_code == INVALID.value[0]
    assert bad[100].error_code == INVALID.value[0]
    # the stream's allowed orders are audited as one summary record when it closes
    from oms.api.audit_sink import read_records
    from oms.testing import eventually

    def summary() -> dict | None:
        recs = [x for x in read_records(stack.settings.audit_file) if x["reason"] == "stream closed"]
        return next((x for x in recs if x["detail"]["commands_sent"] == 100), None)

    rec = eventually(summary, timeout=5)
    assert rec["detail"]["commands_refused"] == 2 and rec["token_id"] == stack.ids["trader"]


def test_stream_events_follow(stack: Stack) -> None:
    got: list[pb.OrderEvent] = []
    ready = threading.Event()

    def follow() -> None:
        with client(stack, "viewer") as c:
            ready.set()
            for e in c.events([1], venue="binance", timeout=6):
                got.append(e)
                if len(got) >= 2:
                    return

    t = threading.Thread(target=follow)
    t.start()
    ready.wait(5)
    with client(stack) as c:
        from oms.testing import eventually

        def submitted() -> bool:
            c.submit(account=1, venue="binance", symbol="ETH/USDT", side="buy", quantity="0.01", price="3000")
            return len(got) >= 2

        eventually(submitted, timeout=6)
    t.join(10)
    assert got and got[0].kind == pb.EVENT_KIND_ORDER_SUBMITTED and got[0].symbol == "ETH/USDT"
    assert got[0].account == 1 and got[0].price == "3000"


def test_admin_kill_switch_halts_trading(stack: Stack) -> None:
    with client(stack, "admin") as a, client(stack) as t:
        a.totp = None
        ack = a.set_trading_state("halted", account=1, reason="test kill switch")
        assert ack.acks[0].kind == pb.EVENT_KIND_TRADING_STATE_CHANGED
        r = t.submit(
            account=1, venue="binance", symbol="BTC/USDT", side="buy", quantity="0.001", price="50000"
        )
        assert r.kind == pb.EVENT_KIND_ORDER_REJECTED and r.reason == 15  # risk.trading_halted
        import pyotp

        a.totp = pyotp.TOTP(stack.totp["admin"]).at(time.time() + 30)  # single-use: next step's code
        a.set_trading_state("active", account=1)
        r = t.submit(
            account=1, venue="binance", symbol="BTC/USDT", side="buy", quantity="0.001", price="50000"
        )
        assert r.kind == pb.EVENT_KIND_ORDER_SUBMITTED


@pytest.fixture
def engineless(tmp_path, dev_certs):  # type: ignore[no-untyped-def]
    st = make_stack(tmp_path, dev_certs, engine=False)
    yield st
    close_stack(st)


def test_engine_down_is_unavailable_not_internal(engineless: Stack) -> None:
    with client(engineless) as c, pytest.raises(ClientError) as ei:
        c.submit(account=1, venue="binance", symbol="BTC/USDT", side="buy", quantity="0.001", price="50000")
    assert ei.value.status == grpc.StatusCode.UNAVAILABLE and "engine is not running" in ei.value.details


def test_order_stream_delivers_later_events_of_its_orders(fake_stack: Stack) -> None:
    # FAKE engine: later events (fills) come from a venue: the fake engine makes them
    stack = fake_stack
    """Orders in, acks *and events* out: an IOC order's fill comes back on the stream that sent it."""
    g, _ = stubs(stack.channel())
    seen_fill = threading.Event()

    def requests():  # type: ignore[no-untyped-def]
        yield gw.OrderStreamRequest(request_id=7, submit=[limit_order(time_in_force=pb.TIME_IN_FORCE_IOC)])
        seen_fill.wait(10)  # keep the stream open until the event arrived

    acks, events = [], []
    for resp in g.OrderStream(requests(), metadata=md(stack.tokens["trader"]), timeout=15):
        acks.extend(resp.acks)
        events.extend(resp.events)
        if any(e.kind == pb.EVENT_KIND_ORDER_FILLED for e in events):
            seen_fill.set()
    assert acks[0].request_id == 7 and acks[0].kind == pb.EVENT_KIND_ORDER_ACCEPTED
    fill = next(e for e in events if e.kind == pb.EVENT_KIND_ORDER_FILLED)
    assert fill.client_order_id == acks[0].client_order_id
    assert (fill.price, fill.quantity, fill.leaves_quantity, fill.symbol) == (
        "50000",
        "0.001",
        "0",
        "BTC/USDT",
    )
