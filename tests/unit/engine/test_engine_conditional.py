"""Conditional orders: emulated stop / stop-limit / take-profit / trailing, OCO, bracket, native routing."""

from __future__ import annotations

from oms.engine import constants as C
from oms.shm import records as R
from tests.unit.engine.conftest import PX


def cond(e, coid, side, order_type, trigger=0, price=0, qty=100, **kw):
    return e.submit(
        coid,
        account=1,
        instrument=1,
        side=side,
        qty=qty,
        price=price,
        order_type=order_type,
        trigger_price=trigger,
        **kw,
    )


def test_stop_market_emulated_triggers_child_in_same_call(eng):
    out = cond(eng, 1, -1, R.ORD_STOP_MARKET, trigger=PX - 1000)
    assert out.events[0]["status"] == C.ST_EMULATED and len(out.commands) == 0
    assert out.events[0]["flags"] & R.FLAG_EMULATED
    assert len(eng.md(R.MD_TRADE, 1, PX - 999).commands) == 0
    out = eng.md(R.MD_TRADE, 1, PX - 1000)
    assert out.kinds() == ["OrderTriggered"] and eng.status(1) == "PendingNew"
    c = out.commands[0]
    assert (
        c["kind"] == R.SUBMIT_ORDER and c["order_type"] == R.ORD_MARKET and c["source"] == C.SOURCE_EMULATOR
    )


def test_stop_limit_and_take_profit_use_the_right_side_of_the_book(eng):
    cond(eng, 1, 1, R.ORD_STOP_LIMIT, trigger=PX + 500, price=PX + 600)
    cond(eng, 2, -1, R.ORD_TAKE_PROFIT_MARKET, trigger=PX + 500)
    out = eng.md(R.MD_BBO, 1, PX + 400, PX + 500)  # ask reaches the buy stop; bid not yet the sell TP
    assert list(out.commands["client_order_id"]) == [1] and out.commands[0]["order_type"] == R.ORD_LIMIT
    assert out.commands[0]["price"] == PX + 600
    out = eng.md(R.MD_BBO, 1, PX + 500, PX + 510)
    assert list(out.commands["client_order_id"]) == [2]


def test_trailing_stop_follows_the_high_and_fires_on_pullback(eng):
    cond(eng, 1, -1, R.ORD_TRAILING_STOP_MARKET, trail=200)
    for px in (PX, PX + 1000, PX + 900):
        assert len(eng.md(R.MD_TRADE, 1, px).commands) == 0
    assert eng.order(1)["trail_ref"] == PX + 1000
    out = eng.md(R.MD_TRADE, 1, PX + 800)
    assert list(out.commands["client_order_id"]) == [1]


def test_trailing_stop_with_activation_price(eng):
    cond(eng, 1, -1, R.ORD_TRAILING_STOP_MARKET, trigger=PX + 2000, trail=100)
    assert len(eng.md(R.MD_TRADE, 1, PX - 5000).commands) == 0  # not active yet: no fire
    eng.md(R.MD_TRADE, 1, PX + 2000)
    assert len(eng.md(R.MD_TRADE, 1, PX + 1900).commands) == 1


def test_oco_one_leg_triggers_other_canceled(eng):
    cond(eng, 1, -1, R.ORD_STOP_MARKET, trigger=PX - 1000, contingency=R.CONT_OCO)
    cond(eng, 2, -1, R.ORD_TAKE_PROFIT_MARKET, trigger=PX + 1000, contingency=R.CONT_OCO, ref_id=1)
    assert eng.order(1)["peer"] == 2 and eng.order(2)["peer"] == 1
    out = eng.md(R.MD_TRADE, 1, PX + 1000)
    assert eng.status(2) == "PendingNew" and eng.status(1) == "Canceled"
    assert [e["reason"] for e in out.events if e["kind"] == R.ORDER_CANCELED] == [C.R_OCO_PEER_DONE]


def test_oco_venue_leg_fill_cancels_peer_at_venue(eng):
    eng.submit(1, account=1, instrument=1, side=-1, qty=100, price=PX + 1000, contingency=R.CONT_OCO)
    cond(eng, 2, -1, R.ORD_STOP_MARKET, trigger=PX - 1000, contingency=R.CONT_OCO, ref_id=1)
    eng.venue(R.ORDER_ACCEPTED, 1)
    out = eng.venue(R.ORDER_FILLED, 1, price=PX + 1000, qty=10, trade_id=1)
    assert eng.status(2) == "Canceled" and eng.status(1) == "PartiallyFilled"
    cond(eng, 3, 1, R.ORD_STOP_MARKET, trigger=PX + 1000, contingency=R.CONT_OCO)
    cond(eng, 4, 1, R.ORD_LIMIT, price=PX - 100, contingency=R.CONT_OCO, ref_id=3)
    out = eng.md(R.MD_TRADE, 1, PX + 1000)  # the emulated leg fires: the venue leg gets a cancel
    assert {int(c["kind"]) for c in out.commands} == {R.SUBMIT_ORDER, R.CANCEL_ORDER}
    assert eng.status(4) == "PendingCancel"


