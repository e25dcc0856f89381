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
    counterparty.create_order(symbol="BTCUSDT", side="SELL", type="LIMIT", timeInForce="IOC", quantity="0.004",
                              price=price)  # fmt: skip
    f1 = c.wait_event(oid, R.ORDER_FILLED)[0]
    assert (f1["qty"], f1["price"], f1["cum_qty"], f1["leaves_qty"]) == (400, px, 400, 600)
    assert f1["trade_id"] > 0 and f1["liquidity"] == R.LIQ_MAKER and f1["fee"] > 0
    counterparty.create_order(symbol="BTCUSDT", side="SELL", type="LIMIT", timeInForce="IOC", quantity="0.006",
                              price=price)  # fmt: skip
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
