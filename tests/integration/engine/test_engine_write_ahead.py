"""Engine write-ahead with a real engine process: kill -9 while orders stream in, restart, nothing lost.

The test plays gateway, connector and market data on the engine's real rings. Orders are published
steadily from a thread; the engine is killed with SIGKILL while they are in flight (some accepted and
forwarded, some not yet read), restarted on the same rings and log, and the publisher carries on.
Then every order must have reached the connector ring exactly once, each one's fill must be applied
(not dropped as "unknown order"), and no event sequence number may name two different events.
A second part: an order the venue reports (reconciliation, FLAG_REPLAY) that the engine never knew is
adopted, its fill applied, and it survives another restart.
"""

from __future__ import annotations

import os
import signal
import threading
import time

import numpy as np

from oms.engine import constants as C
from oms.shm import records as R
from oms.testing import eventually

PX = 10_000_000
N = 3000


def _submit_rec(coid: int) -> np.ndarray:
    rec = np.zeros(1, R.COMMAND)
    e = rec[0]
    e["kind"] = R.SUBMIT_ORDER
    e["client_order_id"] = coid
    e["account"] = 1
    e["instrument"] = 1
    e["side"] = 1
    e["qty"] = 10
    e["price"] = PX
    e["order_type"] = R.ORD_LIMIT
    e["seq"] = coid
    return rec


def _publisher(ep, stop: threading.Event) -> threading.Thread:
    def run() -> None:
        for coid in range(1, N + 1):
            rec = _submit_rec(coid)
            while not ep.gw.publish(rec[0]):
                if stop.is_set():
                    return
                time.sleep(0.001)
            if coid % 50 == 0:
                time.sleep(0.005)  # a steady stream (~10k orders/s), not one burst

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


def _submits(ep) -> dict[int, int]:
    ep.poll()
    seen: dict[int, int] = {}
    for c in ep.commands:
        if c["kind"] == R.SUBMIT_ORDER:
            seen[int(c["client_order_id"])] = seen.get(int(c["client_order_id"]), 0) + 1
    return seen


def test_kill_9_mid_stream_loses_nothing_and_reuses_no_sequence(engine_proc):
    ep = engine_proc
    ep.start()
    ep.send(ep.md, kind=R.MD_BBO, instrument=1, price=PX, ask_price=PX + 100, qty=1, ask_qty=1)
    stop = threading.Event()
    pub = _publisher(ep, stop)
    eventually(lambda: len(_submits(ep)) >= N // 4 or None, 30, message="orders flowing")
    assert ep.proc is not None
    os.kill(ep.proc.pid, signal.SIGKILL)
    ep.proc.wait(timeout=10)
    ep.proc = None
    ep.poll()
    before = dict(_submits(ep))
    assert 0 < len(before) < N, "the kill must land while orders are in flight"
    # market data keeps coming while the engine is down (prices are not replayed from the log)
    ep.send(ep.md, kind=R.MD_BBO, instrument=1, price=PX, ask_price=PX + 100, qty=1, ask_qty=1)
    ep.start()
    eventually(lambda: len(_submits(ep)) == N or None, 60, message="every order forwarded after restart")
    pub.join(30)
    stop.set()
    time.sleep(0.3)
    ep.poll()
    sent = _submits(ep)
    assert sorted(sent) == list(range(1, N + 1))
    assert max(sent.values()) == 1, f"sent twice: {[k for k, v in sent.items() if v > 1][:10]}"
    # every order is known to the restarted engine: its fill is applied, never "unknown order"
    for coid in range(1, N + 1):
        ep.send(ep.exec, kind=R.ORDER_FILLED, client_order_id=coid, price=PX, qty=10, trade_id=coid)
        if coid % 500 == 0:
            ep.poll()

    def fills():
        ep.poll()
        f = [e for e in ep.events if e["kind"] == R.ORDER_FILLED]
        return f if len(f) >= N else None

    got = eventually(fills, 60, message="a fill event for every order")
    assert all(e["reason"] == C.R_NONE and e["status"] == C.ST_FILLED for e in got)
    assert len({int(e["client_order_id"]) for e in got}) == N
    # no sequence number names two different events
    by_seq: dict[int, tuple[int, int]] = {}
    for e in ep.events:
        key = (int(e["kind"]), int(e["client_order_id"]))
        prev = by_seq.setdefault(int(e["seq"]), key)
        assert prev == key, f"seq {int(e['seq'])} used for {prev} and {key}"


def test_adopts_an_order_the_venue_reports_and_keeps_it_across_restart(engine_proc):
    ep = engine_proc
    ep.start()
    coid = 777_000
    flags = R.FLAG_REPLAY
    ep.send(
        ep.exec,
        kind=R.ORDER_ACCEPTED,
        flags=flags,
        venue=1,
        market=1,
        account=1,
        instrument=1,
        client_order_id=coid,
        venue_order_id=55,
        side=1,
        qty=300,
        price=PX,
        order_type=R.ORD_LIMIT,
    )
    sub = ep.wait_event(R.ORDER_SUBMITTED, coid)
    assert sub["reason"] == C.R_ADOPTED and sub["status"] == C.ST_ACCEPTED
    ep.send(ep.exec, kind=R.ORDER_FILLED, flags=flags, client_order_id=coid, price=PX, qty=100, trade_id=1)
    f = ep.wait_event(R.ORDER_FILLED, coid)
    assert f["reason"] == C.R_NONE and f["cum_qty"] == 100 and f["status"] == C.ST_PARTIALLY_FILLED
    # a venue report without FLAG_REPLAY for an unknown order is still only reported, not adopted
    ep.send(ep.exec, kind=R.ORDER_ACCEPTED, account=1, instrument=1, client_order_id=888, qty=5, side=1)
    assert ep.wait_event(R.ORDER_ACCEPTED, 888)["reason"] == C.R_UNKNOWN_ORDER
    assert ep.proc is not None
    os.kill(ep.proc.pid, signal.SIGKILL)
    ep.proc.wait(timeout=10)
    ep.proc = None
    ep.start()
    ep.send(ep.exec, kind=R.ORDER_FILLED, client_order_id=coid, price=PX, qty=200, trade_id=2)

    def filled():
        ep.poll()
        f = [e for e in ep.events if e["kind"] == R.ORDER_FILLED and e["cum_qty"] == 300]
        return f[0] if f else None

    f2 = eventually(filled, 20, message="the adopted order's second fill after a restart")
    assert f2["status"] == C.ST_FILLED and f2["reason"] == C.R_NONE


def test_bbo_table_that_appears_after_start_is_attached(engine_proc):
    from oms.shm import names
    from oms.shm.table import BboTable

    ep = engine_proc
    ep.start()
    ep.gw.publish(_submit_rec(1)[0])
    assert ep.wait_event(R.ORDER_REJECTED, 1)["reason"] == C.R_NO_REFERENCE_PRICE
    table = BboTable.create(names.bbo_table(ep.prefix), 16)
    try:
        table.write(1, PX, 1, PX + 100, 1, 0, time.time_ns())
        coid = [2]

        def submitted():
            ep.poll()
            if any(e["kind"] == R.ORDER_SUBMITTED for e in ep.events):
                return True
            ep.gw.publish(_submit_rec(coid[0])[0])
            coid[0] += 1
            return None

        eventually(
            submitted, 15, interval=0.3, max_interval=0.3, message="an order priced from the late BBO table"
        )
    finally:
        table.close()
        from oms.shm import segment

        segment.unlink(names.bbo_table(ep.prefix))
