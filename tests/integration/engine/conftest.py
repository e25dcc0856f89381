"""Engine integration fixtures: a real `python -m oms.procs.engine` process on real rings (unique prefix)."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from oms.shm import names
from oms.shm import records as R
from oms.shm.ring import Ring, open_ring
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

CONFIG = """
[risk]
accounts = [1, 2]
price_deviation_bps = 500
daily_loss_halt = "{halt}"
max_order_qty = 100000
[risk.venue.binance]
capabilities = ["modify"]  # stops are emulated by the engine in this test (spot has them natively)
"""


class EngineProc:
    def __init__(self, tmp: Path, prefix: str, halt: str = "0") -> None:
        self.tmp = tmp
        self.prefix = prefix
        (tmp / "instruments.toml").write_text(INSTRUMENTS)
        (tmp / "oms.toml").write_text(CONFIG.format(halt=halt))
        self.event_log = tmp / "events.bin"
        self.proc: subprocess.Popen[str] | None = None
        self.err_path = tmp / "engine.err"
        self.err = open(self.err_path, "a")  # noqa: SIM115 - closed in close()
        cap = 1 << 12
        # the test plays gateway, connector and marketdata: it owns the other ends of the rings
        self.gw = open_ring(names.gateway_commands(prefix), R.COMMAND, cap, producer=True)
        self.md = open_ring(names.market_data_to_engine(prefix), R.MARKET, cap, producer=True)
        self.exec = open_ring(names.venue_exec_events("binance", prefix), R.EVENT, cap, producer=True)
        self.cmd = open_ring(
            names.engine_commands_to_venue("binance", prefix), R.COMMAND, cap, producer=False
        )
        self.ev_gw = open_ring(names.engine_events_to_gateway(prefix), R.EVENT, cap, producer=False)
        self.ev_br = open_ring(names.engine_events_to_bridge(prefix), R.EVENT, cap, producer=False)
        self.events: list[np.void] = []
        self.commands: list[np.void] = []

    def start(self) -> None:
        env = dict(os.environ, OMS_NO_SPIN="1")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "oms.procs.engine",
                "--config",
                str(self.tmp / "oms.toml"),
                "--prefix",
                self.prefix,
                "--venues",
                "binance",
                "--instruments",
                str(self.tmp / "instruments.toml"),
                "--event-log",
                str(self.event_log),
            ],
            stdout=subprocess.PIPE,
            stderr=self.err,
            text=True,
            env=env,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if "ENGINE READY" not in line:
            self.proc.wait(timeout=20)
            raise AssertionError(f"engine did not start: {line!r}\n{self.err_path.read_text()[-3000:]}")

    def stop(self) -> int:
        if self.proc is None:
            return 0
        self.proc.terminate()
        try:
            rc = self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        self.proc = None
        return rc

    def send(self, ring: Ring, **fields: int) -> None:
        rec = np.zeros(1, ring.dtype)
        for k, v in fields.items():
            rec[0][k] = v
        assert ring.publish(rec[0])

    def poll(self) -> None:
        buf = np.zeros(256, R.EVENT)
        n = self.ev_br.consume(buf)
        self.events.extend(buf[:n].copy())
        self.ev_gw.consume(buf)
        cbuf = np.zeros(256, R.COMMAND)
        n = self.cmd.consume(cbuf)
        self.commands.extend(cbuf[:n].copy())

    def wait_event(self, kind: int, coid: int = 0, timeout: float = 10.0) -> np.void:
        def find() -> np.void | None:
            self.poll()
            for e in self.events:
                if e["kind"] == kind and (coid == 0 or e["client_order_id"] == coid):
                    return e
            return None

        return eventually(find, timeout, message=f"event {R.KIND_NAMES[kind]} for {coid}")

    def wait_command(self, kind: int, coid: int, timeout: float = 10.0) -> np.void:
        def find() -> np.void | None:
            self.poll()
            for c in self.commands:
                if c["kind"] == kind and c["client_order_id"] == coid:
                    return c
            return None

        return eventually(find, timeout, message=f"command {R.KIND_NAMES[kind]} for {coid}")

    def close(self) -> None:
        self.stop()
        self.err.close()
        for r in (self.gw, self.md, self.exec, self.cmd, self.ev_gw, self.ev_br):
            r.unlink()
            r.close()


@pytest.fixture
def engine_proc(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[EngineProc]:
    halt = getattr(request, "param", "0")
    ep = EngineProc(tmp_path, f"t{uuid.uuid4().hex[:8]}", halt=halt)
    try:
        yield ep
    finally:
        ep.close()
