"""Order state machine: every named transition, late/duplicate/out-of-order venue events, idempotency."""

from __future__ import annotations

import numpy as np

from oms.engine import constants as C
from oms.engine.core import wire_id
from oms.shm import records as R
from tests.unit.engine.conftest import PX, make_engine


def submit(e, coid, side=1, qty=1000, price=PX, account=1, instrument=1, **kw):
    return e.submit(coid, account=account, instrument=instrument, side=side, qty=qty, price=price, **kw)


def test_lifecycle_accept_partial_fill(eng):
    out = submit(eng, 1)
    assert out.kinds() == ["OrderSubmitted"] and out.events[0]["status"] == C.ST_PENDING_NEW
    assert out.commands[0]["kind"] == R.SUBMIT_ORDER and out.commands[0]["client_order_id"] == 1
    assert eng.venue(R.ORDER_ACCEPTED, 1, venue_order_id=55).events[0]["status"] == C.ST_ACCEPTED
    assert eng.order(1)["venue_order_id"] == 55
    out = eng.venue(R.ORDER_FILLED, 1, price=PX, qty=300, trade_id=1)
    assert out.events[0]["status"] == C.ST_PARTIALLY_FILLED and out.events[0]["leaves_qty"] == 700
    out = eng.venue(R.ORDER_FILLED, 1, price=PX - 10, qty=700, trade_id=2)
    assert out.events[0]["status"] == C.ST_FILLED and out.events[0]["cum_qty"] == 1000
    assert eng.transitions() == {"Submit": 1, "Accept": 1, "PartialFill": 1, "Fill": 1}
    assert eng.counters()["open_orders"] == 0
    p = eng.position(1, 1)
    assert p["qty"] == 1000 and p["open_buy"] == 0 and p["cost"] == 300 * PX + 700 * (PX - 10)


def test_cancel_request_then_canceled_and_cancel_rejected(eng):
    submit(eng, 1)
    eng.venue(R.ORDER_ACCEPTED, 1)
    out = eng.cancel(1)
    assert out.kinds() == ["CancelOrder"] and eng.status(1) == "PendingCancel"
    assert out.commands[0]["kind"] == R.CANCEL_ORDER and out.commands[0]["ref_id"] == 1
    # a second cancel while one is in flight is not sent twice
    out = eng.cancel(1)
    assert out.kinds() == ["CancelRejected"] and out.events[0]["reason"] == C.R_ALREADY_PENDING
    assert len(out.commands) == 0
    out = eng.venue(R.CANCEL_REJECTED, 1, reason=1000 + 2011)
    assert eng.status(1) == "Accepted" and out.kinds() == ["CancelRejected"]
    eng.cancel(1)
    out = eng.venue(R.ORDER_CANCELED, 1)
    assert eng.status(1) == "Canceled" and eng.position(1, 1)["open_buy"] == 0
    assert eng.account(1)["open_notional"] == 0


def test_modify_pending_replace_then_modified_and_rejected(eng):
    submit(eng, 1)
    eng.venue(R.ORDER_ACCEPTED, 1)
    out = eng.modify(1, price=PX - 50, qty=2000)
    assert out.kinds() == ["ModifyOrder"] and eng.status(1) == "PendingReplace"
    assert out.commands[0]["kind"] == R.MODIFY_ORDER and out.commands[0]["qty"] == 2000
    out = eng.venue(R.ORDER_MODIFIED, 1, price=PX - 50, qty=2000)
    assert eng.status(1) == "Accepted" and eng.order(1)["qty"] == 2000 and eng.order(1)["price"] == PX - 50
    assert eng.position(1, 1)["open_buy"] == 2000
    eng.modify(1, qty=1500)
    out = eng.venue(R.MODIFY_REJECTED, 1, reason=1000 + 2013)
    assert eng.status(1) == "Accepted" and eng.order(1)["qty"] == 2000
    assert "Modified" in eng.transitions() and "ModifyRejected" in eng.transitions()


def test_venue_reject_and_expire(eng):
    submit(eng, 1)
    out = eng.venue(R.ORDER_REJECTED, 1, reason=1000 + 2010)
    assert eng.status(1) == "Rejected" and out.events[0]["reason"] == 3010
    submit(eng, 2)
    eng.venue(R.ORDER_ACCEPTED, 2)
    eng.venue(R.ORDER_EXPIRED, 2)
    assert eng.status(2) == "Expired" and eng.position(1, 1)["open_buy"] == 0


def test_fill_after_cancel_ack_is_applied_once(eng):
    submit(eng, 1)
    eng.venue(R.ORDER_ACCEPTED, 1)
    eng.cancel(1)
    eng.venue(R.ORDER_CANCELED, 1)
    out = eng.venue(R.ORDER_FILLED, 1, price=PX, qty=400, trade_id=9)
    assert out.kinds() == ["OrderFilled"] and out.events[0]["reason"] == C.R_LATE_EVENT
    assert eng.status(1) == "Canceled" and eng.position(1, 1)["qty"] == 400
    out = eng.venue(R.ORDER_FILLED, 1, price=PX, qty=400, trade_id=9)  # the same fill again
    assert out.events[0]["reason"] == C.R_DUPLICATE_FILL and eng.position(1, 1)["qty"] == 400
    assert eng.counters()["duplicate_fills"] == 1


