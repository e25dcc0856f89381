"""Validation names the field and reason; exact decimal -> ticks/lots; positions from fills."""

from __future__ import annotations

import grpc
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from oms.api import validation
from oms.api.gen.oms.v1 import types_pb2 as pb
from oms.api.instruments import DecimalError, Precision, demo_registry
from oms.api.state import OrderState
from oms.api.status import ApiError
from oms.engine import constants as ec
from oms.shm import records as r

RS = validation.Resolver(demo_registry())


def _coid() -> int:
    return 42


def order(**kw) -> pb.SubmitOrder:  # type: ignore[no-untyped-def]
    base = dict(
        account=1,
        venue="binance",
        symbol="BTC/USDT",
        side=pb.SIDE_BUY,
        order_type=pb.ORDER_TYPE_LIMIT,
        price="50000.25",
        quantity="0.00123",
    )
    base.update(kw)
    return pb.SubmitOrder(**base)


def test_submit_row_in_ticks_and_lots() -> None:
    row = validation.submit(order(), RS, _coid)
    assert row[0] == r.SUBMIT_ORDER and row[5] == 1 and row[6] == 42
    assert row[8] == 5000025 and row[9] == 123  # ticks of 0.01, lots of 0.00001
    arr = np.array([tuple(row)], dtype=r.COMMAND)
    assert arr["price"][0] == 5000025 and arr["side"][0] == r.SIDE_BUY


def test_symbol_forms_and_market() -> None:
    a = validation.submit(order(symbol="BTCUSDT"), RS, _coid)
    b = validation.submit(order(symbol="btc/usdt"), RS, _coid)
    assert a[5] == b[5] == 1
    fut = validation.submit(
        order(market="usdm", symbol="BTCUSDT", price="50000.1", quantity="0.002"), RS, _coid
    )
    assert fut[5] == 3 and fut[3] == 2


@pytest.mark.parametrize(
    ("kw", "field"),
    [
        (dict(price="1.001"), "price"),
        (dict(quantity="0.000001"), "quantity"),
        (dict(symbol=""), "symbol"),
        (dict(venue="BIN ANCE"), "venue"),
        (dict(side=7), "side"),
        (dict(time_in_force=9), "time_in_force"),
        (dict(trailing_offset="1"), "trailing_offset"),
        (dict(order_type=pb.ORDER_TYPE_STOP_MARKET, price=""), "trigger_price"),
    ],
)
def test_bad_fields_named(kw, field) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ApiError) as ei:
        validation.submit(order(**kw), RS, _coid, "orders[3].")
    assert ei.value.code == grpc.StatusCode.INVALID_ARGUMENT
    assert ei.value.message.startswith(f"orders[3].{field}:")


@given(st.text(max_size=30))
def test_precision_never_raises_anything_but_decimal_error(text: str) -> None:
    p = Precision("0.01", "0.001")
    try:
        n = p.ticks(text)
    except DecimalError:
        return
    from decimal import Decimal

    assert n >= 0 and Decimal(p.price(n)) == Decimal(text)  # exact: accepted only without rounding


def test_positions_average_cost_and_realized() -> None:
    s = OrderState()

    def fill(side: int, px: int, qty: int, trade: int) -> None:
        e = [0] * 25
        e[0], e[4], e[5], e[6], e[8], e[9], e[13], e[18] = r.ORDER_FILLED, 7, 3, trade, px, qty, trade, side
        e[21] = ec.ST_FILLED  # the engine's fill of an order it knows (status none = unknown: ignored)
        s.apply(tuple(e))

    fill(1, 100, 2, 1)
    fill(1, 200, 2, 2)
    fill(1, 200, 2, 2)  # duplicate trade id ignored
    fill(-1, 300, 3, 3)
    pos = s.positions[(7, 3)]
    assert pos.qty == 1 and pos.avg_price_ticks() == 150 and pos.realized == 3 * 300 - 3 * 150
    fill(-1, 100, 3, 4)  # flips short 2 at 100
    assert pos.qty == -2 and pos.avg_price_ticks() == 100 and pos.realized == 450 + (100 - 150)


def test_order_view_is_bounded_even_when_every_order_stays_open() -> None:
    s = OrderState(max_orders=1000)
    for i in range(1, 5001):
        s.submitted(
            [r.SUBMIT_ORDER, 0, 1, 1, 1, 1, i, 0, 100, 1, 0, 0, 0, i, 1, 1, 1, 0, 1, 0, 0, 0, 0, (0, 0)]
        )
    assert 900 <= len(s.orders) <= 1000 and s.dropped_open > 0
    assert (1, 5000) in s.orders and (1, 1) not in s.orders  # the newest kept, the oldest forgotten


def test_unknown_symbol_rereads_the_shared_registry() -> None:
    from oms.api.instruments import StaticRegistry

    calls = []

    def reload() -> StaticRegistry:
        calls.append(1)
        return demo_registry()

    rs = validation.Resolver(StaticRegistry([]), reload=reload, reload_every_s=0.0)
    row = validation.submit(order(), rs, _coid)  # unknown at first, known after one re-read
    assert row[5] == 1 and calls == [1]
    rs2 = validation.Resolver(StaticRegistry([]), reload=lambda: StaticRegistry([]), reload_every_s=0.0)
    with pytest.raises(ApiError, match="unknown symbol"):
        validation.submit(order(), rs2, _coid)


def test_events_about_no_known_order_create_no_view() -> None:
    """A refusal or a forwarded venue event for an id the engine does not know (status none)."""
    s = OrderState()
    for kind in (r.CANCEL_REJECTED, r.ORDER_FILLED, r.ORDER_ACCEPTED):
        e = [0] * 25
        e[0], e[4], e[5], e[6], e[8], e[9], e[13], e[18] = kind, 1, 1, 999, 100, 1, 5, 1
        e[17] = ec.R_UNKNOWN_ORDER
        s.apply(tuple(e))
    assert not s.orders and not s.positions
