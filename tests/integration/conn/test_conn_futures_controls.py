"""Futures controls end to end, nothing mocked: gateway (TLS, tokens, TOTP, audit) → real engine process →
real connector process → Binance simulator (USD-M), and back.

- SetLeverage 7 from a `risk` token: the answer is what the venue reports (read back from positionRisk),
  and the engine's margin check then uses 7 — an order that passed at the venue's start-up 20x is refused
  with risk.insufficient_margin (the engine's own config says 1x, which would refuse both);
- leverage changed at the venue behind the OMS's back is followed from the user data stream
  (ACCOUNT_CONFIG_UPDATE), and read again after a reconnect when that message was lost;
- with an open position, SetMarginMode ISOLATED comes back as the venue's error by name
  (MARGIN_TYPE_CANNOT_BE_CHANGED_IF_THERE_EXISTS_POSITION); GetPositions shows leverage, margin mode,
  liquidation price and margin;
- `viewer` and `trader` tokens cannot change leverage, nor a risk token for an account outside its scope.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from decimal import ROUND_UP, Decimal
from pathlib import Path

import grpc
import pytest
from binance.client import Client as BinanceClient

from oms.api import certs
from oms.api.gen.oms.v1 import types_pb2 as pb
from oms.api.state import E_CUM
from oms.client import Client, ClientError
from oms.shm import names, segment
from oms.venues.instruments import Instrument, InstrumentRegistry
from tests.integration.conn.conftest import API_KEY, API_SECRET, Connector, eventually
from tests.integration.gateway.conftest import ROOT, Stack, close_stack, make_stack

ENGINE_CONFIG = """
[risk]
accounts = [1]
equity = "1000"
price_deviation_bps = 0
"""
TICK, LOT = Decimal("0.1"), Decimal("0.001")


def _instruments() -> list[Instrument]:
    return [
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
        ),
        Instrument(
            0, "binance", "spot", "ETHUSDT", "ETH/USDT", "ETH", "USDT", "", Decimal("0.01"), Decimal("0.0001")
        ),
        Instrument(0, "binance", "usdm", "BTCUSDT", "BTC/USDT:USDT", "BTC", "USDT", "USDT", TICK, LOT),
        Instrument(
            0, "binance", "usdm", "ETHUSDT", "ETH/USDT:USDT", "ETH", "USDT", "USDT", Decimal("0.01"), LOT
        ),
    ]


class Chain:
    def __init__(self, st: Stack, conn: Connector, eng: subprocess.Popen[str], perp: int) -> None:
        self.st, self.conn, self.eng, self.perp = st, conn, eng, perp

    def client(self, name: str) -> Client:
        return Client(
            self.st.target,
            token=self.st.tokens[name],
            ca=self.st.certs.ca_cert,
            totp_secret=self.st.totp.get(name),
        )

    def settings(self) -> tuple | None:
        return self.st.gw.gw.link.state.futures.get(self.perp)


@pytest.fixture(scope="module")
def chain(sim, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chain]:
    tmp = tmp_path_factory.mktemp("futures")
    reg = InstrumentRegistry(tmp / "instruments.json")
    loaded = reg.load(_instruments())
    rows = []
    for i in loaded:
        rows.append(
            f'[[instrument]]\nid = {i.id}\nvenue = "binance"\nmarket = "{i.market}"\nsymbol = "{i.symbol}"\n'
            f'base = "{i.base}"\nquote = "{i.quote}"\n'
            f'tick_size = "{i.tick_size}"\nlot_size = "{i.lot_size}"\n'
        )
    perp = next(i.id for i in loaded if i.market == "usdm" and i.symbol == "BTCUSDT")
    prefix = "f" + uuid.uuid4().hex[:9]
    # several Admin calls within one 30 s TOTP step here: single use is tested in the gateway room
    st = make_stack(
        tmp,
        certs.init(tmp / "certs"),
        engine=False,
        registry=reg,
        prefix=prefix,
        ack_timeout_s=15.0,
        totp_single_use=False,
    )
    conn = Connector(sim, tmp, prefix, engine_rings=False)
    (tmp / "instruments.toml").write_text("\n".join(rows))  # after Connector() wrote its default file
    (tmp / "oms.toml").write_text(ENGINE_CONFIG)
    err = open(tmp / "engine.err", "w")  # noqa: SIM115 - handed to the child
    eng = subprocess.Popen(
        [
            sys.executable, "-m", "oms.procs.engine", "--config", str(tmp / "oms.toml"), "--prefix", prefix,
            "--venues", "binance", "--instruments", str(tmp / "instruments.toml"), "--event-log", "",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=err,
        text=True,
        env={**os.environ, "OMS_NO_SPIN": "1"},
    )  # fmt: skip
    try:
        assert eng.stdout is not None
        assert "ENGINE READY" in eng.stdout.readline(), (tmp / "engine.err").read_text()[-3000:]
        conn.start()
        ch = Chain(st, conn, eng, perp)
        # the connector reads the venue's settings at start: the engine and the gateway get 20x
        eventually(lambda: ch.settings() is not None, 30, what="PositionReport for BTCUSDT usdm at start")
        yield ch
    finally:
        if eng.poll() is None:
            eng.terminate()
            try:
                eng.wait(20)
            except subprocess.TimeoutExpired:
                eng.kill()
                eng.wait(5)
        err.close()
        conn.close()
        close_stack(st)
        for n in (
            names.engine_commands_to_venue("binance", prefix),
            names.venue_exec_events("binance", prefix),
            names.bridge_commands(prefix),
            names.engine_events_to_bridge(prefix),
            names.market_data_to_engine(prefix),
        ):
            segment.unlink(n)


def _venue_leverage(symbol: str = "BTCUSDT") -> int:
    c = BinanceClient(API_KEY, API_SECRET, ping=False)
    try:
        (row,) = [
            r for r in c.futures_position_information(symbol=symbol, version=2) if r["symbol"] == symbol
        ]
        return int(row["leverage"])
    finally:
        c.close_connection()


def _bid(sim) -> Decimal:
    return Decimal(sim.call(sim.sim.state)["markets"]["usdm"]["BTCUSDT"]["best_bid"])


def test_leverage_7_is_what_the_venue_reports_and_what_the_risk_check_uses(chain: Chain, sim) -> None:
    assert int(chain.settings()[E_CUM]) == 2000  # the simulator's default 20x, reported at start
    px = (_bid(sim) * Decimal("0.8")).quantize(TICK)  # rests far under the book
    qty = (Decimal(10_000) / px).quantize(LOT, rounding=ROUND_UP)  # 10000 USDT: 500 margin at 20x, 1429 at 7x
    order = dict(account=1, venue="binance", market="usdm", symbol="BTCUSDT", side="buy", quantity=str(qty))
    with chain.client("trader") as t:
        a = t.submit(price=str(px), **order)
        assert a.kind == pb.EVENT_KIND_ORDER_SUBMITTED, a  # passes at the venue's 20x (config says 1x)
        t.cancel(1, a.client_order_id, venue="binance", symbol="BTC/USDT:USDT")
    with chain.client("risk") as r:
        ack = r.set_leverage(1, "binance", "BTCUSDT", 7, market="usdm", reason="futures test")
    assert (ack.leverage, ack.kind, ack.symbol) == (7, pb.EVENT_KIND_LEVERAGE_CHANGED, "BTCUSDT")
    assert ack.margin_mode == pb.MARGIN_MODE_CROSS
    assert _venue_leverage() == 7  # what the venue itself now says
    with chain.client("trader") as t:
        b = t.submit(price=str(px), **order)
    assert b.kind == pb.EVENT_KIND_ORDER_REJECTED and b.reason == 31, b  # risk.insufficient_margin at 7x

    def audited() -> list[dict]:
        lines = Path(chain.st.settings.audit_file).read_text().splitlines()
        return [
            x for x in map(json.loads, lines) if x["method"] == "/oms.v1.Admin/SetLeverage" and x["detail"]
        ]

    rec = eventually(audited, 10, what="the SetLeverage audit record with the venue's answer")[-1]
    assert rec["decision"] == "allow" and rec["detail"]["leverage"] == 7 and rec["reason"] == "futures test"


def _change_behind_our_back(leverage: int) -> None:
    c = BinanceClient(API_KEY, API_SECRET, ping=False)
    try:  # at the venue, not through the OMS (web UI, another tool)
        c.futures_change_leverage(symbol="BTCUSDT", leverage=leverage)
    finally:
        c.close_connection()


def test_leverage_changed_elsewhere_is_followed_from_the_stream(chain: Chain) -> None:
    _change_behind_our_back(25)  # ACCOUNT_CONFIG_UPDATE on the user data stream -> read back
    eventually(lambda: int(chain.settings()[E_CUM]) == 2500, 30, what="25x from ACCOUNT_CONFIG_UPDATE")


def test_leverage_is_read_again_after_a_reconnect(chain: Chain, sim) -> None:
    sim.call(sim.sim.faults.set, ws_drop_rate=1.0)  # every frame kills its connection: the update is lost
    try:
        _change_behind_our_back(30)
    finally:
        sim.call(sim.sim.faults.set, ws_drop_rate=0.0)
    sim.call(sim.sim.faults.drop_ws)
    eventually(lambda: int(chain.settings()[E_CUM]) == 3000, 30, what="30x read back after the reconnect")
    px = (_bid(sim) * Decimal("0.8")).quantize(TICK)
    qty = (Decimal(10_000) / px).quantize(LOT, rounding=ROUND_UP)  # 334 USDT margin at 30x
    with chain.client("trader") as t:
        a = t.submit(
            account=1,
            venue="binance",
            market="usdm",
            symbol="BTCUSDT",
            side="buy",
            quantity=str(qty),
            price=str(px),
        )
        assert a.kind == pb.EVENT_KIND_ORDER_SUBMITTED, a
        t.cancel(1, a.client_order_id, venue="binance", symbol="BTC/USDT:USDT")


def test_margin_mode_change_with_a_position_is_refused_by_name(chain: Chain, sim, counterparty) -> None:
    book = sim.call(sim.sim.state)["markets"]["usdm"]["BTCUSDT"]
    px = ((Decimal(book["best_bid"]) + Decimal(book["best_ask"])) / 2).quantize(TICK)  # the best bid, alone
    with chain.client("trader") as t:
        a = t.submit(
            account=1,
            venue="binance",
            market="usdm",
            symbol="BTCUSDT",
            side="buy",
            quantity="0.003",
            price=str(px),
        )
        assert a.kind == pb.EVENT_KIND_ORDER_SUBMITTED, a
        eventually(
            lambda: t.get_order(1, a.client_order_id).status == 2, 20, what="order accepted at the venue"
        )
        counterparty.futures_create_order(
            symbol="BTCUSDT", side="SELL", type="LIMIT", timeInForce="IOC", quantity="0.003", price=str(px)
        )
        eventually(
            lambda: any(p.quantity == "0.003" and p.market == "usdm" for p in t.positions(1, "binance")),
            20,
            what="the fill as a position",
        )
    with chain.client("risk") as r, pytest.raises(ClientError) as ei:
        r.set_margin_mode(1, "binance", "BTCUSDT", "isolated", market="usdm")
    assert ei.value.status == grpc.StatusCode.FAILED_PRECONDITION
    assert "MARGIN_TYPE_CANNOT_BE_CHANGED_IF_THERE_EXISTS_POSITION" in str(ei.value) and "-4048" in str(
        ei.value
    )
    with chain.client("viewer") as v:
        (pos,) = [p for p in v.positions(1, "binance") if p.market == "usdm" and p.symbol == "BTC/USDT:USDT"]
    assert pos.leverage == "30" and pos.margin_mode == pb.MARGIN_MODE_CROSS
    assert Decimal(pos.margin) > 0 and pos.settings_ts_ns > 0
    assert pos.liquidation_price == ""  # the simulator reports none (0)


@pytest.mark.parametrize("who", ["viewer", "trader"])
def test_viewer_and_trader_cannot_change_leverage(chain: Chain, who: str) -> None:
    before = _venue_leverage()
    with chain.client(who) as c, pytest.raises(ClientError) as ei:
        c.set_leverage(1, "binance", "BTCUSDT", 3, market="usdm")
    assert ei.value.status == grpc.StatusCode.PERMISSION_DENIED, ei.value
    with chain.client(who) as c, pytest.raises(ClientError) as ei2:
        c.set_margin_mode(1, "binance", "BTCUSDT", "isolated", market="usdm")
    assert ei2.value.status == grpc.StatusCode.PERMISSION_DENIED, ei2.value
    assert _venue_leverage() == before


def test_risk_token_outside_its_accounts_and_bad_input(chain: Chain) -> None:
    before = _venue_leverage()
    with chain.client("risk") as r:
        with pytest.raises(ClientError) as ei:
            r.set_leverage(2, "binance", "BTCUSDT", 3, market="usdm")  # risk token is scoped to account 1
        assert ei.value.status == grpc.StatusCode.PERMISSION_DENIED
        with pytest.raises(ClientError) as ei:
            r.set_leverage(1, "binance", "BTCUSDT", 3, market="spot")
        assert ei.value.status == grpc.StatusCode.INVALID_ARGUMENT and "no leverage" in str(ei.value)
        with pytest.raises(ClientError) as ei:
            r.set_leverage(1, "binance", "BTCUSDT", 0, market="usdm")
        assert ei.value.status == grpc.StatusCode.INVALID_ARGUMENT and "leverage" in str(ei.value)
        with pytest.raises(ClientError) as ei:
            r.set_leverage(1, "binance", "BTCUSDT", 200, market="usdm")  # the venue allows 1..125
        assert ei.value.status == grpc.StatusCode.FAILED_PRECONDITION and "INVALID_LEVERAGE" in str(ei.value)
    assert _venue_leverage() == before
