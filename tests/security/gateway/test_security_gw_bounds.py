"""Security (gateway + engine): prices and quantities are bounded before they reach the engine, and the
engine's price-deviation check holds for any price that does get through.

Before: a limit price of reference + 2^60 ticks wrapped `|px - ref| * 10000` to 0 in the risk kernel and
the order was accepted. Now the gateway refuses any price/quantity above 2^53 ticks/lots (and below the
venue's minimum quantity), and the kernel saturates (tests/security/engine/...risk_overflow.py).
"""

from __future__ import annotations

from decimal import Decimal

import grpc
import pytest

from oms.api.gen.oms.v1 import gateway_pb2 as gw
from oms.api.gen.oms.v1 import types_pb2 as pb
from oms.client import Client, ClientError, metadata, order_request
from oms.engine import constants as ec
from tests.security.gateway.conftest import PX, Real

TICK = Decimal("0.01")
LOT = Decimal("0.00001")


def _price(ticks: int) -> str:
    return f"{Decimal(ticks) * TICK:f}"


def _trader(real: Real) -> Client:
    return Client(real.st.target, token=real.st.tokens["trader"], ca=real.st.certs.ca_cert)


@pytest.mark.parametrize(
    ("field", "price", "qty"),
    [
        ("price", _price(PX + (1 << 60)), "0.001"),
        ("price", _price((1 << 53) + 1), "0.001"),
        ("quantity", "50000", f"{Decimal((1 << 53) + 1) * LOT:f}"),
        ("quantity", "50000", f"{Decimal(1 << 62) * LOT:f}"),
    ],
    ids=["ref+2^60", "2^53+1-ticks", "2^53+1-lots", "2^62-lots"],
)
def test_huge_prices_and_quantities_are_refused_at_the_gateway(
    real: Real, field: str, price: str, qty: str
) -> None:
    with _trader(real) as c, pytest.raises(ClientError) as e:
        c.submit(account=1, venue="binance", symbol="BTCUSDT", side="buy", quantity=qty, price=price)
    assert e.value.status == grpc.StatusCode.INVALID_ARGUMENT
    assert e.value.details.startswith(field) and "2^53" in e.value.details


def test_huge_modify_and_stream_commands_are_refused(real: Real) -> None:
    huge = _price(PX + (1 << 60))
    with _trader(real) as c:
        with pytest.raises(ClientError) as e:
            c.modify(1, 12345, "binance", "BTCUSDT", price=huge)
        assert e.value.status == grpc.StatusCode.INVALID_ARGUMENT and "2^53" in e.value.details
        req = gw.OrderStreamRequest(
            request_id=1, submit=[order_request(1, "binance", "BTCUSDT", "buy", "0.001", price=huge)]
        )
        acks = [
            a
            for r in c.stub.OrderStream(iter([req]), metadata=metadata(real.st.tokens["trader"]))
            for a in r.acks
        ]
    assert acks[0].error_code == grpc.StatusCode.INVALID_ARGUMENT.value[0] and "2^53" in acks[0].error


def test_below_the_venues_minimum_quantity_is_refused(real: Real) -> None:
    with _trader(real) as c, pytest.raises(ClientError) as e:  # min_qty 0.0001 in the registry
        c.submit(account=1, venue="binance", symbol="BTCUSDT", side="buy", quantity="0.00005", price="200000")
    assert e.value.status == grpc.StatusCode.INVALID_ARGUMENT and "minimum quantity" in e.value.details


def test_a_far_price_within_bounds_is_refused_by_the_engines_deviation_check(real: Real) -> None:
    with _trader(real) as c:
        far = c.submit(
            account=1, venue="binance", symbol="BTCUSDT", side="buy", quantity="0.001", price=_price(1 << 52)
        )
        assert far.kind == pb.EVENT_KIND_ORDER_REJECTED and far.reason == ec.R_PRICE_DEVIATION, far
        near = c.submit(
            account=1, venue="binance", symbol="BTCUSDT", side="buy", quantity="0.001", price="50000"
        )
        assert near.kind == pb.EVENT_KIND_ORDER_SUBMITTED
