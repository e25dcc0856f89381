"""The gateway with the engine room's real process (oms/procs/engine.py) on the same rings, the venues
room's real InstrumentRegistry, and a real BBO table: orders get the real engine's answers (pre-trade
risk, kill switch), and GetBbo reads the seqlock table. No connector runs, so an accepted order stays
OrderSubmitted (PendingNew): the engine has sent it to the (absent) venue connector's ring."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from decimal import Decimal

import pytest

from oms.api.gen.oms.v1 import gateway_pb2 as gw
from oms.api.gen.oms.v1 import types_pb2 as pb
from oms.client import Client
from oms.shm import names, segment
from oms.shm.table import BboTable
from oms.venues.instruments import Instrument, InstrumentRegistry
from tests.integration.gateway.conftest import ROOT, Stack, close_stack, make_stack

INSTRUMENT_TOML = """
[[instrument]]
id = {id}
venue = "binance"
market = "spot"
symbol = "BTCUSDT"
base = "BTC"
quote = "USDT"
tick_size = "0.01"
lot_size = "0.00001"
min_notional = "5"
"""


@pytest.fixture(scope="module")
def real(tmp_path_factory: pytest.TempPathFactory, dev_certs) -> Iterator[tuple[Stack, BboTable]]:  # type: ignore[no-untyped-def]
    tmp = tmp_path_factory.mktemp("real")
    reg = InstrumentRegistry(tmp / "instruments.json")
    (inst,) = reg.load(
        [
            Instrument(
                0,
                "binance",
                "spot",
                "BTCUSDT",
                "BTC/USDT",
                "BTC",
                "USDT",
                "",
                Decimal("0.01"),
                Decimal("0.00001"),
                min_notional=Decimal("5"),
            )
        ]
    )
    (tmp / "instruments.toml").write_text(INSTRUMENT_TOML.format(id=inst.id))
    prefix = "e" + uuid.uuid4().hex[:10]
    table = BboTable.create(names.bbo_table(prefix), 64)
    table.write(inst.id, 5_000_000, 100_000, 5_000_100, 200_000, 0, time.time_ns())  # 50000.00 / 50001.00
    st = make_stack(tmp, dev_certs, engine=False, registry=reg, bbo=table, prefix=prefix)
    eng = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "oms.procs.engine",
            "--prefix",
            prefix,
            "--instruments",
            str(tmp / "instruments.toml"),
            "--event-log",
            "",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert eng.stdout is not None
    for _ in range(50):
        line = eng.stdout.readline()
        if not line or b"READY" in line:
            break
    assert b"READY" in line, f"engine did not start: {line!r}"
    st.engine = eng
    yield st, table
    close_stack(st)
    table.close()
    segment.unlink(names.bbo_table(prefix))
    for v in ("binance",):
        segment.unlink(names.engine_commands_to_venue(v, prefix))
        segment.unlink(names.venue_exec_events(v, prefix))
    for n in (
        names.bridge_commands(prefix),
        names.engine_events_to_bridge(prefix),
        names.market_data_to_engine(prefix),
    ):
        segment.unlink(n)


def test_real_engine_answers_orders_and_kill_switch(real) -> None:  # type: ignore[no-untyped-def]
    st, _ = real
    with Client(st.target, token=st.tokens["trader"], ca=st.certs.ca_cert) as t:
        ack = t.submit(
            account=1, venue="binance", symbol="BTCUSDT", side="buy", quantity="0.001", price="50000"
        )
        assert ack.kind == pb.EVENT_KIND_ORDER_SUBMITTED, ack
        o = t.get_order(1, ack.client_order_id)
        assert o.status == 1 and o.open  # PendingNew: handed to the connector ring
        far = t.submit(
            account=1, venue="binance", symbol="BTC/USDT", side="buy", quantity="0.001", price="5000"
        )
        assert far.kind in (pb.EVENT_KIND_ORDER_SUBMITTED, pb.EVENT_KIND_ORDER_REJECTED)
    with Client(st.target, token=st.tokens["risk"], ca=st.certs.ca_cert, totp_secret=st.totp["risk"]) as r:
        res = r.set_trading_state("halted", account=1, reason="integration test")
        assert res.acks[0].kind == pb.EVENT_KIND_TRADING_STATE_CHANGED, res
    with Client(st.target, token=st.tokens["trader"], ca=st.certs.ca_cert) as t:
        rej = t.submit(
            account=1, venue="binance", symbol="BTC/USDT", side="buy", quantity="0.001", price="50000"
        )
        assert rej.kind == pb.EVENT_KIND_ORDER_REJECTED and rej.reason == 15  # risk.trading_halted


def test_bbo_from_the_shared_table(real) -> None:  # type: ignore[no-untyped-def]
    st, _ = real
    with Client(st.target, token=st.tokens["viewer"], ca=st.certs.ca_cert) as c:
        b = c.bbo("binance", "BTC/USDT")
        assert (b.bid_price, b.bid_quantity, b.ask_price, b.ask_quantity) == ("50000", "1", "50001", "2")
        req = gw.GetBookRequest(venue="binance", symbol="BTCUSDT", depth=5)
        book = c.stub.GetBook(req, metadata=c._md(), timeout=5)
        assert book.bids[0].price == "50000" and book.asks[0].price == "50001"