def test_out_of_order_fill_before_ack_and_late_ack(eng):
    submit(eng, 1)
    eng.venue(R.ORDER_FILLED, 1, price=PX, qty=1000, trade_id=1)
    assert eng.status(1) == "Filled"
    out = eng.venue(R.ORDER_ACCEPTED, 1, venue_order_id=77)
    assert out.events[0]["reason"] == C.R_LATE_EVENT and eng.status(1) == "Filled"
    assert eng.order(1)["venue_order_id"] == 77
    out = eng.venue(R.ORDER_CANCELED, 1)  # cancel ack after the fill: ignored
    assert eng.status(1) == "Filled" and out.events[0]["reason"] == C.R_LATE_EVENT


def test_overfill_dropped_and_unknown_order_reported(eng):
    submit(eng, 1, qty=100)
    out = eng.venue(R.ORDER_FILLED, 1, price=PX, qty=150, trade_id=1)
    assert out.events[0]["reason"] == C.R_OVERFILL and eng.position(1, 1)["qty"] == 0
    out = eng.venue(R.ORDER_FILLED, 999, price=PX, qty=1, trade_id=5)
    assert out.events[0]["reason"] == C.R_UNKNOWN_ORDER and out.events[0]["status"] == C.ST_NONE
    assert eng.counters()["unknown_order_events"] == 1 and eng.counters()["overfills"] == 1


def test_idempotent_client_order_id(eng):
    first = submit(eng, 42)
    again = submit(eng, 42, qty=5)
    assert len(first.commands) == 1 and len(again.commands) == 0
    assert again.events[0]["reason"] == C.R_DUPLICATE_CLIENT_ORDER_ID
    assert again.events[0]["status"] == C.ST_PENDING_NEW and eng.order(42)["qty"] == 1000
    eng.venue(R.ORDER_FILLED, 42, price=PX, qty=1000, trade_id=1)
    assert submit(eng, 42).events[0]["status"] == C.ST_FILLED  # still known after it ended


def test_invalid_orders_name_the_reason(eng):
    assert submit(eng, 0).events[0]["reason"] == C.R_INVALID_ORDER
    assert submit(eng, 1, qty=0).events[0]["reason"] == C.R_INVALID_ORDER
    assert submit(eng, 2, price=0).events[0]["reason"] == C.R_INVALID_ORDER
    assert submit(eng, 3, instrument=7).events[0]["reason"] == C.R_UNKNOWN_INSTRUMENT
    assert submit(eng, 4, account=3).events[0]["reason"] == C.R_UNKNOWN_ACCOUNT
    assert eng.cancel(12345).events[0]["reason"] == C.R_UNKNOWN_ORDER


def test_cancel_all_scopes(eng):
    for coid, (acct, inst) in enumerate([(1, 1), (1, 2), (1, 3), (2, 1)], start=1):
        submit(eng, coid, account=acct, instrument=inst, price=300_000 if inst == 3 else PX)
        eng.venue(R.ORDER_ACCEPTED, coid)
    out = eng.cancel_all(account=1, instrument=2)
    assert list(out.commands["ref_id"]) == [2]
    out = eng.cancel_all(venue=2)
    assert list(out.commands["ref_id"]) == [3]
    out = eng.cancel_all(account=2)
    assert list(out.commands["ref_id"]) == [wire_id(2, 4)]  # connectors see account 2's wire id
    out = eng.cancel_all()
    assert list(out.commands["ref_id"]) == [1]
    assert out.kinds()[-1] == "CancelAll" and out.events[-1]["qty"] == 1
    out = eng.cancel_all(account=2)  # nothing open: still answered (the gateway's ack)
    assert out.kinds() == ["CancelAll"] and out.events[0]["qty"] == 0 and out.events[0]["ref_seq"] > 0


def test_cancel_all_larger_than_staging_is_resumed():
    e = make_engine(capacity=4096, staging=64)
    e.md(R.MD_BBO, 1, PX, PX + 100)
    for coid in range(1, 1001):
        e.submit(coid, account=1, instrument=1, side=1, qty=1, price=PX)
    out = e.cancel_all(account=1)
    assert len(out.commands) == 1000 and len(set(out.commands["ref_id"].tolist())) == 1000


def test_batch_flag_marks_last_venue_command(eng):
    submit(eng, 1)
    out = submit(eng, 2, flags=R.FLAG_LAST_IN_BATCH)
    assert out.commands[-1]["flags"] & R.FLAG_LAST_IN_BATCH


def test_full_table_reuses_oldest_terminal_slots():
    e = make_engine(capacity=4)
    e.md(R.MD_BBO, 1, PX, PX + 100)
    for coid in (1, 2, 3, 4):
        e.submit(coid, account=1, instrument=1, side=1, qty=1, price=PX)
    assert (
        e.submit(5, account=1, instrument=1, side=1, qty=1, price=PX).events[0]["reason"]
        == C.R_ORDER_TABLE_FULL
    )
    e.venue(R.ORDER_REJECTED, 2)
    assert (
        e.submit(5, account=1, instrument=1, side=1, qty=1, price=PX).events[0]["status"] == C.ST_PENDING_NEW
    )
    assert e.order(2) is None and e.order(1) is not None and e.order(5) is not None
    assert np.count_nonzero(e.s.index[:, 0]) == 4
