"""Security (engine room): one account can never act on, learn about or block another account's orders.

Each test is an attack made against the real engine kernels (oms/engine through its Python face
`Engine`), and each is denied: cross-account cancel/modify, a duplicate-id probe, an OCO/bracket link
to another account's order, and venue events routed by (account, id). Another account's id must be
answered exactly like an id that exists nowhere (no status, price or quantity of the other order).
"""

from __future__ import annotations

import numpy as np

from oms.engine import constants as C
from oms.engine.core import Engine
from oms.shm import records as R
from tests.unit.engine.conftest import PX, make_engine

VICTIM, ATTACKER = 1, 2
COID = 424242
SAME_FIELDS = [f for f in R.EVENT.names if f not in ("client_order_id", "seq", "ref_seq", "ts_ns")]


def _engine() -> Engine:
    e = make_engine()
    e.md(R.MD_BBO, 1, PX, PX + 100)
    return e


def _victim_order(e: Engine) -> None:
    out = e.submit(COID, account=VICTIM, instrument=1, side=1, qty=10, price=PX)
    assert out.kinds() == ["OrderSubmitted"] and len(out.commands) == 1
    e.venue(R.ORDER_ACCEPTED, COID, account=VICTIM, venue_order_id=99)
    assert e.status(COID, VICTIM) == "Accepted"


def _answer_fields(ev: np.void) -> dict[str, int]:
    return {f: int(ev[f]) for f in SAME_FIELDS}


def test_cross_account_cancel_is_unknown_order_and_leaks_nothing() -> None:
    e = _engine()
    _victim_order(e)
    foreign = e.cancel(COID, account=ATTACKER)
    nowhere = e.cancel(777, account=ATTACKER)
    assert foreign.kinds() == ["CancelRejected"] and len(foreign.commands) == 0  # nothing to the venue
    assert int(foreign.events[0]["reason"]) == C.R_UNKNOWN_ORDER
    assert _answer_fields(foreign.events[0]) == _answer_fields(nowhere.events[0])  # same as "no such id"
    assert int(foreign.events[0]["client_order_id"]) == COID and int(foreign.events[0]["account"]) == ATTACKER
    assert e.status(COID, VICTIM) == "Accepted"


def test_cross_account_modify_is_unknown_order_and_leaks_nothing() -> None:
    e = _engine()
    _victim_order(e)
    foreign = e.modify(COID, price=PX + 1, qty=20, account=ATTACKER)
    nowhere = e.modify(777, price=PX + 1, qty=20, account=ATTACKER)
    assert foreign.kinds() == ["ModifyRejected"] and len(foreign.commands) == 0
    assert _answer_fields(foreign.events[0]) == _answer_fields(nowhere.events[0])
    o = e.order(COID, VICTIM)
    assert o is not None and int(o["qty"]) == 10 and int(o["price"]) == PX


def test_same_id_in_another_account_is_a_new_order_not_a_duplicate_probe() -> None:
    e = _engine()
    _victim_order(e)
    out = e.submit(COID, account=ATTACKER, instrument=1, side=-1, qty=3, price=PX)
    assert out.kinds() == ["OrderSubmitted"], "another account's id must neither be refused nor revealed"
    assert e.order(COID, ATTACKER)["side"] == -1 and e.order(COID, VICTIM)["side"] == 1
    again = e.submit(COID, account=VICTIM, instrument=1, side=1, qty=10, price=PX)
    assert int(again.events[0]["reason"]) == C.R_DUPLICATE_CLIENT_ORDER_ID  # still unique per account
    # cancelling the attacker's own copy leaves the victim's order alone
    e.cancel(COID, account=ATTACKER)
    assert e.status(COID, ATTACKER) == "PendingCancel" and e.status(COID, VICTIM) == "Accepted"


def test_venue_events_reach_the_order_of_their_account() -> None:
    e = _engine()
    _victim_order(e)
    e.submit(COID, account=ATTACKER, instrument=1, side=-1, qty=3, price=PX)
    e.venue(R.ORDER_FILLED, COID, account=ATTACKER, price=PX, qty=3, trade_id=5)
    assert e.status(COID, ATTACKER) == "Filled" and e.status(COID, VICTIM) == "Accepted"
    assert int(e.position(VICTIM, 1)["qty"]) == 0 and int(e.position(ATTACKER, 1)["qty"]) == -3


def test_oco_link_to_another_accounts_order_does_not_touch_it() -> None:
    e = _engine()
    _victim_order(e)
    out = e.submit(
        5, account=ATTACKER, instrument=1, side=1, qty=1, price=PX, contingency=R.CONT_OCO, ref_id=COID
    )
    assert out.kinds() == ["OrderSubmitted"]
    e.venue(R.ORDER_FILLED, 5, account=ATTACKER, price=PX, qty=1, trade_id=6)  # "peer" done -> cancel peer?
    assert e.status(COID, VICTIM) == "Accepted"  # the victim's order was never linked
    assert int(e.order(COID, VICTIM)["peer"]) == 0


def test_bracket_child_cannot_hang_on_another_accounts_entry() -> None:
    e = _engine()
    _victim_order(e)
    out = e.submit(
        6,
        account=ATTACKER,
        instrument=1,
        side=-1,
        qty=10,
        price=PX + 500,
        contingency=R.CONT_BRACKET_CHILD,
        ref_id=COID,
    )
    assert int(out.events[0]["reason"]) == C.R_UNKNOWN_ORDER
    assert int(e.order(COID, VICTIM)["kid_a"]) == 0


def test_replay_rebuilds_both_accounts_orders_with_the_same_id() -> None:
    e = _engine()
    evs = []
    for acct, side in ((VICTIM, 1), (ATTACKER, -1)):
        evs.append(e.submit(COID, account=acct, instrument=1, side=side, qty=4, price=PX).events)
    evs.append(e.venue(R.ORDER_FILLED, COID, account=ATTACKER, price=PX, qty=4, trade_id=9).events)
    r = make_engine()
    r.replay(np.concatenate(evs))
    assert r.status(COID, VICTIM) == "PendingNew" and r.status(COID, ATTACKER) == "Filled"
