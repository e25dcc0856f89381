"""Connector room: the real engine process and the real connector process on one set of rings.

gateway ring (this test) → engine (risk, state machine) → venue ring → connector → simulator, and
back: accept and fills from the connector are applied by the engine (its events to the bridge ring
carry the engine's status). The test plays gateway and marketdata (it forwards the connector's
market data into the engine's md ring, which gives the engine its reference price). Then the
connector is SIGKILLed, the order fills while it is dead, and after the restart the engine gets the
missed fill (replayed) exactly once.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from decimal import Decimal
from pathlib import Path

import numpy as np

from oms.engine import constants as C
from oms.shm import names
from oms.shm import records as R
from oms.shm.ring import open_ring
from tests.integration.conn.conftest import SPOT_BTC, Connector, eventually

ENGINE_CONFIG = """
[risk]
accounts = [1]
price_deviation_bps = 500
max_order_qty = 100000
"""


def test_engine_and_connector_together(sim, counterparty, tmp_path: Path) -> None:
    prefix = f"te{uuid.uuid4().hex[:8]}"
    cap = 1 << 12
    gw = open_ring(names.gateway_commands(prefix), R.COMMAND, cap, producer=True)
    md_eng = open_ring(names.market_data_to_engine(prefix), R.MARKET, cap, producer=True)
    ev_br = open_ring(names.engine_events_to_bridge(prefix), R.EVENT, cap, producer=False)
    ev_gw = open_ring(names.engine_events_to_gateway(prefix), R.EVENT, cap, producer=False)
    c = Connector(sim, tmp_path, prefix, engine_rings=False)
    (tmp_path / "oms.toml").write_text(ENGINE_CONFIG)
    err = open(tmp_path / "engine.err", "w")  # noqa: SIM115
    eng = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "oms.procs.engine",
            "--config",
            str(tmp_path / "oms.toml"),
            "--prefix",
            prefix,
            "--venues",
            "binance",
            "--instruments",
            str(tmp_path / "instruments.toml"),
            "--event-log",
            str(tmp_path / "events.bin"),
        ],
        stdout=subprocess.PIPE,
        stderr=err,
        text=True,
        env=dict(os.environ, OMS_NO_SPIN="1"),
    )
    events: list[np.void] = []
    bbo_seen: list[int] = []
    mbuf = np.zeros(4096, R.MARKET)
    ebuf = np.zeros(256, R.EVENT)

    def poll() -> None:
        while n := c.md.consume(mbuf):  # play marketdata: connector md ring → engine md ring
            bbo_seen.extend(int(x) for x in mbuf[:n]["instrument"][mbuf[:n]["kind"] == R.MD_BBO])
            i = 0
            while i < n:
                i += md_eng.publish_batch(mbuf[i:n])
        while n := ev_br.consume(ebuf):
            events.extend(ebuf[:n].copy())
        ev_gw.consume(ebuf)

    def wait(kind: int, oid: int, n: int = 1, timeout: float = 30.0) -> list[np.void]:
        def got() -> list[np.void] | None:
            poll()
            ev = [e for e in events if int(e["kind"]) == kind and int(e["client_order_id"]) == oid]
            return ev if len(ev) >= n else None

        return eventually(got, timeout, what=f"engine {R.KIND_NAMES[kind]} x{n} for {oid}")

    try:
        assert eng.stdout is not None
        assert "ENGINE READY" in eng.stdout.readline(), (tmp_path / "engine.err").read_text()[-3000:]
        c.start()
        # the engine's risk check needs a reference price: the BBO the connector publishes
        eventually(lambda: (poll(), SPOT_BTC in bbo_seen)[1], what="a BBO forwarded to the engine")
        st = sim.call(sim.sim.state)["markets"]["spot"]["BTCUSDT"]
        px = int((Decimal(st["best_bid"]) + Decimal(st["best_ask"])) / 2 / Decimal("0.01"))
        oid = c.new_id()
        cmd = np.zeros(1, R.COMMAND)
        cmd[0]["kind"], cmd[0]["venue"], cmd[0]["market"], cmd[0]["account"] = R.SUBMIT_ORDER, 1, 1, 1
        cmd[0]["instrument"], cmd[0]["client_order_id"], cmd[0]["seq"] = SPOT_BTC, oid, 7
        cmd[0]["price"], cmd[0]["qty"], cmd[0]["side"] = px, 900, R.SIDE_BUY
        cmd[0]["order_type"], cmd[0]["tif"] = R.ORD_LIMIT, R.TIF_GTC

        assert gw.publish(cmd[0])
        acc = wait(R.ORDER_ACCEPTED, oid)[0]
        assert acc["status"] == C.ST_ACCEPTED and acc["venue_order_id"] > 0 and acc["ref_seq"] == 7
        sell = {
            "symbol": "BTCUSDT",
            "side": "SELL",
            "type": "LIMIT",
            "timeInForce": "IOC",
            "price": f"{Decimal(px) * Decimal('0.01'):.2f}",
        }
        counterparty.create_order(quantity="0.003", **sell)
        f1 = wait(R.ORDER_FILLED, oid)[0]
        assert f1["status"] == C.ST_PARTIALLY_FILLED and f1["qty"] == 300 and f1["cum_qty"] == 300
        c.stop(signal.SIGKILL)
        counterparty.create_order(quantity="0.003", **sell)  # fills while the connector is dead
        c.start()
        f2 = wait(R.ORDER_FILLED, oid, 2)[1]
        assert f2["cum_qty"] == 600 and f2["status"] == C.ST_PARTIALLY_FILLED
        counterparty.create_order(quantity="0.003", **sell)
        f3 = wait(R.ORDER_FILLED, oid, 3)[2]
        assert f3["cum_qty"] == 900 and f3["status"] == C.ST_FILLED
        poll()
        fills = [e for e in events if int(e["kind"]) == R.ORDER_FILLED and int(e["client_order_id"]) == oid]
        assert len(fills) == 3 and all(int(e["reason"]) == 0 for e in fills)  # none late, duplicate, overfill
        assert c.stop() == 0
    finally:
        if eng.poll() is None:
            eng.terminate()
            try:
                eng.wait(20)
            except subprocess.TimeoutExpired:
                eng.kill()
                eng.wait(5)
        err.close()
        c.close()
        for r in (gw, md_eng, ev_br, ev_gw):
            r.close()
            r.unlink()
        for n in (
            names.engine_commands_to_venue("binance", prefix),
            names.venue_exec_events("binance", prefix),
            names.bridge_commands(prefix),  # the engine creates its bridge input ring too
        ):
            Path(f"/dev/shm/{n}").unlink(missing_ok=True)
