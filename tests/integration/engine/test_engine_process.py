"""A real engine process on real rings: order round trip, emulated stop, kill switch, restart replay."""

from __future__ import annotations

import pytest

from oms.engine import constants as C
from oms.shm import records as R

PX = 10_000_000  # 100000.00 USDT in 0.01 ticks


def _bbo(ep, bid=PX, ask=PX + 100):
    ep.send(ep.md, kind=R.MD_BBO, instrument=1, price=bid, ask_price=ask, qty=1, ask_qty=1)


def test_order_round_trip_kill_switch_and_restart(engine_proc):
    ep = engine_proc
    ep.start()
    _bbo(ep)
    ep.send(
        ep.gw,
        kind=R.SUBMIT_ORDER,
        client_order_id=101,
        account=1,
        instrument=1,
        side=1,
        qty=1000,
        price=PX,
        order_type=R.ORD_LIMIT,
        seq=1,
    )
    sub = ep.wait_event(R.ORDER_SUBMITTED, 101)
    assert sub["status"] == C.ST_PENDING_NEW and sub["ref_seq"] == 1
    cmd = ep.wait_command(R.SUBMIT_ORDER, 101)
    assert cmd["qty"] == 1000 and cmd["price"] == PX and cmd["venue"] == 1
    # the same client order id again: answered, never sent twice
    ep.send(
        ep.gw,
        kind=R.SUBMIT_ORDER,
        client_order_id=101,
        account=1,
        instrument=1,
        side=1,
        qty=1000,
        price=PX,
        order_type=R.ORD_LIMIT,
        seq=2,
    )
    dup = ep.wait_event(R.ORDER_REJECTED, 101)
    assert dup["reason"] == C.R_DUPLICATE_CLIENT_ORDER_ID
    ep.send(ep.exec, kind=R.ORDER_ACCEPTED, client_order_id=101, venue_order_id=9001)
    ep.wait_event(R.ORDER_ACCEPTED, 101)
    ep.send(ep.exec, kind=R.ORDER_FILLED, client_order_id=101, price=PX, qty=1000, trade_id=77)
    fill = ep.wait_event(R.ORDER_FILLED, 101)
    assert fill["status"] == C.ST_FILLED and fill["cum_qty"] == 1000
    assert sum(1 for c in ep.commands if c["kind"] == R.SUBMIT_ORDER and c["client_order_id"] == 101) == 1
    # emulated stop-loss (binance has no native capability configured): triggers from the md ring
    ep.send(
        ep.gw,
        kind=R.SUBMIT_ORDER,
        client_order_id=102,
        account=1,
        instrument=1,
        side=-1,
        qty=1000,
        trigger_price=PX - 5000,
        order_type=R.ORD_STOP_MARKET,
        seq=3,
    )
    assert ep.wait_event(R.ORDER_SUBMITTED, 102)["status"] == C.ST_EMULATED
    ep.send(ep.md, kind=R.MD_TRADE, instrument=1, price=PX - 5000, qty=1)
    ep.wait_event(R.ORDER_TRIGGERED, 102)
    child = ep.wait_command(R.SUBMIT_ORDER, 102)
    assert child["order_type"] == R.ORD_MARKET and child["side"] == -1
    # a resting order, then the kill switch cancels it
    ep.send(
        ep.gw,
        kind=R.SUBMIT_ORDER,
        client_order_id=103,
        account=1,
        instrument=1,
        side=1,
        qty=500,
        price=PX - 100,
        order_type=R.ORD_LIMIT,
        seq=4,
    )
    ep.wait_command(R.SUBMIT_ORDER, 103)
    ep.send(ep.gw, kind=R.SET_TRADING_STATE, param_id=C.TS_HALTED, param_scope=1, seq=5)
    st = ep.wait_event(R.TRADING_STATE_CHANGED)
    assert st["status"] == C.TS_HALTED and st["account"] == 1
    ep.wait_command(R.CANCEL_ORDER, 103)
    ep.send(
        ep.gw,
        kind=R.SUBMIT_ORDER,
        client_order_id=104,
        account=1,
        instrument=1,
        side=1,
        qty=1,
        price=PX,
        order_type=R.ORD_LIMIT,
        seq=6,
    )
    assert ep.wait_event(R.ORDER_REJECTED, 104)["reason"] == C.R_TRADING_HALTED
    # clean stop on SIGTERM, then a restart rebuilds state from the event log
    assert ep.stop() == 0
    assert ep.event_log.stat().st_size > 0 and (ep.tmp / "events.bin.snap.npz").exists()
    n_before = len(ep.events)
    ep.start()
    ep.send(
        ep.gw,
        kind=R.SUBMIT_ORDER,
        client_order_id=101,
        account=1,
        instrument=1,
        side=1,
        qty=1000,
        price=PX,
        order_type=R.ORD_LIMIT,
        seq=7,
    )

    def dup_after_restart():
        ep.poll()
        return [
            e for e in ep.events[n_before:] if e["kind"] == R.ORDER_REJECTED and e["client_order_id"] == 101
        ]

    from oms.testing import eventually

    again = eventually(dup_after_restart, 10)[0]
    assert again["reason"] == C.R_DUPLICATE_CLIENT_ORDER_ID and again["status"] == C.ST_FILLED
    # still halted after restart: new orders rejected
    ep.send(
        ep.gw,
        kind=R.SUBMIT_ORDER,
        client_order_id=105,
        account=1,
        instrument=1,
        side=1,
        qty=1,
        price=PX,
        order_type=R.ORD_LIMIT,
        seq=8,
    )
    assert ep.wait_event(R.ORDER_REJECTED, 105)["reason"] == C.R_TRADING_HALTED
    assert ep.stop() == 0


