"""Connector room fixtures: the Binance simulator, a real keystore, and a real connector process.

The test plays the engine: it creates the command ring (producer) and consumes the exec and market
data rings; the connector runs as `python -m oms.procs.connector --venue binance` in a subprocess
aimed at the simulator through the config's environment overrides, with its API key in a real
LocalKeyStore. Nothing is mocked.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from oms.secrets.local import LocalKeyStore
from oms.secrets.locked import LockedBuffer
from oms.secrets.model import new_metadata
from oms.shm import names
from oms.shm import records as R
from oms.shm.ring import Ring
from oms.venues.sim.binance import SimThread, point_python_binance

ROOT = Path(__file__).resolve().parents[3]
API_KEY = "conn-test-key"
API_SECRET = "conn-test-secret-0123456789abcdef"
CP_KEY = "conn-counterparty"
CP_SECRET = "conn-counterparty-secret-0123456789"
PASS = "conn-test-passphrase"

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

[[instrument]]
id = 2
venue = "binance"
market = "spot"
symbol = "ETHUSDT"
base = "ETH"
quote = "USDT"
tick_size = "0.01"
lot_size = "0.0001"

[[instrument]]
id = 3
venue = "binance"
market = "usdm"
symbol = "BTCUSDT"
base = "BTC"
quote = "USDT"
tick_size = "0.1"
lot_size = "0.001"

[[instrument]]
id = 4
venue = "binance"
market = "usdm"
symbol = "ETHUSDT"
base = "ETH"
quote = "USDT"
tick_size = "0.01"
lot_size = "0.001"
"""
SPOT_BTC, SPOT_ETH, USDM_BTC, USDM_ETH = 1, 2, 3, 4


def eventually(cond: Callable[[], Any], timeout: float = 20.0, interval: float = 0.02, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or cond}")
        time.sleep(interval)


@pytest.fixture(scope="module")
def sim() -> Iterator[SimThread]:
    with SimThread(seed=11, flow=False) as st:
        st.call(st.sim.add_api_key, API_KEY, API_SECRET)
        st.call(st.sim.add_api_key, CP_KEY, CP_SECRET)
        restore = point_python_binance(st.url, st.ws_url)
        try:
            yield st
        finally:
            restore()


@pytest.fixture(scope="module")
def counterparty(sim: SimThread):
    """A second trader at the simulator (python-binance sync Client) who fills our orders."""
    from binance.client import Client

    c = Client(CP_KEY, CP_SECRET, ping=False)
    yield c
    c.close_connection()


