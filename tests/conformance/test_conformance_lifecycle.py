"""Conformance, lifecycle, for every registered venue: the real connector process (venue-neutral runtime
+ the venue's adapter) against the venue's simulator, the test playing the engine on real rings.

submit → ack → partial → fill; modify; cancel; cancel-all; batch; stop / take-profit; reduce-only;
post-only; every reject class with the venue's code; 5xx with the order placed (resolved by query, one
order at the venue); clock skew (resync, accepted); WS drop mid-fill (the lost fill replayed once); book
gap (resync; the ring's book equals the venue's at one update id); SIGKILL + restart (fills made while
dead replayed once, a command sent while dead executed, nothing doubled). A capability the venue lacks
is skipped by capability with the reason. (429 handling and ban avoidance: test_conformance_limits.py.)
"""

from __future__ import annotations

import signal
from types import ModuleType
from typing import Any

from oms.shm import records as R
from tests.conformance.conftest import caps, need
from tests.integration.conn.conftest import command, eventually


def _submit(c: Any, inst: tuple, **kw: Any) -> int:
    oid = c.new_id()
    c.send(command(R.SUBMIT_ORDER, oid, inst[0], **kw))
    return oid


def test_submit_ack_partial_fill(kit: ModuleType, live: tuple) -> None:
    v, c = live
    inst = kit.SPOT
    px = v.mid(inst)
    oid = _submit(c, inst, price=px, qty=1000)
    ack = c.wait_event(oid, R.ORDER_ACCEPTED)[0]
    assert ack["venue_order_id"] > 0 and ack["qty"] == 1000
    v.take(inst, R.SIDE_BUY, 400, px)
    f1 = c.wait_event(oid, R.ORDER_FILLED)[0]
    assert (f1["qty"], f1["price"], f1["cum_qty"], f1["leaves_qty"]) == (400, px, 400, 600)
    v.take(inst, R.SIDE_BUY, 600, px)
    fills = c.wait_event(oid, R.ORDER_FILLED, 2)
    assert sum(int(f["qty"]) for f in fills) == 1000 and len({int(f["trade_id"]) for f in fills}) == 2
    assert len(c.of(oid, R.ORDER_ACCEPTED)) == 1

    def trades() -> list:  # the prints reach the md ring too (VWAP is computed from them)
        c.pump()
        return [r for r in c.market if int(r["kind"]) == R.MD_TRADE and int(r["instrument"]) == inst[0]]

    prints = eventually(lambda: len(trades()) >= 2 and trades(), what="trade prints on the md ring")
    assert {int(r["price"]) for r in prints} == {px} and sum(int(r["qty"]) for r in prints) >= 1000


def test_modify_then_cancel(kit: ModuleType, live: tuple) -> None:
    v, c = live
    for inst in (kit.SPOT, kit.DERIV):
        need(caps(kit, inst).native_modify, kit, f"modify on {inst[1]}")
        px = v.mid(inst) - 1000
        oid = _submit(c, inst, price=px, qty=20)
        c.wait_event(oid, R.ORDER_ACCEPTED)
        c.send(command(R.MODIFY_ORDER, oid, inst[0], price=px - 10, qty=30))
        m = c.wait_event(oid, R.ORDER_MODIFIED)[0]
        assert (m["price"], m["qty"]) == (px - 10, 30)
        c.send(command(R.CANCEL_ORDER, oid, inst[0]))
        c.wait_event(oid, R.ORDER_CANCELED)
        c.send(command(R.CANCEL_ORDER, oid, inst[0]))  # again: the venue's answer, not a second end
        c.wait_event(oid, R.CANCEL_REJECTED)
        assert len(c.of(oid, R.ORDER_CANCELED)) == 1


def test_cancel_all(kit: ModuleType, live: tuple) -> None:
    v, c = live
    inst = kit.SPOT
    need(caps(kit, inst).cancel_all, kit, "cancel-all")
    px = v.mid(inst) - 2000
    ids = [_submit(c, inst, price=px - i, qty=50) for i in range(3)]
    for oid in ids:
        c.wait_event(oid, R.ORDER_ACCEPTED)
    c.send(command(R.CANCEL_ALL, 0, inst[0]))
    for oid in ids:
        c.wait_event(oid, R.ORDER_CANCELED)
    assert not set(map(v.cid, ids)) & set(v.open_cids(inst))


