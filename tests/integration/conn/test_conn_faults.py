"""Connector room: the connector under the simulator's faults, and killed and restarted.

WS drop mid-fill (no lost or duplicated fill), depth gap (resync; the rebuilt book equals the
simulator's), 5xx on submit with the order placed (resolved by query, no duplicate), clock skew
(-1021 → resync → accepted), SIGKILL + restart (fills made while dead replayed once), SIGTERM with
cancel-on-shutdown.
"""

from __future__ import annotations

import signal
from decimal import Decimal

import numpy as np
import pytest

from oms.shm import records as R
from tests.integration.conn.conftest import (
    API_KEY,
    SPOT_BTC,
    SPOT_ETH,
    USDM_ETH,
    Connector,
    command,
    eventually,
)


def mid(sim, market: str, symbol: str, tick: str) -> int:
    st = sim.call(sim.sim.state)["markets"][market][symbol]
    return int(((Decimal(st["best_bid"]) + Decimal(st["best_ask"])) / 2 / Decimal(tick)).to_integral_value())


def px_str(ticks: int, tick: str = "0.01") -> str:
    return f"{Decimal(ticks) * Decimal(tick):.2f}"


def venue_open(sim, symbol: str) -> list:
    def f():
        acct = sim.sim.accounts.keys[API_KEY].account
        return [o.client_id for o in sim.sim.cores["spot"].open_orders(acct, symbol)]

    return sim.call(f)


@pytest.fixture
def up(connector: Connector) -> Connector:
    return connector.start()


def test_ws_drop_mid_fill_loses_and_duplicates_nothing(up: Connector, sim, counterparty) -> None:
    c = up
    oid = c.new_id()
    px = mid(sim, "spot", "BTCUSDT", "0.01")
    c.send(command(R.SUBMIT_ORDER, oid, SPOT_BTC, price=px, qty=900))
    c.wait_event(oid, R.ORDER_ACCEPTED)
    sell = {"symbol": "BTCUSDT", "side": "SELL", "type": "LIMIT", "timeInForce": "IOC", "price": px_str(px)}
    counterparty.create_order(quantity="0.003", **sell)  # live fill
    c.wait_event(oid, R.ORDER_FILLED)
    # every frame now kills its connection: the next fill's report is lost with the stream
    sim.call(sim.sim.faults.set, ws_drop_rate=1.0)
    counterparty.create_order(quantity="0.003", **sell)
    sim.call(sim.sim.faults.set, ws_drop_rate=0.0)
    sim.call(sim.sim.faults.drop_ws)
    fills = c.wait_event(oid, R.ORDER_FILLED, 2, timeout=15)
    counterparty.create_order(quantity="0.003", **sell)  # live again after the reconnect
    fills = c.wait_event(oid, R.ORDER_FILLED, 3, timeout=15)
    c.pump()
    fills = c.of(oid, R.ORDER_FILLED)
    assert len(fills) == 3 and len({int(f["trade_id"]) for f in fills}) == 3
    assert sum(int(f["qty"]) for f in fills) == 900
    assert any(int(f["flags"]) & R.FLAG_REPLAY for f in fills), "the lost fill came back by reconciliation"
    st = eventually(
        lambda: (lambda s: s if s.get("reconcile", {}).get("replayed_fills", 0) >= 1 else None)(c.stats())
    )
    assert st["user_streams"]["spot"]["reconnects"] >= 1


def _book_from_ring(c: Connector, instrument: int) -> tuple[dict[int, int], dict[int, int], int]:
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


