"""A trading slice on real parts for gateway tests that need a venue: the gRPC gateway (TLS, tokens), the
engine process, the Binance connector process and the Binance simulator, on one set of rings.

The test plays the marketdata program (a thread forwards the connector's md ring into the engine's md
ring, which gives the engine its BBO for risk and for emulated triggers) and drains the engine's bridge
ring (kept in `events` with the local time each was read). A counterparty trades at the simulator with
python-binance, exactly as another market participant would.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np

from oms.shm import names
from oms.shm import records as R
from oms.shm.ring import open_ring
from oms.venues.instruments import Instrument, InstrumentRegistry
from oms.venues.sim.binance import SimThread, point_python_binance
from tests.integration.conn.conftest import (
    API_KEY,
    API_SECRET,
    CP_KEY,
    CP_SECRET,
    Connector,
    eventually,
)
from tests.integration.gateway.conftest import ROOT, Stack, close_stack, make_stack

ENGINE_CONFIG = """
[risk]
accounts = [1]
max_order_qty = 0                 # limits under test elsewhere; explicit here
max_order_notional = "0"
max_position_qty = 0
max_position_notional = "0"
price_deviation_bps = 500
order_rate_per_account = 0
order_rate_per_venue = 0
daily_loss_reduce = "0"
daily_loss_halt = "0"
event_log = ""
"""

_INSTRUMENTS = [  # same order as the connector's TOML (ids 1..4)
    ("spot", "BTCUSDT", "BTC", "0.01", "0.00001"),
    ("spot", "ETHUSDT", "ETH", "0.01", "0.0001"),
    ("usdm", "BTCUSDT", "BTC", "0.1", "0.001"),
    ("usdm", "ETHUSDT", "ETH", "0.01", "0.001"),
]


@dataclass
class VenueStack:
    sim: SimThread
    gw: Stack
    conn: Connector
    engine: subprocess.Popen[str]
    workdir: Path
    prefix: str
    events: list[tuple[float, np.void]] = field(default_factory=list)
    bbo: list[tuple[float, np.void]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def of(self, coid: int, kind: int | None = None) -> list[np.void]:
        with self._lock:
            return [
                e
                for _, e in self.events
                if int(e["client_order_id"]) == coid and (kind is None or int(e["kind"]) == kind)
            ]

    def wait(self, coid: int, kind: int, n: int = 1, timeout: float = 20.0) -> list[np.void]:
        return eventually(
            lambda: (lambda ev: ev if len(ev) >= n else None)(self.of(coid, kind)),
            timeout,
            what=f"{n}x {R.KIND_NAMES[kind]} for order {coid}",
        )

    def book(self, market: str = "spot", symbol: str = "BTCUSDT") -> tuple[Decimal, Decimal]:
        st = self.sim.call(self.sim.sim.state)["markets"][market][symbol]
        return Decimal(st["best_bid"]), Decimal(st["best_ask"])

    def venue_client(self) -> Any:
        from binance.client import Client

        return Client(API_KEY, API_SECRET, ping=False)

    def counterparty(self) -> Any:
        from binance.client import Client

        return Client(CP_KEY, CP_SECRET, ping=False)


def _forward(vs: VenueStack, md_eng: Any, ev_br: Any) -> None:
    mbuf = np.zeros(4096, R.MARKET)
    ebuf = np.zeros(512, R.EVENT)
    while not vs._stop.is_set():
        busy = False
        while n := vs.conn.md.consume(mbuf):
            busy = True
            now = time.monotonic()
            i = 0
            while i < n:
                i += md_eng.publish_batch(mbuf[i:n])
            with vs._lock:
                vs.bbo.extend((now, r.copy()) for r in mbuf[:n][mbuf[:n]["kind"] == R.MD_BBO])
        while n := ev_br.consume(ebuf):
            busy = True
            now = time.monotonic()
            with vs._lock:
                vs.events.extend((now, e.copy()) for e in ebuf[:n])
        if not busy:
            time.sleep(0.002)


def start(tmp: Path, dev_certs: Any, nats_url: str = "") -> Iterator[VenueStack]:
    """Everything up, yielded, then stopped and its shared memory removed. With `nats_url` the engine
    publishes its position feed (positions.*) there."""
    prefix = "vs" + uuid.uuid4().hex[:8]
    reg = InstrumentRegistry(tmp / "instruments.json")
    reg.load(
        Instrument(
            0,
            "binance",
            m,
            s,
            f"{b}/USDT",
            b,
            "USDT",
            "USDT" if m == "usdm" else "",
            Decimal(t),
            Decimal(lot),
        )
        for m, s, b, t, lot in _INSTRUMENTS
    )
    sim = SimThread(seed=11, flow=False).start()
    sim.call(sim.sim.add_api_key, API_KEY, API_SECRET)
    sim.call(sim.sim.add_api_key, CP_KEY, CP_SECRET)
    restore = point_python_binance(sim.url, sim.ws_url)
    cap = 1 << 12
    md_eng = open_ring(names.market_data_to_engine(prefix), R.MARKET, cap, producer=True)
    ev_br = open_ring(names.engine_events_to_bridge(prefix), R.EVENT, cap, producer=False)
    gw = make_stack(tmp, dev_certs, engine=False, registry=reg, prefix=prefix)
    conn = Connector(sim, tmp, prefix, engine_rings=False)
    (tmp / "oms.toml").write_text(ENGINE_CONFIG)
    err = open(tmp / "engine.err", "w")  # noqa: SIM115 - handed to the child
    eng = subprocess.Popen(
        [sys.executable, "-m", "oms.procs.engine", "--config", str(tmp / "oms.toml"), "--prefix", prefix,
         "--venues", "binance", "--instruments", str(tmp / "instruments.toml"), "--nats-url", nats_url],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=err, text=True, env=dict(os.environ, OMS_NO_SPIN="1"),
    )  # fmt: skip
    err.close()
    vs = VenueStack(sim, gw, conn, eng, tmp, prefix)
    try:
        assert eng.stdout is not None
        line = eng.stdout.readline()
        assert "ENGINE READY" in line, (tmp / "engine.err").read_text()[-3000:]
        conn.start()
        vs._thread = threading.Thread(target=_forward, args=(vs, md_eng, ev_br), daemon=True)
        vs._thread.start()
        eventually(lambda: len(vs.bbo) > 0, 30, what="a BBO from the connector forwarded to the engine")
        yield vs
    finally:
        vs._stop.set()
        if vs._thread is not None:
            vs._thread.join(5)
        if eng.poll() is None:
            eng.terminate()
            try:
                eng.wait(20)
            except subprocess.TimeoutExpired:
                eng.kill()
                eng.wait(5)
        conn.close()
        close_stack(gw)
        for r in (md_eng, ev_br):
            r.close()
            r.unlink()
        for n in (
            names.engine_commands_to_venue("binance", prefix),
            names.venue_exec_events("binance", prefix),
            names.bridge_commands(prefix),
        ):
            Path(f"/dev/shm/{n}").unlink(missing_ok=True)
        restore()
        sim.stop()