def test_batch(kit: ModuleType, live: tuple) -> None:
    v, c = live
    inst = kit.DERIV
    n = caps(kit, inst).max_batch
    need(n > 1, kit, f"batch submit on {inst[1]}")
    px = v.mid(inst) - 1000
    ids = [c.new_id() for _ in range(n)]
    bad = ids[-1]
    cmds = [command(R.SUBMIT_ORDER, i, inst[0], price=px - k, qty=10) for k, i in enumerate(ids[:-1])]
    cmds.append(command(R.SUBMIT_ORDER, bad, inst[0], price=10**12, qty=10))  # one bad slot
    c.send(*cmds)
    for i in ids[:-1]:
        c.wait_event(i, R.ORDER_ACCEPTED)
    assert c.wait_event(bad, R.ORDER_REJECTED)[0]["reason"] != 0
    eventually(lambda: c.stats().get("orders", {}).get("batches", 0) >= 1, what="sent as one batch")
    c.send(command(R.CANCEL_ALL, 0, inst[0]))
    for i in ids[:-1]:
        c.wait_event(i, R.ORDER_CANCELED)


def test_stop_and_take_profit_rest_until_triggered(kit: ModuleType, live: tuple) -> None:
    v, c = live
    inst = kit.DERIV
    cp = caps(kit, inst)
    need(cp.native_stop and cp.native_take_profit, kit, f"native stop and take-profit on {inst[1]}")
    mid = v.mid(inst)
    stop = _submit(c, inst, side=R.SIDE_SELL, order_type=R.ORD_STOP_MARKET, trigger=mid - 5000, qty=10)
    tp = _submit(c, inst, side=R.SIDE_SELL, order_type=R.ORD_TAKE_PROFIT_MARKET, trigger=mid + 5000, qty=10)
    for oid in (stop, tp):
        c.wait_event(oid, R.ORDER_ACCEPTED)
        assert not c.of(oid, R.ORDER_TRIGGERED)
        c.send(command(R.CANCEL_ORDER, oid, inst[0]))
        c.wait_event(oid, R.ORDER_CANCELED)


def test_reduce_only_and_post_only(kit: ModuleType, live: tuple) -> None:
    v, c = live
    inst = kit.DERIV
    cp = caps(kit, inst)
    need(cp.reduce_only and cp.post_only, kit, f"reduce-only and post-only on {inst[1]}")
    ro = _submit(
        c, inst, side=R.SIDE_SELL, price=v.mid(inst), qty=10, flags=R.FLAG_REDUCE_ONLY
    )  # no position
    ends = eventually(
        lambda: c.of(ro, R.ORDER_REJECTED) or c.of(ro, R.ORDER_EXPIRED) or c.of(ro, R.ORDER_CANCELED)
    )
    assert ends and not c.of(ro, R.ORDER_FILLED)
    po = _submit(
        c, inst, side=R.SIDE_BUY, price=v.mid(inst) + 2000, qty=10, flags=R.FLAG_POST_ONLY
    )  # would take
    ends = eventually(
        lambda: c.of(po, R.ORDER_REJECTED) or c.of(po, R.ORDER_EXPIRED) or c.of(po, R.ORDER_CANCELED)
    )
    assert ends and not c.of(po, R.ORDER_FILLED)


def test_every_reject_class_carries_the_venue_code(kit: ModuleType, live: tuple) -> None:
    _, c = live
    for what, kw, code in kit.REJECTS:
        kw = dict(kw)
        oid = c.new_id()
        c.send(command(R.SUBMIT_ORDER, oid, kw.pop("inst"), **kw))
        got = int(c.wait_event(oid, R.ORDER_REJECTED)[0]["reason"])
        assert got == code, f"{what}: reason {got}, want {code}"
        assert not c.of(oid, R.ORDER_ACCEPTED)


def test_5xx_with_the_order_placed_is_resolved_by_query(kit: ModuleType, live: tuple) -> None:
    v, c = live
    inst = kit.SPOT
    v.fault(error_5xx=1, execute_before_5xx=True)
    try:
        oid = _submit(c, inst, price=v.mid(inst) - 1000, qty=500)
        ack = c.wait_event(oid, R.ORDER_ACCEPTED, timeout=15)[0]
    finally:
        v.fault(execute_before_5xx=False)
    assert ack["venue_order_id"] > 0 and not c.of(oid, R.ORDER_REJECTED)
    assert v.open_cids(inst).count(v.cid(oid)) == 1  # exactly one order at the venue
    c.send(command(R.CANCEL_ORDER, oid, inst[0]))
    c.wait_event(oid, R.ORDER_CANCELED)


