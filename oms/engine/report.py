"""Engine room: what the engine tells the monitor — positions, PnL and the trading state.

Touches nothing but a read of the engine's state arrays (racy by design: the njit loop keeps writing;
a monitor snapshot may mix two iterations, which is fine for a dashboard and never feeds back) and the
transport it is given. `snapshot()` builds the monitor's `PositionReport`s in decimal units;
`EngineReporter` publishes a `StatsFrame` every `interval_s` on NATS `<prefix>.engine` from its own
thread and event loop, so the engine's threads never wait on the network.
"""

from __future__ import annotations

import asyncio
import threading
import time
from decimal import Decimal

import numpy as np

from oms import log
from oms.engine import constants as C
from oms.engine.core import Engine
from oms.monitor.frames import PositionReport, StatsFrame, encode
from oms.monitor.state import exchange_label
from oms.shm.records import FEE_SCALE

_log = log.get(__name__)


def snapshot(engine: Engine) -> tuple[list[PositionReport], str]:
    """Open positions (qty ≠ 0 or realised ≠ 0 today) and the worst trading state over accounts."""
    s = engine.s
    out: list[PositionReport] = []
    scale = float(FEE_SCALE)
    for i, spec in engine.specs.items():
        col = s.pos[:, i]
        for a in np.nonzero((col["qty"] != 0) | (col["realised"] != 0))[0]:
            p = col[a]
            qty = int(p["qty"])
            lot = spec.lot_size * spec.contract_size
            avg = Decimal(int(p["cost"])) / abs(qty) * spec.tick_size if qty else Decimal(0)
            out.append(
                PositionReport(
                    exchange=exchange_label(spec.venue, spec.market),
                    symbol=spec.symbol or f"{spec.base}{spec.quote}",
                    qty=float(Decimal(qty) * lot),
                    avg_price=float(avg),
                    realized_pnl=int(p["realised"]) / scale,
                    unrealized_pnl=int(p["unrealised"]) / scale,
                )
            )
    states = [int(x) for x in s.acct["state"][1:] if int(x)]
    worst = max(states, default=C.TS_ACTIVE)
    return out, C.TRADING_STATE_NAMES.get(worst, "ACTIVE").lower()


class EngineReporter:
    """Publishes the engine's snapshot to the monitor over NATS from a background thread."""

    def __init__(self, engine: Engine, nats_url: str, subject_prefix: str = "monitor.stats",
                 interval_s: float = 1.0) -> None:  # fmt: skip
        self.engine = engine
        self.nats_url = nats_url
        self.subject = f"{subject_prefix}.engine"
        self.interval_s = interval_s
        self.sent = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._main, name="engine-report", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def _main(self) -> None:
        try:
            asyncio.run(self._run())
        except Exception as e:  # reporting must never take the engine down
            _log.warning("engine monitor reporter stopped: %s", e)

    async def _run(self) -> None:
        import nats

        nc = await nats.connect(self.nats_url, max_reconnect_attempts=-1, connect_timeout=2)
        try:
            while not self._stop.is_set():
                positions, state = snapshot(self.engine)
                frame = StatsFrame(program="engine", ts_ns=time.time_ns(), positions=positions,
                                   risk_state=state)  # fmt: skip
                await nc.publish(self.subject, encode(frame))
                self.sent += 1
                await asyncio.sleep(self.interval_s)
        finally:
            await nc.drain()
