"""Security (gateway + engine): a token of account 2 cannot cancel, modify, read, duplicate-block or
stream-follow an order of account 1 — through the real gateway in front of the real engine process.

Before the fix, `oms order cancel --account 2 <account 1's id>` cancelled account 1's order: the gateway
checked the token against the command's account (2), and the engine found the order by id alone.
"""

from __future__ import annotations

import itertools
import queue
import threading
import time
from collections.abc import Iterator

import grpc
import pytest

from oms.api.gen.oms.v1 import gateway_pb2 as gw
from oms.api.gen.oms.v1 import types_pb2 as pb
from oms.client import Client, ClientError, metadata, order_request
from oms.engine import constants as ec
from oms.shm import records as r
from oms.testing import eventually
from tests.security.gateway.conftest import Real

_ids = itertools.count(int(time.time()) % 100_000 * 1000 + 1)


def _client(real: Real, who: str) -> Client:
    st = real.st
    return Client(st.target, token=st.tokens[who], ca=st.certs.ca_cert)


def _rest(c: Client, account: int, coid: int, price: str = "50000") -> pb.OrderAck:
    ack = c.submit(
        account=account,
        venue="binance",
        symbol="BTCUSDT",
        side="buy",
        quantity="0.001",
        price=price,
        client_order_id=coid,
    )
    assert ack.kind == pb.EVENT_KIND_ORDER_SUBMITTED, ack
    return ack


def _same_answer(a: pb.OrderAck, b: pb.OrderAck) -> None:
    """Two refusals that must be indistinguishable apart from the id and sequence the caller chose."""
    assert (a.kind, a.reason, a.error, a.error_code) == (b.kind, b.reason, b.error, b.error_code)


def test_cross_account_cancel_answers_like_an_unknown_id(real: Real) -> None:
    victim_id = next(_ids)
    with _client(real, "trader") as victim, _client(real, "trader2") as attacker:
        _rest(victim, 1, victim_id)
        foreign = attacker.cancel(2, victim_id)
        nowhere = attacker.cancel(2, next(_ids))
        assert foreign.kind == pb.EVENT_KIND_CANCEL_REJECTED and foreign.reason == ec.R_UNKNOWN_ORDER
        _same_answer(foreign, nowhere)
        with pytest.raises(ClientError) as e:  # naming the victim's account is refused by scope
            attacker.cancel(1, victim_id)
        assert e.value.status == grpc.StatusCode.PERMISSION_DENIED
        assert victim.get_order(1, victim_id).status == ec.ST_PENDING_NEW  # still working


def test_cross_account_modify_answers_like_an_unknown_id(real: Real) -> None:
    victim_id = next(_ids)
    with _client(real, "trader") as victim, _client(real, "trader2") as attacker:
        _rest(victim, 1, victim_id)
        real.venue_event(r.ORDER_ACCEPTED, 1, victim_id, venue_order_id=7)
        eventually(lambda: victim.get_order(1, victim_id).status == ec.ST_ACCEPTED)
        foreign = attacker.modify(2, victim_id, "binance", "BTCUSDT", price="49000", quantity="0.002")
        nowhere = attacker.modify(2, next(_ids), "binance", "BTCUSDT", price="49000", quantity="0.002")
        assert foreign.kind == pb.EVENT_KIND_MODIFY_REJECTED and foreign.reason == ec.R_UNKNOWN_ORDER
        _same_answer(foreign, nowhere)
        o = victim.get_order(1, victim_id)
        assert (o.price, o.quantity, o.status) == ("50000", "0.001", ec.ST_ACCEPTED)


def test_query_of_another_accounts_id_is_not_found_like_an_unknown_id(real: Real) -> None:
    victim_id, unknown = next(_ids), next(_ids)
    with _client(real, "trader") as victim, _client(real, "trader2") as attacker:
        _rest(victim, 1, victim_id)
        msgs = []
        for coid in (victim_id, unknown):
            with pytest.raises(ClientError) as e:
                attacker.get_order(2, coid)
            assert e.value.status == grpc.StatusCode.NOT_FOUND
            msgs.append(e.value.details.replace(str(coid), "ID"))
        assert msgs[0] == msgs[1]
        assert all(o.client_order_id != victim_id for o in attacker.list_orders(2))


