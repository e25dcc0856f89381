"""Scale-out routing: two engine nodes' intakes on one real nats-server, each owning a set of accounts.

Requests go to the public cmd.> subject (any node of the queue group takes each one); every command
must land in the command ring of the node owning its account, exactly once, whichever node received
it. Negative cases: an account nobody owns, a request mixing two nodes' accounts, a node that is down,
a forged forward to the wrong node, and a bad owners table.
"""

from __future__ import annotations

import uuid

import msgspec
import nats
import numpy as np
import pytest

from oms.bus.bridge import connect_nats
from oms.bus.intake import CommandIntake, Reply
from oms.bus.route import AccountRouter, node_subject
from oms.bus.settings import IntakeSender, Settings, validate
from oms.errors import Rejected
from oms.services.nats import NatsServer
from oms.shm import names
from oms.shm import records as R
from oms.shm.ring import Ring

# the remote sender the intake hears (oms/bus/intake.py: senders, their accounts and rate)
SENDERS = {"desk": IntakeSender(accounts=[1, 2, 3, 4, 5, 6, 7, 8, 9], rate_per_s=1e6, burst=10**6)}
OWNERS = {"node-a": [1, 2], "node-b": [3, 4]}
SUBJECT = "cmd.desk.submit.binance.spot.BTCUSDT"
_reply = msgspec.json.Decoder(Reply)


def _order(coid: int, account: int) -> bytes:
    return msgspec.json.encode(
        {"client_order_id": coid, "account": account, "instrument": 7, "side": "buy", "price": 5000, "qty": 1}
    )


def _drain(ring: Ring) -> np.ndarray:
    out = R.new(R.COMMAND, 1024)
    return out[: ring.consume(out)].copy()


async def test_commands_reach_the_node_owning_their_account(nats_js: NatsServer) -> None:
    rings, routers, conns = {}, {}, []
    client = await nats.connect(nats_js.admin_url)
    try:
        for node in OWNERS:
            rings[node] = Ring.create(names.bridge_commands(f"r{uuid.uuid4().hex[:7]}"), R.COMMAND, 1024)
            nc = await connect_nats(nats_js.admin_url, f"bridge-{node}")
            conns.append(nc)
            routers[node] = AccountRouter(CommandIntake(rings[node], senders=SENDERS), node, OWNERS, nc)
            await routers[node].subscribe(nc)
        sent = {1: [], 3: []}
        for coid in range(1, 41):
            account = 1 if coid % 2 else 3
            r = _reply.decode((await client.request(SUBJECT, _order(coid, account), timeout=5)).data)
            assert r.ok and r.accepted == 1, r
            sent[account].append(coid)
        got_a, got_b = _drain(rings["node-a"]), _drain(rings["node-b"])
        assert sorted(got_a["client_order_id"].tolist()) == sent[1] and set(got_a["account"].tolist()) == {1}
        assert sorted(got_b["client_order_id"].tolist()) == sent[3] and set(got_b["account"].tolist()) == {3}
        assert routers["node-a"].forwarded + routers["node-b"].forwarded > 0  # the queue group spread them

        for payload, why in (
            (_order(99, 9), "belong to no engine node"),
            (b"[" + _order(100, 1) + b"," + _order(101, 3) + b"]", "accounts of several nodes"),
        ):
            r = _reply.decode((await client.request(SUBJECT, payload, timeout=5)).data)
            assert not r.ok and r.code == "rejected" and why in r.error, r
        # a forged forward to the wrong node is refused, not taken or passed on
        r = _reply.decode(
            (await client.request(node_subject("node-a", SUBJECT), _order(102, 3), timeout=5)).data
        )
        assert not r.ok and "belong to node-b" in r.error
        assert len(_drain(rings["node-a"])) == 0 and len(_drain(rings["node-b"])) == 0

        await conns[1].close()  # node-b goes down: its accounts get a retryable error, node-a's still work
        r = _reply.decode((await client.request(SUBJECT, _order(103, 3), timeout=10)).data)
        assert not r.ok and r.code == "transient" and "node-b did not answer" in r.error
        r = _reply.decode((await client.request(SUBJECT, _order(104, 2), timeout=5)).data)
        assert r.ok and _drain(rings["node-a"])["client_order_id"].tolist() == [104]
    finally:
        await client.close()
        for nc in conns:
            if not nc.is_closed:
                await nc.close()
        for ring in rings.values():
            ring.unlink()
            ring.close()


def test_owner_tables_are_checked() -> None:
    ring_free = CommandIntake.__new__(CommandIntake)  # the table is checked before the ring is touched
    with pytest.raises(Rejected, match="both node-a and node-b"):
        AccountRouter(ring_free, "node-a", {"node-a": [1], "node-b": [1]}, None)
    with pytest.raises(Rejected, match="no entry for this node 'node-c'"):
        AccountRouter(ring_free, "node-c", OWNERS, None)
    assert validate(Settings(owners=OWNERS, node="node-a")) == []
    assert [k for k, _, _ in validate(Settings(owners=OWNERS, node=""))] == ["bus.node"]
    assert [k for k, _, _ in validate(Settings(owners={"a": [1], "b": [1]}, node="a"))] == ["bus.owners.b"]
