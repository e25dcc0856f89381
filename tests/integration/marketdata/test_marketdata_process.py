"""A real `python -m oms.procs.marketdata` process between a connector's md ring and the engine's:
BBO/trade/mark records are forwarded to the engine ring in order, deltas are not, the BBO table is
left to the connectors (marketdata never creates it), and SIGTERM stops it cleanly."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid

import numpy as np

from oms.shm import names
from oms.shm import records as R
from oms.shm.ring import open_ring
from oms.testing import eventually

INSTRUMENTS = """
[[instrument]]
id = 1
venue = "binance"
market = "spot"
symbol = "BTCUSDT"
base = "BTC"
quote = "USDT"
tick_size = "0.01"
lot_size = "0.00001"
"""


def test_marketdata_process_forwards_and_publishes_bbo(tmp_path) -> None:
    prefix = f"t{uuid.uuid4().hex[:8]}"
    (tmp_path / "instruments.toml").write_text(INSTRUMENTS)
    (tmp_path / "oms.toml").write_text("")
    src = open_ring(names.venue_market_data("binance", prefix), R.MARKET, 1024, producer=True)
    env = dict(os.environ, OMS_NO_SPIN="1")
    p = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "oms.procs.marketdata",
            "--config",
            str(tmp_path / "oms.toml"),
            "--prefix",
            prefix,
            "--instruments",
            str(tmp_path / "instruments.toml"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
        text=True,
    )
    try:
        assert p.stdout is not None
        line = ""
        for line in p.stdout:
            if "MARKETDATA READY" in line or line.startswith("marketdata:"):
                break
        assert "READY" in line, line
        eng = open_ring(names.market_data_to_engine(prefix), R.MARKET, 1024, producer=False)
        recs = np.zeros(4, R.MARKET)
        recs["instrument"] = 1
        recs["kind"] = [R.MD_DELTA, R.MD_BBO, R.MD_TRADE, R.MD_MARK]
        recs["side"] = [1, 0, 1, 0]
        recs["price"] = [10000, 10001, 10002, 10003]
        recs["qty"] = [7, 8, 9, 0]
        recs[1]["ask_price"], recs[1]["ask_qty"] = 10005, 6
        recs["ts_ns"] = [1, 2, 3, 4]
        assert src.publish_batch(recs) == 4
        out = np.zeros(8, R.MARKET)
        got: list[np.void] = []

        def drained() -> bool:
            n = eng.consume(out)
            got.extend(out[:n].copy())
            return len(got) >= 3

        eventually(drained, timeout=30)
        assert [int(r["kind"]) for r in got] == [R.MD_BBO, R.MD_TRADE, R.MD_MARK]
        assert (int(got[0]["price"]), int(got[0]["ask_price"]), int(got[2]["price"])) == (10001, 10005, 10003)
        assert not os.path.exists(f"/dev/shm/{names.bbo_table(prefix)}")
        eng.close()
        p.send_signal(signal.SIGTERM)
        assert p.wait(20) == 0
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        src.close()
        for n in (
            names.venue_market_data("binance", prefix),
            names.market_data_to_engine(prefix),
            names.bbo_table(prefix),
        ):
            path = f"/dev/shm/{n}"
            if os.path.exists(path):
                os.unlink(path)