class Connector:
    """One connector process plus the test's ends of its rings."""

    def __init__(
        self,
        sim: SimThread,
        workdir: Path,
        prefix: str,
        extra_env: dict[str, str] | None = None,
        key: tuple[str, str] = (API_KEY, API_SECRET),
        engine_rings: bool = True,
        md_capacity: int = 1 << 16,
    ) -> None:
        self.sim, self.workdir, self.prefix = sim, workdir, prefix
        self.key = key
        self.engine_rings = engine_rings  # False: a real engine owns the other ends of cmd/exec
        self.extra_env = extra_env or {}
        if engine_rings:
            self.cmd = Ring.create(
                names.engine_commands_to_venue("binance", prefix), R.COMMAND, 1024, producer=True
            )
            self.exec = Ring.create(names.venue_exec_events("binance", prefix), R.EVENT, 4096, consumer=True)
        self.md = Ring.create(
            names.venue_market_data("binance", prefix), R.MARKET, md_capacity, consumer=True
        )
        self.events: list[np.void] = []
        self.market: list[np.void] = []
        self.proc: subprocess.Popen[str] | None = None
        self.log_path = workdir / f"connector-{prefix}.log"
        self._next_id = int(time.time() * 1000) % 10_000_000 * 1000
        (workdir / "instruments.toml").write_text(INSTRUMENTS)

    def env(self) -> dict[str, str]:
        s = self.sim
        env = dict(os.environ)
        env.update(
            {
                "OMS_EXCHANGES__BINANCE_SPOT__REST_URL": f'"{s.url}"',
                "OMS_EXCHANGES__BINANCE_SPOT__WS_URL": f'"{s.ws_url}/ws"',
                "OMS_EXCHANGES__BINANCE_SPOT__SYMBOLS": '["BTCUSDT", "ETHUSDT"]',
                "OMS_EXCHANGES__BINANCE_USDM__REST_URL": f'"{s.url}"',
                "OMS_EXCHANGES__BINANCE_USDM__WS_URL": f'"{s.ws_url}/fstream/ws"',
                "OMS_EXCHANGES__BINANCE_USDM__SYMBOLS": '["BTCUSDT", "ETHUSDT"]',
                "OMS_SECRETS__BACKEND": '"local"',
                "OMS_SECRETS__KEYSTORE_PATH": f'"{self.workdir / "ks.json"}"',
                "OMS_SECRETS__SCRYPT_N": "16384",
                "OMS_SECRETS__WATCH_INTERVAL_S": "0.2",
                "OMS_KEYSTORE_PASSPHRASE": PASS,
                "OMS_CONNECTOR__JOURNAL_DIR": f'"{self.workdir}"',
                "OMS_CONNECTOR__STATS_PATH": f'"{self.workdir / "stats.json"}"',
                "OMS_CONNECTOR__STATS_INTERVAL_S": "0.2",
                "OMS_CONNECTOR__RECONNECT_CAP_S": "1.0",
                "OMS_CONNECTOR__DEPTH_LEVELS": "100",
                "OMS_CONNECTOR__RECV_WINDOW_MS": "1000",
                "PYTHONUNBUFFERED": "1",
            }
        )
        env.update(self.extra_env)
        return env

    def start(self, wait_ready: bool = True) -> Connector:
        ks = LocalKeyStore(self.workdir / "ks.json", LockedBuffer.from_str(PASS), scrypt_n=2**14)
        if "binance_spot" not in ks.names():
            ks.put(
                "binance_spot",
                self.key[0],
                LockedBuffer.from_str(self.key[1]),
                new_metadata(permissions=("SPOT", "FUTURES"), rotation_days=30),
            )
        ks.close()
        log = open(self.log_path, "a")  # noqa: SIM115 - handed to the child
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "oms.procs.connector",
                "--venue",
                "binance",
                "--prefix",
                self.prefix,
                "--config",
                str(ROOT / "configs" / "oms.toml"),
                "--instruments",
                str(self.workdir / "instruments.toml"),
            ],
            cwd=str(self.workdir),
            env=self.env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
        )
        log.close()
        if wait_ready:
            self.wait_up()
        return self

    def logs(self) -> str:
        return self.log_path.read_text() if self.log_path.exists() else ""

    def stats(self) -> dict[str, Any]:
        try:
            return json.loads((self.workdir / "stats.json").read_text())
        except (OSError, ValueError):
            return {}

    def wait_up(self, timeout: float = 60.0) -> None:
        def up() -> bool:
            if self.proc is not None and self.proc.poll() is not None:
                raise AssertionError(f"connector exited {self.proc.returncode}:\n{self.logs()[-4000:]}")
            s = self.stats()
            return (
                bool(s)
                and s.get("pid") == self.proc.pid
                and s["health"]["state"] == "UP"
                and s["reconcile"]["runs"] >= max(1, len(s["user_streams"]))
            )

        eventually(up, timeout, 0.05, "connector health UP and reconciled")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20.0) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
            raise AssertionError(
                f"connector did not stop within {timeout}s:\n{self.logs()[-3000:]}"
            ) from None

    # ---- engine side ------------------------------------------------------------------------------
    def new_id(self) -> int:
        self._next_id += 1
        return self._next_id

    def send(self, *cmds: np.ndarray) -> None:
        arr = np.concatenate(cmds) if len(cmds) > 1 else cmds[0]
        assert self.cmd.publish_batch(arr) == len(arr)

    def pump(self) -> None:
        out = np.zeros(256, R.EVENT)
        while n := self.exec.consume(out):
            self.events.extend(out[:n].copy())
        mout = np.zeros(4096, R.MARKET)
        while n := self.md.consume(mout):
            self.market.extend(mout[:n].copy())

    def of(self, oms_id: int, kind: int | None = None) -> list[np.void]:
        self.pump()
        return [
            e
            for e in self.events
            if int(e["client_order_id"]) == oms_id and (kind is None or int(e["kind"]) == kind)
        ]

    def wait_event(self, oms_id: int, kind: int, n: int = 1, timeout: float = 20.0) -> list[np.void]:
        return eventually(
            lambda: (lambda ev: ev if len(ev) >= n else None)(self.of(oms_id, kind)),
            timeout,
            what=f"{n}x {R.KIND_NAMES[kind]} for order {oms_id}",
        )

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)
        for r in (self.cmd, self.exec, self.md) if self.engine_rings else (self.md,):
            r.close()
            r.unlink()
        Path(f"/dev/shm/{names.bbo_table(self.prefix)}").unlink(missing_ok=True)
        unlink_budgets(self.key[0])


def unlink_budgets(api_key: str) -> None:
    """Remove the shared rate-budget files a connector made for this key (one per market)."""
    for market in ("spot", "usdm"):
        digest = hashlib.sha256(f"binance_{market}:{api_key}".encode()).hexdigest()[:16]
        Path(f"/dev/shm/oms.rl.{digest}").unlink(missing_ok=True)


def command(
    kind: int,
    oms_id: int,
    instrument: int,
    *,
    side: int = R.SIDE_BUY,
    price: int = 0,
    qty: int = 0,
    order_type: int = R.ORD_LIMIT,
    tif: int = R.TIF_GTC,
    flags: int = 0,
    trigger: int = 0,
) -> np.ndarray:
    c = np.zeros(1, R.COMMAND)
    c["kind"] = kind
    c["venue"] = 1
    c["market"] = 1 if instrument in (SPOT_BTC, SPOT_ETH) else 2
    c["account"] = 1
    c["instrument"] = instrument
    c["client_order_id"] = oms_id
    c["ref_id"] = oms_id if kind != R.SUBMIT_ORDER else 0
    c["price"] = price
    c["qty"] = qty
    c["trigger_price"] = trigger
    c["side"] = side
    c["order_type"] = order_type
    c["tif"] = tif
    c["flags"] = flags
    c["seq"] = oms_id
    c["ts_ns"] = time.time_ns()
    return c


@pytest.fixture
def connector(sim: SimThread, tmp_path: Path) -> Iterator[Connector]:
    c = Connector(sim, tmp_path, f"tc{uuid.uuid4().hex[:8]}")
    try:
        yield c
    finally:
        c.close()
