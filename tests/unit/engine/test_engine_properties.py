"""Property tests (hypothesis): random interleavings of commands, venue events (late, duplicate, out of
order, invented) and market data never produce an illegal state, a negative quantity, a double fill or a
position that differs from the sum of fills; replaying the event log rebuilds the same state."""

from __future__ import annotations

import os
from collections import Counter

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from oms.engine import constants as C
from oms.engine import state as S
from oms.shm import records as R
from tests.unit.engine.conftest import PX, make_engine

EXAMPLES = 60 if os.environ.get("CI") else 150
COIDS = st.integers(1, 10)
TYPES = st.sampled_from(
    [
        R.ORD_LIMIT,
        R.ORD_LIMIT,
        R.ORD_MARKET,
        R.ORD_STOP_MARKET,
        R.ORD_STOP_LIMIT,
        R.ORD_TAKE_PROFIT_MARKET,
        R.ORD_TRAILING_STOP_MARKET,
    ]
)

submit = st.tuples(
    st.just("submit"),
    COIDS,
    st.sampled_from([1, -1]),
    st.integers(1, 50),
    TYPES,
    st.integers(1, 2),
    st.sampled_from([0, 0, R.CONT_OCO, R.CONT_BRACKET_CHILD]),
    COIDS,
)
command = st.tuples(st.sampled_from(["cancel", "modify"]), COIDS, st.integers(1, 60))
venue = st.tuples(
    st.sampled_from(
        [
            "ack",
            "fill",
            "fill",
            "canceled",
            "rejected",
            "expired",
            "cancel_rej",
            "modified",
            "mod_rej",
            "triggered",
        ]
    ),
    COIDS,
    st.integers(1, 30),
    st.integers(1, 12),
)
market = st.tuples(st.just("md"), st.integers(-3000, 3000))
control = st.tuples(st.just("state"), st.sampled_from([C.TS_ACTIVE, C.TS_REDUCING, C.TS_HALTED]))
ops = st.lists(st.one_of(submit, submit, command, venue, venue, venue, market, control), max_size=80)


def apply(e, op):
    k = op[0]
    if k == "submit":
        _, coid, side, qty, t, acct, cont, ref = op
        trig = PX - 500 if side < 0 else PX + 500
        price = (
            0
            if t in (R.ORD_MARKET, R.ORD_STOP_MARKET, R.ORD_TAKE_PROFIT_MARKET, R.ORD_TRAILING_STOP_MARKET)
            else PX
        )
        return e.submit(
            coid,
            account=acct,
            instrument=1,
            side=side,
            qty=qty,
            price=price,
            order_type=t,
            trigger_price=0 if t in (R.ORD_LIMIT, R.ORD_MARKET) else trig,
            trail=100 if t == R.ORD_TRAILING_STOP_MARKET else 0,
            contingency=cont,
            ref_id=ref if cont else 0,
        )
    if k == "cancel":
        return e.cancel(op[1])
    if k == "modify":
        return e.modify(op[1], qty=op[2])
    if k == "md":
        return e.md(R.MD_TRADE, 1, PX + op[1])
    if k == "state":
        return e.set_trading_state(op[1], 1)
    _, coid, qty, tid = op
    kind = {
        "ack": R.ORDER_ACCEPTED,
        "fill": R.ORDER_FILLED,
        "canceled": R.ORDER_CANCELED,
        "rejected": R.ORDER_REJECTED,
        "expired": R.ORDER_EXPIRED,
        "cancel_rej": R.CANCEL_REJECTED,
        "modified": R.ORDER_MODIFIED,
        "mod_rej": R.MODIFY_REJECTED,
        "triggered": R.ORDER_TRIGGERED,
    }[k]
    fields = (
        {"price": PX - 7 * tid, "qty": qty, "trade_id": tid, "fee": qty} if kind == R.ORDER_FILLED else {}
    )
    if kind == R.ORDER_MODIFIED:
        fields = {"qty": qty + 10}
    return e.venue(kind, coid, **fields)