def test_same_id_in_two_accounts_are_two_orders(real: Real) -> None:
    shared = next(_ids)
    with _client(real, "trader") as victim, _client(real, "trader2") as attacker:
        _rest(attacker, 2, shared, price="49990")  # the attacker claims the id first
        _rest(victim, 1, shared)  # ... and the victim can still use it: not blocked
        assert victim.get_order(1, shared).price == "50000"
        assert attacker.get_order(2, shared).price == "49990"
        dup = victim.submit(
            account=1,
            venue="binance",
            symbol="BTCUSDT",
            side="buy",
            quantity="0.001",
            price="50000",
            client_order_id=shared,
        )
        assert dup.reason == ec.R_DUPLICATE_CLIENT_ORDER_ID  # unique per (account, id)
        assert victim.get_order(1, shared).status == ec.ST_PENDING_NEW  # a duplicate changes nothing


class _Stream:
    """An OrderStream client: requests from a queue, responses collected by a thread."""

    def __init__(self, real: Real, who: str) -> None:
        self.client = _client(real, who)
        self.q: queue.Queue[gw.OrderStreamRequest | None] = queue.Queue()
        self.acks: list[pb.OrderAck] = []
        self.events: list[pb.OrderEvent] = []
        self.call = self.client.stub.OrderStream(self._requests(), metadata=metadata(real.st.tokens[who]))
        self.t = threading.Thread(target=self._read, daemon=True)
        self.t.start()

    def _requests(self) -> Iterator[gw.OrderStreamRequest]:
        while (req := self.q.get()) is not None:
            yield req

    def _read(self) -> None:
        try:
            for resp in self.call:
                self.acks.extend(resp.acks)
                self.events.extend(resp.events)
        except grpc.RpcError:
            pass

    def submit(self, rid: int, account: int, coid: int) -> pb.OrderAck:
        o = order_request(account, "binance", "BTCUSDT", "buy", "0.001", price="50000", client_order_id=coid)
        self.q.put(gw.OrderStreamRequest(request_id=rid, submit=[o]))
        return eventually(lambda: next((a for a in self.acks if a.request_id == rid), None))

    def close(self) -> None:
        self.q.put(None)
        self.call.cancel()
        self.client.close()


def test_stream_claiming_another_accounts_id_gets_none_of_its_events(real: Real) -> None:
    victim_id = next(_ids)
    victim = _Stream(real, "trader")
    attacker = _Stream(real, "trader2")
    try:
        assert victim.submit(1, 1, victim_id).kind == pb.EVENT_KIND_ORDER_SUBMITTED
        # the attacker claims the same id on its own stream, after and before the victim's next order
        assert attacker.submit(1, 2, victim_id).kind == pb.EVENT_KIND_ORDER_SUBMITTED
        later = next(_ids)
        assert attacker.submit(2, 2, later).kind == pb.EVENT_KIND_ORDER_SUBMITTED
        assert victim.submit(2, 1, later).kind == pb.EVENT_KIND_ORDER_SUBMITTED  # not blocked
        # the venue accepts and fills the victim's orders
        for coid in (victim_id, later):
            real.venue_event(r.ORDER_ACCEPTED, 1, coid, venue_order_id=coid)
            real.venue_event(r.ORDER_FILLED, 1, coid, price=5_000_000, qty=100, trade_id=coid)
        eventually(lambda: sum(e.kind == pb.EVENT_KIND_ORDER_FILLED for e in victim.events) == 2)
        time.sleep(0.2)  # give any misrouted event the time to arrive at the attacker
        assert [e for e in attacker.events if e.account == 1] == []
        assert attacker.events == []
        assert {e.client_order_id for e in victim.events} == {victim_id, later}
    finally:
        victim.close()
        attacker.close()


def test_stream_does_not_follow_an_order_after_a_refused_submit(real: Real) -> None:
    """A duplicate id from another stream of the same account is refused and steals nothing."""
    coid = next(_ids)
    owner = _Stream(real, "trader")
    other = _Stream(real, "trader")
    try:
        assert owner.submit(1, 1, coid).kind == pb.EVENT_KIND_ORDER_SUBMITTED
        dup = other.submit(1, 1, coid)
        assert dup.kind == pb.EVENT_KIND_ORDER_REJECTED and dup.reason == ec.R_DUPLICATE_CLIENT_ORDER_ID
        real.venue_event(r.ORDER_ACCEPTED, 1, coid, venue_order_id=coid)
        eventually(lambda: any(e.kind == pb.EVENT_KIND_ORDER_ACCEPTED for e in owner.events))
        time.sleep(0.2)
        assert other.events == []
    finally:
        owner.close()
        other.close()
