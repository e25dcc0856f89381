"""Connector room: order flow through a real connector process, real rings and the Binance simulator.

submit → ack → partial fill → fill, modify, cancel, futures batch, stop / take-profit, reduce-only,
and venue rejects surfacing as OrderRejected with the venue's code.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from oms.shm import records as R
from tests.integration.conn.conftest import (
    SPOT_BTC,
    SPOT_ETH,
    USDM_BTC,
    USDM_ETH,
    Connector,
    command,
    eventually,
)


def mid_ticks(sim, market: str, symbol: str, tick: Decimal) -> int:
    st = sim.call(sim.sim.state)["markets"][market][symbol]
    return int(((Decimal(st["best_bid"]) + Decimal(st["best_ask"])) / 2 / tick).to_integral_value())


@pytest.fixture
def up(connector: Connector) -> Connector:
    return connector.start()


def test_submit_ack_partial_fill_fill(up: Connector, sim, counterparty) -> None:
    c = up
    oid = c.new_id()
    px = mid_ticks(sim, "spot", "BTCUSDT", Decimal("0.01"))
    c.send(command(R.SUBMIT_ORDER, oid, SPOT_BTC, price=px, qty=1000))  # 0.01 BTC at the mid
    ack = c.wait_event(oid, R.ORDER_ACCEPTED)[0]
    assert ack["venue_order_id"] > 0 and ack["price"] == px and ack["qty"] == 1000
    price = f"{Decimal(px) * Decimal('0.01'):.2f}"
    counterparty.create_order(
        symbol="BTCUSDT", side="SELL", type="LIMIT", timeInForce="IOC", quantity="0.004", price=price
    )
    f1 = c.wait_event(oid, R.ORDER_FILLED)[0]
    assert (f1["qty"], f1["price"], f1["cum_qty"], f1["leaves_qty"]) == (400, px, 400, 600)
    assert f1["trade_id"] > 0 and f1["liquidity"] == R.LIQ_MAKER and f1["fee"] > 0
    counterparty.create_order(
        symbol="BTCUSDT", side="SELL", type="LIMIT", timeInForce="IOC", quantity="0.006", price=price
    )
    fills = c.wait_event(oid, R.ORDER_FILLED, 2)
    assert sum(int(f["qty"]) for f in fills) == 1000 and fills[1]["cum_qty"] == 1000
    assert len({int(f["trade_id"]) for f in fills}) == 2
    assert len(c.of(oid, R.ORDER_ACCEPTED)) == 1  # REST ack and stream NEW made one accept
    assert c.stop() == 0


def test_reject_carries_venue_code(up: Connector) -> None:
    c = up
    oid = c.new_id()
    c.send(command(R.SUBMIT_ORDER, oid, SPOT_BTC, price=1, qty=1))  # 0.01 USDT x 0.00001: NOTIONAL filter
    rej = c.wait_event(oid, R.ORDER_REJECTED)[0]
    assert rej["reason"] == -1013
    oid2 = c.new_id()
    c.send(
        command(
            R.SUBMIT_ORDER, oid2, SPOT_BTC, price=5_900_000, qty=1000, order_type=R.ORD_TRAILING_STOP_MARKET
        )
    )
    assert c.wait_event(oid2, R.ORDER_REJECTED)[0]["reason"] == -1116
    assert not c.of(oid, R.ORDER_ACCEPTED)


def test_modify_spot_replace_and_futures_amend(up: Connector, sim, counterparty) -> None:
    c = up
    spot, fut = c.new_id(), c.new_id()
    px = mid_ticks(sim, "spot", "ETHUSDT", Decimal("0.01")) - 1000  # 10 USDT under the mid: resting
    fpx = mid_ticks(sim, "usdm", "ETHUSDT", Decimal("0.01")) - 1000
    c.send(
        command(R.SUBMIT_ORDER, spot, SPOT_ETH, price=px, qty=100),
        command(R.SUBMIT_ORDER, fut, USDM_ETH, price=fpx, qty=20),
    )
    c.wait_event(spot, R.ORDER_ACCEPTED)
    c.wait_event(fut, R.ORDER_ACCEPTED)
    c.send(
        command(R.MODIFY_ORDER, spot, SPOT_ETH, price=px + 1000, qty=200),  # to the mid: best bid
        command(R.MODIFY_ORDER, fut, USDM_ETH, price=fpx + 500, qty=30),
    )
    m = c.wait_event(spot, R.ORDER_MODIFIED)[0]
    assert (m["price"], m["qty"]) == (px + 1000, 200)
    fm = c.wait_event(fut, R.ORDER_MODIFIED)[0]
    assert (fm["price"], fm["qty"]) == (fpx + 500, 30)
    # the replaced spot order keeps its OMS id: the old order's CANCELED is not an end, the new one fills
    price = f"{Decimal(px + 1000) * Decimal('0.01'):.2f}"
    counterparty.create_order(
        symbol="ETHUSDT", side="SELL", type="LIMIT", timeInForce="IOC", quantity="0.02", price=price
    )
    f = c.wait_event(spot, R.ORDER_FILLED)[0]
    assert (f["qty"], f["price"], f["leaves_qty"]) == (200, px + 1000, 0)
    assert not c.of(spot, R.ORDER_CANCELED)
    c.send(command(R.CANCEL_ORDER, fut, USDM_ETH))
    c.wait_event(fut, R.ORDER_CANCELED)


def test_cancel_once_and_cancel_unknown(up: Connector, sim) -> None:
    c = up
    oid = c.new_id()
    px = mid_ticks(sim, "spot", "BTCUSDT", Decimal("0.01")) - 100_000  # 1000 USDT under: rests
    c.send(command(R.SUBMIT_ORDER, oid, SPOT_BTC, price=px, qty=1000))
    c.wait_event(oid, R.ORDER_ACCEPTED)
    c.send(command(R.CANCEL_ORDER, oid, SPOT_BTC))
    ev = c.wait_event(oid, R.ORDER_CANCELED)[0]
    assert ev["leaves_qty"] == 0
    stranger = c.new_id()
    c.send(command(R.CANCEL_ORDER, stranger, SPOT_BTC))
    assert c.wait_event(stranger, R.CANCEL_REJECTED)[0]["reason"] == -2011
    c.send(command(R.CANCEL_ORDER, oid, SPOT_BTC))  # cancel after the end: rejected, not a second cancel
    c.wait_event(oid, R.CANCEL_REJECTED)
    eventually(lambda: c.stats().get("orders", {}).get("OrderCanceled", 0) >= 1)
    assert len(c.of(oid, R.ORDER_CANCELED)) == 1
    assert (
        sim.call(
            lambda: len(
                sim.sim.cores["spot"].open_orders(sim.sim.accounts.keys["conn-test-key"].account, "BTCUSDT")
            )
        )
        == 0
    )


def test_futures_batch_of_five_and_a_bad_slot(up: Connector, sim) -> None:
    c = up
    base = mid_ticks(sim, "usdm", "BTCUSDT", Decimal("0.1")) - 2000  # 200 USDT under the mid
    ids_ = [c.new_id() for _ in range(6)]
    cmds = [command(R.SUBMIT_ORDER, i, USDM_BTC, price=base - k, qty=2) for k, i in enumerate(ids_[:5])]
    cmds.append(command(R.SUBMIT_ORDER, ids_[5], USDM_BTC, price=base * 2, qty=2))  # far above: price filter
    c.send(*cmds)
    for i in ids_[:5]:
        c.wait_event(i, R.ORDER_ACCEPTED)
    assert c.wait_event(ids_[5], R.ORDER_REJECTED)[0]["reason"] < 0
    eventually(lambda: c.stats().get("orders", {}).get("batches", 0) >= 1, what="a batchOrders request")
    c.send(*[command(R.CANCEL_ORDER, i, USDM_BTC) for i in ids_[:5]])
    for i in ids_[:5]:
        c.wait_event(i, R.ORDER_CANCELED)


def test_stop_and_take_profit(up: Connector, sim, counterparty) -> None:
    c = up
    st = sim.call(sim.sim.state)["markets"]["usdm"]["BTCUSDT"]
    ask = int(Decimal(st["best_ask"]) / Decimal("0.1"))
    stop, tp, spot_stop = c.new_id(), c.new_id(), c.new_id()
    # a buy stop at the best ask fires on the next trade there; a sell take-profit far above stays
    c.send(
        command(R.SUBMIT_ORDER, stop, USDM_BTC, qty=2, order_type=R.ORD_STOP_MARKET, trigger=ask),
        command(
            R.SUBMIT_ORDER,
            tp,
            USDM_BTC,
            side=R.SIDE_SELL,
            qty=2,
            order_type=R.ORD_TAKE_PROFIT_MARKET,
            trigger=ask + 50_000,
            flags=R.FLAG_REDUCE_ONLY,
        ),
    )
    c.wait_event(stop, R.ORDER_ACCEPTED)
    c.wait_event(tp, R.ORDER_ACCEPTED)
    spx = mid_ticks(sim, "spot", "BTCUSDT", Decimal("0.01"))
    c.send(
        command(
            R.SUBMIT_ORDER,
            spot_stop,
            SPOT_BTC,
            side=R.SIDE_SELL,
            qty=100,
            order_type=R.ORD_STOP_LIMIT,
            price=spx - 50_000,
            trigger=spx - 40_000,
        )
    )
    c.wait_event(spot_stop, R.ORDER_ACCEPTED)
    counterparty.futures_create_order(symbol="BTCUSDT", side="BUY", type="MARKET", quantity="0.002")
    c.wait_event(stop, R.ORDER_TRIGGERED)
    f = c.wait_event(stop, R.ORDER_FILLED)[0]
    assert f["qty"] == 2 and f["liquidity"] == R.LIQ_TAKER
    c.send(command(R.CANCEL_ORDER, tp, USDM_BTC), command(R.CANCEL_ORDER, spot_stop, SPOT_BTC))
    c.wait_event(tp, R.ORDER_CANCELED)
    c.wait_event(spot_stop, R.ORDER_CANCELED)


def test_reduce_only_on_futures(up: Connector, sim) -> None:
    c = up
    pos = {p["symbol"]: Decimal(p["positionAmt"]) for p in _positions(sim)}
    held = int(pos.get("ETHUSDT", Decimal(0)) / Decimal("0.001"))
    bad = c.new_id()
    # more than the position on the reducing side: rejected with -2022
    side = R.SIDE_SELL if held >= 0 else R.SIDE_BUY
    c.send(
        command(
            R.SUBMIT_ORDER,
            bad,
            USDM_ETH,
            side=-side,
            qty=abs(held) + 5,
            order_type=R.ORD_MARKET,
            flags=R.FLAG_REDUCE_ONLY,
        )
    )
    assert c.wait_event(bad, R.ORDER_REJECTED)[0]["reason"] == -2022
    buy, close = c.new_id(), c.new_id()
    c.send(command(R.SUBMIT_ORDER, buy, USDM_ETH, qty=10, order_type=R.ORD_MARKET))
    c.wait_event(buy, R.ORDER_FILLED)
    c.send(
        command(
            R.SUBMIT_ORDER,
            close,
            USDM_ETH,
            side=R.SIDE_SELL,
            qty=10,
            order_type=R.ORD_MARKET,
            flags=R.FLAG_REDUCE_ONLY,
        )
    )
    f = c.wait_event(close, R.ORDER_FILLED)[0]
    assert f["qty"] == 10 and f["flags"] & R.FLAG_REDUCE_ONLY


def _positions(sim) -> list[dict]:
    from binance.client import Client

    from tests.integration.conn.conftest import API_KEY, API_SECRET

    cl = Client(API_KEY, API_SECRET, ping=False)
    try:
        return cl.futures_position_information()
    finally:
        cl.close_connection()


def test_cancel_right_behind_a_batched_submit_keeps_ring_order(up: Connector, sim) -> None:
    c = up
    base = mid_ticks(sim, "usdm", "BTCUSDT", Decimal("0.1")) - 3000
    x, y = c.new_id(), c.new_id()
    c.send(
        command(R.SUBMIT_ORDER, x, USDM_BTC, price=base, qty=2),
        command(R.SUBMIT_ORDER, y, USDM_BTC, price=base - 1, qty=2),
        command(R.CANCEL_ORDER, x, USDM_BTC),
    )
    c.wait_event(x, R.ORDER_ACCEPTED)
    c.wait_event(x, R.ORDER_CANCELED)
    c.wait_event(y, R.ORDER_ACCEPTED)
    assert not c.of(x, R.CANCEL_REJECTED)
    c.send(command(R.CANCEL_ORDER, y, USDM_BTC))
    c.wait_event(y, R.ORDER_CANCELED)