def check_invariants(e, fills: Counter):
    s = e.s
    live = s.orders[s.orders["client_order_id"] != 0]
    assert (live["status"] <= C.ST_HELD).all() and (live["status"] != C.ST_NONE).all()
    assert (live["cum_qty"] >= 0).all() and (live["cum_qty"] <= live["qty"]).all()
    assert (live["leaves"] >= 0).all()
    terminal = np.isin(live["status"], list(C.TERMINAL))
    assert (live["leaves"][terminal] == 0).all()
    open_ = live[~terminal]
    assert (open_["leaves"] == open_["qty"] - open_["cum_qty"]).all()
    for a in (1, 2):
        mine = live[live["account"] == a]
        p = s.pos[a, 1]
        buys, sells = mine[mine["side"] == 1], mine[mine["side"] == -1]
        assert p["bought"] == buys["cum_qty"].sum() and p["sold"] == sells["cum_qty"].sum()
        assert p["qty"] == p["bought"] - p["sold"]
        assert p["qty"] == fills[("qty", a)]
        ob, os_ = (
            open_[(open_["account"] == a) & (open_["side"] == 1)],
            open_[(open_["account"] == a) & (open_["side"] == -1)],
        )
        assert p["open_buy"] == ob["leaves"].sum() and p["open_sell"] == os_["leaves"].sum()
        assert s.acct[a]["open_notional"] == mine["open_notional"].sum()
        assert p["cost"] >= 0 and (p["qty"] != 0 or p["cost"] == 0)


def check_transitions(e, last: dict[tuple[int, int], int]) -> None:
    """A terminal order never changes status again, except a late fill completing a Canceled/Expired one."""
    live = e.s.orders[e.s.orders["client_order_id"] != 0]
    keys = zip(live["account"].tolist(), live["client_order_id"].tolist(), strict=True)
    for key, now in zip(keys, live["status"].tolist(), strict=True):  # ids are unique per account
        before = last.get(key)
        if before in C.TERMINAL and now != before:
            assert before in (C.ST_CANCELED, C.ST_EXPIRED) and now == C.ST_FILLED, (key, before, now)
        last[key] = now


def record_fills(out, fills: Counter):
    for ev in out.events:
        if ev["kind"] == R.ORDER_FILLED and ev["reason"] in (C.R_NONE, C.R_LATE_EVENT):
            key = (int(ev["client_order_id"]), int(ev["trade_id"]))
            assert fills[key] == 0, f"double fill {key}"
            fills[key] += 1
            fills[("qty", int(ev["account"]))] += int(ev["side"]) * int(ev["qty"])


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops)
def test_random_interleavings_keep_invariants_and_replay_equals_live(seq):
    e = make_engine()
    e.md(R.MD_TRADE, 1, PX)
    fills: Counter = Counter()
    log = []
    last: dict[int, int] = {}
    for op in seq:
        out = apply(e, op)
        log.append(out.events)
        record_fills(out, fills)
        check_invariants(e, fills)
        check_transitions(e, last)
    events = np.concatenate(log) if log else np.zeros(0, R.EVENT)
    r = make_engine()
    r.replay(events)
    live, back = e.s, r.s
    for f in (
        "client_order_id",
        "status",
        "qty",
        "cum_qty",
        "leaves",
        "price",
        "side",
        "peer",
        "venue_order_id",
        "trigger_price",
        "open_notional",
    ):
        a = np.sort(live.orders[live.orders["client_order_id"] != 0], order="client_order_id")[f]
        b = np.sort(back.orders[back.orders["client_order_id"] != 0], order="client_order_id")[f]
        assert (a == b).all(), f"order field {f} differs after replay"
    for f in ("qty", "cost", "realised", "fees", "bought", "sold", "open_buy", "open_sell", "n_fills"):
        assert (live.pos[f] == back.pos[f]).all(), f"position field {f} differs after replay"
    assert (live.acct["state"] == back.acct["state"]).all() and (live.limits == back.limits).all()
    assert live.meta[S.M_OPEN] == back.meta[S.M_OPEN]
