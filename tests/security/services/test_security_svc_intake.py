"""Security (bus room): cross-host order intake, attacked through the real nats-server.

The bridge side is `CommandIntake` behind a real subscription as the `bridge` user; the attacker is the
remote sender `intake-desk` (accounts 3 and 4, not admin). Denied: trading another account, changing
risk limits, flooding past its rate, choosing its own sequence numbers, sending as another sender.
"""

from __future__ import annotations

import msgspec
import nats
import pytest

from oms.bus.intake import CommandIntake, Reply
from oms.bus.settings import IntakeSender
from oms.services.nats import NatsServer
from oms.shm import names
from oms.shm import records as R
from oms.shm.ring import Ring

_reply = msgspec.json.Decoder(Reply)
ORDER = {"client_order_id": 11, "account": 3, "instrument": 7, "side": "buy", "price": 100, "qty": 1}


@pytest.fixture
async def rig(nats_server: NatsServer, tmp_path):  # type: ignore[no-untyped-def]
    nats_server.add_users("intake-desk")
    ring = Ring.create(names.bridge_commands(f"s{tmp_path.name[-8:]}"), R.COMMAND, 256)
    now = [0.0]
    intake = CommandIntake(
        ring, senders={"desk": IntakeSender(accounts=[3, 4], rate_per_s=2, burst=3)}, clock=lambda: now[0]
    )
    bridge = await nats.connect(nats_server.url_for("bridge"))

    async def on_cmd(msg: nats.aio.msg.Msg) -> None:
        await msg.respond(intake.handle(msg.subject, msg.data))

    await bridge.subscribe("cmd.>", queue="oms-bridge", cb=on_cmd)
    await bridge.flush()
    # the sender connects after the subscription exists (see test_security_svc_nats.py's docstring)
    sender = await nats.connect(nats_server.url_for("intake-desk"))

    async def send(verb: str, body: dict, sender_name: str = "desk", timeout: float = 5) -> Reply:
        subject = f"cmd.{sender_name}.{verb}.binance.spot.BTCUSDT"
        r = await sender.request(subject, msgspec.json.encode(body), timeout=timeout)
        return _reply.decode(r.data)

    yield send, ring, now
    await sender.close()
    await bridge.close()
    ring.unlink()
    ring.close()


async def test_sender_trades_only_its_own_accounts(rig) -> None:  # type: ignore[no-untyped-def]
    send, ring, _ = rig
    rep = await send("submit", {**ORDER, "account": 1})
    assert not rep.ok and rep.code == "rejected" and "account 1 is not one of sender 'desk'" in rep.error
    rep = await send("cancel", {"client_order_id": 5, "account": 0})
    assert not rep.ok and "account 0" in rep.error
    assert ring.depth() == 0  # nothing reached the engine
    assert (await send("submit", ORDER)).ok and ring.depth() == 1


async def test_risk_verbs_need_an_admin_sender(rig) -> None:  # type: ignore[no-untyped-def]
    send, ring, _ = rig
    rep = await send("risk_limit", {"account": 3, "param_id": 1, "param_value": 10**9})
    assert not rep.ok and "may not send risk_limit" in rep.error
    rep = await send("trading_state", {"account": 3, "param_value": 1})
    assert not rep.ok and "may not send trading_state" in rep.error
    assert ring.depth() == 0


async def test_a_flood_is_rate_limited(rig) -> None:  # type: ignore[no-untyped-def]
    send, ring, now = rig
    codes = [(await send("submit", {**ORDER, "client_order_id": 100 + i})).code or "ok" for i in range(6)]
    assert codes == ["ok", "ok", "ok", "rate_limited", "rate_limited", "rate_limited"]
    assert ring.depth() == 3
    now[0] += 1.0  # two more tokens a second later
    assert (await send("submit", {**ORDER, "client_order_id": 200})).ok


async def test_the_bridge_assigns_sequence_numbers(rig) -> None:  # type: ignore[no-untyped-def]
    send, ring, _ = rig
    a = await send("submit", {**ORDER, "seq": 5})
    b = await send("submit", {**ORDER, "client_order_id": 12, "seq": 5})  # a replayed/colliding seq
    assert a.ok and b.ok and a.seq[0] != 5 and b.seq[0] > a.seq[0]
    out = R.new(R.COMMAND, 4)
    assert ring.consume(out) == 2 and [int(x) for x in out["seq"][:2]] == [a.seq[0], b.seq[0]]


async def test_an_unknown_or_impersonated_sender_gets_nothing_through(rig, nats_server: NatsServer) -> None:  # type: ignore[no-untyped-def]
    send, ring, _ = rig
    # posing as another sender is refused by the server itself (no reply ever comes back)
    with pytest.raises((nats.errors.NoRespondersError, nats.errors.TimeoutError)):
        await send("submit", ORDER, sender_name="other", timeout=1)
    # an admin-made request for a sender the bridge does not know is rejected by the bridge
    admin = await nats.connect(nats_server.admin_url)
    try:
        r = await admin.request(
            "cmd.ghost.submit.binance.spot.BTCUSDT", msgspec.json.encode(ORDER), timeout=5
        )
        rep = _reply.decode(r.data)
        assert not rep.ok and "sender 'ghost' is not configured" in rep.error
    finally:
        await admin.close()
    assert ring.depth() == 0
