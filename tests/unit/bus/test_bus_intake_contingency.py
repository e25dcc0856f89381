"""Bus room: OCO and bracket commands over the NATS intake (`contingency`, `ref_id`) into a real ring."""

from __future__ import annotations

import uuid

import msgspec

from oms.bus.intake import CommandIntake, Reply
from oms.bus.settings import IntakeSender
from oms.shm import names
from oms.shm import records as R
from oms.shm.ring import Ring

_reply = msgspec.json.Decoder(Reply)
SUBJ = "cmd.desk.submit.binance.spot.BTCUSDT"
SENDERS = {"desk": IntakeSender(accounts=[3], rate_per_s=1000, burst=1000)}


def _order(coid: int, **kw: object) -> dict[str, object]:
    return {
        "client_order_id": coid,
        "account": 3,
        "instrument": 7,
        "side": "buy",
        "price": 5000,
        "qty": 3,
        **kw,
    }


def test_bracket_and_oco_reach_the_ring_linked_and_bad_links_are_refused() -> None:
    ring = Ring.create(names.bridge_commands("ti" + uuid.uuid4().hex[:8]), R.COMMAND, 64)
    try:
        intake = CommandIntake(ring, senders=SENDERS)
        bracket = [
            _order(1, contingency="bracket_entry"),
            _order(2, side="sell", order_type="stop_market", price=0, trigger_price=4000,
                   contingency="bracket_child", ref_id=1),
            _order(3, side="sell", price=6000, contingency="bracket_child", ref_id=1),
        ]  # fmt: skip
        rep = _reply.decode(intake.handle(SUBJ, msgspec.json.encode(bracket)))
        assert rep.ok and rep.accepted == 3, rep
        oco = [_order(4, contingency="oco"), _order(5, price=4900, contingency="oco", ref_id=4)]
        assert _reply.decode(intake.handle(SUBJ, msgspec.json.encode(oco))).accepted == 2
        out = R.new(R.COMMAND, 8)
        assert ring.consume(out) == 5
        assert list(out["contingency"][:5]) == [
            R.CONT_BRACKET_ENTRY, R.CONT_BRACKET_CHILD, R.CONT_BRACKET_CHILD, R.CONT_OCO, R.CONT_OCO
        ]  # fmt: skip
        assert list(out["ref_id"][:5]) == [0, 1, 1, 0, 4]
        for payload, needle in (
            (_order(6, contingency="bracket_child"), "needs ref_id"),
            (_order(6, contingency="oco", ref_id=6), "other order"),
            (_order(6, contingency="one_cancels_all"), "contingency"),
        ):
            rep = _reply.decode(intake.handle(SUBJ, msgspec.json.encode(payload)))
            assert not rep.ok and rep.code == "rejected" and needle in rep.error, rep
        frame_bad = R.new(R.COMMAND, 1)
        frame_bad["kind"], frame_bad["venue"], frame_bad["market"] = R.SUBMIT_ORDER, 1, 1
        frame_bad["client_order_id"], frame_bad["instrument"], frame_bad["side"] = 9, 7, R.SIDE_BUY
        frame_bad["qty"], frame_bad["order_type"], frame_bad["contingency"] = 1, R.ORD_MARKET, 77
        frame_bad["account"] = 3
        from oms.bus import frames as F

        rep = _reply.decode(intake.handle(SUBJ, F.encode(frame_bad)))
        assert not rep.ok and "contingency 77" in rep.error
        assert ring.consume(out) == 0
    finally:
        ring.close()
        ring.unlink()