def test_bracket_children_wait_for_entry_then_oco(eng):
    eng.submit(10, account=1, instrument=1, side=1, qty=100, price=PX, contingency=R.CONT_BRACKET_ENTRY)
    out = cond(eng, 11, -1, R.ORD_STOP_MARKET, trigger=PX - 1000, contingency=R.CONT_BRACKET_CHILD, ref_id=10)
    assert out.events[0]["status"] == C.ST_HELD
    cond(eng, 12, -1, R.ORD_LIMIT, price=PX + 1000, contingency=R.CONT_BRACKET_CHILD, ref_id=10)
    assert eng.order(11)["peer"] == 12 and eng.order(12)["peer"] == 11
    assert len(eng.md(R.MD_TRADE, 1, PX - 2000).commands) == 0  # held children never fire
    eng.md(R.MD_TRADE, 1, PX)
    out = eng.venue(R.ORDER_FILLED, 10, price=PX, qty=100, trade_id=1)
    assert eng.status(11) == "Emulated" and eng.status(12) == "PendingNew"
    assert [int(c["client_order_id"]) for c in out.commands] == [12]  # TP limit goes to the venue
    out = eng.md(R.MD_TRADE, 1, PX - 1000)
    assert eng.status(11) == "PendingNew" and eng.status(12) == "PendingCancel"


def test_bracket_entry_canceled_unfilled_cancels_children(eng):
    eng.submit(10, account=1, instrument=1, side=1, qty=100, price=PX, contingency=R.CONT_BRACKET_ENTRY)
    cond(eng, 11, -1, R.ORD_STOP_MARKET, trigger=PX - 1000, contingency=R.CONT_BRACKET_CHILD, ref_id=10)
    eng.cancel(10)
    eng.venue(R.ORDER_CANCELED, 10)
    assert eng.status(11) == "Canceled"
    out = cond(eng, 13, -1, R.ORD_STOP_MARKET, trigger=PX - 1, contingency=R.CONT_BRACKET_CHILD, ref_id=10)
    assert out.events[0]["reason"] == C.R_PARENT_DONE


def test_native_when_venue_capability_says_so(eng):
    eng.set_capabilities(1, C.CAP_STOP_MARKET | C.CAP_TRAILING_STOP)
    out = cond(eng, 1, -1, R.ORD_STOP_MARKET, trigger=PX - 1000)
    assert out.events[0]["status"] == C.ST_PENDING_NEW and out.commands[0]["order_type"] == R.ORD_STOP_MARKET
    out = cond(eng, 2, -1, R.ORD_STOP_LIMIT, trigger=PX - 1000, price=PX - 1100)  # not native there
    assert out.events[0]["status"] == C.ST_EMULATED


def test_emulated_already_through_trigger_fires_on_submit(eng):
    eng.md(R.MD_TRADE, 1, PX)
    out = cond(eng, 1, 1, R.ORD_STOP_MARKET, trigger=PX - 10)
    assert out.kinds() == ["OrderSubmitted", "OrderTriggered"] and len(out.commands) == 1


def test_emulated_modify_and_cancel_are_local(eng):
    cond(eng, 1, -1, R.ORD_STOP_MARKET, trigger=PX - 1000)
    out = eng.modify(1, qty=300, trigger_price=PX - 2000)
    assert out.kinds() == ["OrderModified"] and eng.order(1)["trigger_price"] == PX - 2000
    assert len(eng.md(R.MD_TRADE, 1, PX - 1500).commands) == 0
    out = eng.cancel(1)
    assert out.kinds() == ["OrderCanceled"] and len(out.commands) == 0


def test_emulated_expiry(eng):
    cond(eng, 1, -1, R.ORD_STOP_MARKET, trigger=PX - 1000, expire_ns=eng.now_ns + 5)
    eng.now_ns += 10
    out = eng.md(R.MD_TRADE, 1, PX)
    assert eng.status(1) == "Expired" and out.events[0]["reason"] == C.R_EXPIRED_LOCAL