def test_clock_skew_resyncs_and_the_order_goes_through(kit: ModuleType, live: tuple) -> None:
    v, c = live
    inst = kit.SPOT
    before = c.stats()["rest"]["resync_1021"]
    v.fault(clock_skew_ms=4000)
    try:
        oid = _submit(c, inst, price=v.mid(inst) - 1000, qty=500)
        c.wait_event(oid, R.ORDER_ACCEPTED, timeout=15)
        eventually(lambda: c.stats()["rest"]["resync_1021"] > before, what="a clock resync")
    finally:
        v.fault(clock_skew_ms=0)
    c.send(command(R.CANCEL_ORDER, oid, inst[0]))
    c.wait_event(oid, R.ORDER_CANCELED, timeout=15)


def test_ws_drop_mid_fill_loses_and_doubles_nothing(kit: ModuleType, live: tuple) -> None:
    v, c = live
    inst = kit.SPOT
    px = v.mid(inst)
    oid = _submit(c, inst, price=px, qty=900)
    c.wait_event(oid, R.ORDER_ACCEPTED)
    v.take(inst, R.SIDE_BUY, 300, px)
    c.wait_event(oid, R.ORDER_FILLED)
    v.fault(ws_drop_rate=1.0)  # the next fill's report dies with the stream
    v.take(inst, R.SIDE_BUY, 300, px)
    v.fault(ws_drop_rate=0.0)
    v.drop_streams()
    c.wait_event(oid, R.ORDER_FILLED, 2, timeout=15)
    v.take(inst, R.SIDE_BUY, 300, px)
    fills = c.wait_event(oid, R.ORDER_FILLED, 3, timeout=15)
    assert sum(int(f["qty"]) for f in fills) == 900 and len({int(f["trade_id"]) for f in fills}) == 3
    assert any(int(f["flags"]) & R.FLAG_REPLAY for f in fills), "the lost fill came back by reconciliation"


def _ring_book(c: Any, instrument: int) -> tuple[dict[int, int], dict[int, int], int]:
    bids: dict[int, int] = {}
    asks: dict[int, int] = {}
    seq = 0
    for r in c.market:
        if int(r["instrument"]) != instrument or int(r["kind"]) != R.MD_DELTA:
            continue
        if int(r["flags"]) & R.MD_FLAG_CLEAR:
            bids, asks = {}, {}
        book = bids if int(r["side"]) == 1 else asks
        if int(r["qty"]) == 0:
            book.pop(int(r["price"]), None)
        elif int(r["side"]) != 0:
            book[int(r["price"])] = int(r["qty"])
        seq = int(r["seq"])
    return bids, asks, seq


def test_book_gap_resyncs_to_the_venue_book(kit: ModuleType, live: tuple) -> None:
    v, c = live

    def gaps() -> int:  # the dropped diffs may belong to any of the venue's books
        return sum(m["gaps"] for m in c.stats()["market_data"].values())

    # books in sync first (an earlier test may have dropped the streams): a gap needs a stream to miss
    eventually(lambda: all(m["synced"] for m in c.stats()["market_data"].values()), what="books in sync")
    before = gaps()
    v.fault(depth_gap=3)
    v.step_books(4)
    eventually(lambda: gaps() > before or (v.step_books(1), False)[1], what="gap detected")
    v.step_books(3)
    for inst in (kit.BOOK, kit.DERIV_BOOK):

        def same(inst: tuple = inst) -> bool:
            c.pump()
            vb, va, vid = v.book(inst)
            bids, asks, seq = _ring_book(c, inst[0])
            return (bids, asks) == (vb, va) and seq == vid

        eventually(same, timeout=10, what=f"{inst[1]} ring book == the venue's at one update id")


def test_sigkill_restart_reconciles(kit: ModuleType, live: tuple) -> None:
    v, c = live
    inst = kit.SPOT
    a = _submit(c, inst, price=(px := v.mid(inst)), qty=800)
    c.wait_event(a, R.ORDER_ACCEPTED)
    v.take(inst, R.SIDE_BUY, 200, px)
    c.wait_event(a, R.ORDER_FILLED)
    c.stop(signal.SIGKILL)
    v.take(inst, R.SIDE_BUY, 300, px)  # fills while the connector is dead
    b = _submit(c, inst, price=px - 1000, qty=500)  # and a command the engine sends meanwhile
    c.start()
    fills = c.wait_event(a, R.ORDER_FILLED, 2, timeout=20)
    c.wait_event(b, R.ORDER_ACCEPTED)
    assert int(fills[1]["flags"]) & R.FLAG_REPLAY and len({int(f["trade_id"]) for f in fills}) == 2
    assert len(c.of(a, R.ORDER_ACCEPTED)) == 1 and v.open_cids(inst).count(v.cid(b)) == 1
    c.send(command(R.CANCEL_ALL, 0, inst[0]))
    c.wait_event(b, R.ORDER_CANCELED)