def test_depth_gap_resyncs_and_book_equals_simulator(up: Connector, sim) -> None:
    c = up
    snaps0 = c.stats()["market_data"]["spot"]["snapshots"]
    sim.call(sim.sim.faults.set, depth_gap=3)  # the next 3 diffs (either market) are never sent
    for _ in range(4):
        sim.call(sim.sim.flow.step)
        sim.call(sim.sim.depth_tick)
    eventually(lambda: c.stats()["market_data"]["spot"]["gaps"] >= 1, what="gap detected")
    eventually(lambda: c.stats()["market_data"]["spot"]["snapshots"] > snaps0, what="resync snapshot")
    for _ in range(3):
        sim.call(sim.sim.flow.step)
        sim.call(sim.sim.depth_tick)

    def venue_book(market: str):
        b = sim.sim.cores[market].books["ETHUSDT"]
        return dict(b.levels(1, 10_000)), dict(b.levels(-1, 10_000)), b.update_id

    def same(market: str, instrument: int) -> bool:
        c.pump()
        vb, va, vid = sim.call(venue_book, market)
        bids, asks, seq = _book_from_ring(c, instrument)
        return (bids, asks) == (vb, va) and seq == vid

    eventually(
        lambda: same("spot", SPOT_ETH), timeout=10, what="spot ring book == simulator's at one update id"
    )
    eventually(lambda: same("usdm", USDM_ETH), timeout=10, what="USD-M ring book == simulator's (pu chain)")
    bids, asks, _ = _book_from_ring(c, SPOT_ETH)
    assert len(bids) >= 10 and len(asks) >= 10
    bbo = [r for r in c.market if int(r["kind"]) == R.MD_BBO and int(r["instrument"]) == SPOT_ETH][-1]
    assert (int(bbo["price"]), int(bbo["ask_price"])) == (max(bids), min(asks))
    assert c.stats()["health"]["state"] == "UP"


def test_5xx_on_submit_with_order_placed_is_resolved_without_duplicate(up: Connector, sim) -> None:
    c = up
    oid = c.new_id()
    px = mid(sim, "spot", "BTCUSDT", "0.01") - 100_000
    sim.call(sim.sim.faults.set, error_5xx=1, execute_before_5xx=True)
    c.send(command(R.SUBMIT_ORDER, oid, SPOT_BTC, price=px, qty=500))
    ack = c.wait_event(oid, R.ORDER_ACCEPTED, timeout=15)[0]
    sim.call(sim.sim.faults.set, execute_before_5xx=False)
    assert ack["venue_order_id"] > 0
    eventually(
        lambda: c.stats().get("orders", {}).get("outcome_unknown", 0) >= 1, what="outcome unknown counted"
    )
    cid = f"oms-{oid}"
    assert venue_open(sim, "BTCUSDT").count(cid) == 1
    assert not c.of(oid, R.ORDER_REJECTED)
    c.send(command(R.CANCEL_ORDER, oid, SPOT_BTC))
    c.wait_event(oid, R.ORDER_CANCELED)
    assert len(c.of(oid, R.ORDER_ACCEPTED)) == 1


def test_clock_skew_resyncs_once_and_order_goes_through(up: Connector, sim) -> None:
    c = up
    sim.call(sim.sim.faults.set, clock_skew_ms=4000)  # outside the 1000 ms recvWindow
    try:
        oid = c.new_id()
        c.send(
            command(
                R.SUBMIT_ORDER, oid, SPOT_BTC, price=mid(sim, "spot", "BTCUSDT", "0.01") - 100_000, qty=500
            )
        )
        c.wait_event(oid, R.ORDER_ACCEPTED, timeout=15)
        st = eventually(
            lambda: (lambda s: s if s.get("rest", {}).get("resync_1021", 0) >= 1 else None)(c.stats()),
            what="a -1021 resync in the stats",
        )
        assert abs(st["clock_offset_ms"]["spot"] - 4000) < 500
    finally:
        sim.call(sim.sim.faults.set, clock_skew_ms=0)
    c.send(command(R.CANCEL_ORDER, oid, SPOT_BTC))
    c.wait_event(oid, R.ORDER_CANCELED, timeout=15)


def test_sigkill_and_restart_reconciles(up: Connector, sim, counterparty) -> None:
    c = up
    a, b = c.new_id(), c.new_id()
    px = mid(sim, "spot", "BTCUSDT", "0.01")
    c.send(command(R.SUBMIT_ORDER, a, SPOT_BTC, price=px, qty=800))
    c.wait_event(a, R.ORDER_ACCEPTED)
    sell = {"symbol": "BTCUSDT", "side": "SELL", "type": "LIMIT", "timeInForce": "IOC", "price": px_str(px)}
    counterparty.create_order(quantity="0.002", **sell)
    c.wait_event(a, R.ORDER_FILLED)
    c.stop(signal.SIGKILL)
    # while the connector is dead: the order fills further, and the engine sends another command
    counterparty.create_order(quantity="0.003", **sell)
    c.send(command(R.SUBMIT_ORDER, b, SPOT_BTC, price=px - 100_000, qty=500))
    c.start()
    fills = c.wait_event(a, R.ORDER_FILLED, 2, timeout=20)
    c.wait_event(b, R.ORDER_ACCEPTED)
    counterparty.create_order(quantity="0.003", **sell)
    fills = c.wait_event(a, R.ORDER_FILLED, 3)
    assert sum(int(f["qty"]) for f in fills) == 800 and len({int(f["trade_id"]) for f in fills}) == 3
    assert int(fills[1]["flags"]) & R.FLAG_REPLAY and not int(fills[2]["flags"]) & R.FLAG_REPLAY
    assert len(c.of(a, R.ORDER_ACCEPTED)) == 1  # the journal remembered the accept
    # SIGTERM with cancel-on-shutdown: order b is cancelled at the venue before the process exits
    c.stop()
    c.extra_env["OMS_CONNECTOR__CANCEL_ON_SHUTDOWN"] = "true"
    c.start()
    assert c.stop() == 0
    assert f"oms-{b}" not in venue_open(sim, "BTCUSDT")
    c.wait_event(b, R.ORDER_CANCELED)
    assert np.all([int(e["venue"]) == 1 for e in c.events])