@pytest.mark.parametrize("engine_proc", ["1"], indirect=True)  # daily_loss_halt = 1 USDT
def test_loss_limit_kill_switch_through_the_market_data_ring(engine_proc):
    ep = engine_proc
    ep.start()
    ep.send(ep.md, kind=R.MD_MARK, instrument=1, price=PX)
    ep.send(
        ep.gw,
        kind=R.SUBMIT_ORDER,
        client_order_id=201,
        account=1,
        instrument=1,
        side=1,
        qty=1000,
        price=PX,
        order_type=R.ORD_LIMIT,
        seq=1,
    )
    ep.wait_command(R.SUBMIT_ORDER, 201)
    ep.send(ep.exec, kind=R.ORDER_FILLED, client_order_id=201, price=PX, qty=1000, trade_id=1)
    ep.send(
        ep.gw,
        kind=R.SUBMIT_ORDER,
        client_order_id=202,
        account=1,
        instrument=1,
        side=1,
        qty=10,
        price=PX - 100,
        order_type=R.ORD_LIMIT,
        seq=2,
    )
    ep.wait_command(R.SUBMIT_ORDER, 202)
    ep.send(ep.exec, kind=R.ORDER_ACCEPTED, client_order_id=202, venue_order_id=5)
    ep.wait_event(R.ORDER_ACCEPTED, 202)
    # 0.01 BTC long; the mark falls 100 USDT (10000 ticks): loss 1 USDT = the halt limit
    ep.send(ep.md, kind=R.MD_MARK, instrument=1, price=PX - 10_000)
    st = ep.wait_event(R.TRADING_STATE_CHANGED)
    assert st["status"] == C.TS_HALTED and st["reason"] == C.R_DAILY_LOSS and st["account"] == 1
    cancel = ep.wait_command(R.CANCEL_ORDER, 202)
    assert cancel["ref_id"] == 202
    ep.send(
        ep.gw,
        kind=R.SUBMIT_ORDER,
        client_order_id=203,
        account=1,
        instrument=1,
        side=-1,
        qty=1000,
        price=PX - 10_000,
        order_type=R.ORD_LIMIT,
        seq=3,
    )
    assert ep.wait_event(R.ORDER_REJECTED, 203)["reason"] == C.R_TRADING_HALTED
    assert ep.stop() == 0