def test_venue_outage_goes_down_and_comes_back_up(up: Connector, sim) -> None:
    c = up
    sim.call(sim.sim.faults.set, maintenance=True)  # every WS dropped and refused
    try:
        eventually(
            lambda: c.stats().get("health", {}).get("state") == "DOWN", what="health DOWN in the outage"
        )
    finally:
        sim.call(sim.sim.faults.set, maintenance=False)
    st = eventually(
        lambda: (lambda s: s if s.get("health", {}).get("state") == "UP" else None)(c.stats()),
        timeout=20,
        what="health UP again after reconnecting",
    )
    assert st["user_streams"]["spot"]["reconnects"] >= 1 and st["market_data"]["spot"]["reconnects"] >= 1
    assert st["reconcile"]["runs"] >= 4  # start + after each user-stream reconnect
    oid = c.new_id()
    c.send(
        command(R.SUBMIT_ORDER, oid, SPOT_BTC, price=mid(sim, "spot", "BTCUSDT", "0.01") - 100_000, qty=500)
    )
    c.wait_event(oid, R.ORDER_ACCEPTED)
    c.send(command(R.CANCEL_ORDER, oid, SPOT_BTC))
    c.wait_event(oid, R.ORDER_CANCELED)


def test_full_market_data_ring_never_stalls_the_bbo_table(sim, tmp_path) -> None:
    import uuid

    from oms.shm import names
    from oms.shm.table import BboTable

    c = Connector(sim, tmp_path, f"tf{uuid.uuid4().hex[:8]}", md_capacity=512)  # < a few ticks of updates
    try:
        c.start()
        for _ in range(6):  # nobody reads the md ring: it fills up
            sim.call(sim.sim.flow.step)
            sim.call(sim.sim.depth_tick)
        eventually(lambda: c.stats()["rings"]["md_drops"] > 0, what="md records dropped on the full ring")
        table = BboTable.attach(names.bbo_table(c.prefix))
        try:

            def table_current() -> bool:
                st = sim.call(sim.sim.state)["markets"]["spot"]["ETHUSDT"]
                row = table.read(SPOT_ETH)
                return int(row["bid_px"]) == int(Decimal(st["best_bid"]) / Decimal("0.01")) and int(
                    row["ask_px"]
                ) == int(Decimal(st["best_ask"]) / Decimal("0.01"))

            for _ in range(3):
                sim.call(sim.sim.flow.step)
                sim.call(sim.sim.depth_tick)
            eventually(table_current, what="BBO table follows the venue while the md ring is full")
        finally:
            table.close()

        # the consumer catches up; a book whose update did not fit comes again whole (CLEAR) with its
        # next update, so keep the venue moving until the ETH book is whole on the ring again
        def same() -> bool:
            c.pump()
            b = sim.sim.cores["spot"].books["ETHUSDT"]
            vb, va, vid = sim.call(
                lambda: (dict(b.levels(1, 10_000)), dict(b.levels(-1, 10_000)), b.update_id)
            )
            bids, asks, seq = _book_from_ring(c, SPOT_ETH)
            if (bids, asks) == (vb, va) and seq == vid:
                return True
            sim.call(sim.sim.flow.step)  # not yet: the next update re-sends a book that did not fit
            sim.call(sim.sim.depth_tick)
            return False

        eventually(
            same, interval=0.2, what="book rebuilt from the ring after the drops equals the simulator's"
        )
    finally:
        c.close()
