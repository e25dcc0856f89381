"""Engine room: what the engine tells the monitor — positions, PnL and the trading state.

Touches nothing but a read of the engine's state arrays (racy by design: the njit loop keeps writing;
a monitor snapshot may mix two iterations, which is fine for a dashboard and never feeds back) and the
transport it is given. `snapshot()` builds the monitor's `PositionReport`s in decimal units;
`EngineReporter` publishes a `StatsFrame` every `interval_s` on NATS `<prefix>.engine` from its own
thread and event loop, so the engine's threads never wait on the network.

`PositionFeed` publishes a `PositionChanged` (JSON) on `positions.{exchange}.{market}.{symbol}` for every
position that changed (its fill count moved) since the last look, every `interval_s` (default 50 ms),
from its own thread; the per-exchange `POSITIONS_<EXCHANGE>` JetStream stream stores them. Fills that
land within one interval are reported together: `fills` is the position's fill count, so a reader sees
how many fills one report covers.
"""

from __future__ import annotations

import asyncio
import threading
import time
from decimal import Decimal

import msgspec
import numpy as np

from oms import ids, log
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

        from oms.credentials import nats_options

        nc = await nats.connect(
            self.nats_url.split(","),
            max_reconnect_attempts=-1,
            connect_timeout=2,
            **nats_options(self.nats_url),
        )
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


class PositionChanged(msgspec.Struct, kw_only=True):
    """One position after a change, in decimal units (strings), as published on `positions.*`."""

    account: int
    exchange: str  # venue name (binance)
    market: str  # spot, usdm, ...
    symbol: str  # the venue's symbol
    instrument: int
    qty: str  # signed base (or contract) quantity
    avg_price: str
    realized_pnl: str  # quote units
    fees: str
    fills: int  # fills applied to this position so far (several may share one report)
    ts_ns: int


_enc = msgspec.json.Encoder()


def position_changes(engine: Engine, seen: np.ndarray) -> list[tuple[str, PositionChanged]]:
    """(subject, report) for every position whose fill count differs from `seen` (updated in place)."""
    s = engine.s
    nf = s.pos["n_fills"]
    out: list[tuple[str, PositionChanged]] = []
    now = time.time_ns()
    for a, i in zip(*np.nonzero(nf != seen), strict=True):
        spec = engine.specs.get(int(i))
        seen[a, i] = nf[a, i]
        if spec is None:
            continue
        p = s.pos[a, i]
        qty = int(p["qty"])
        lot = spec.lot_size * spec.contract_size
        avg = Decimal(int(p["cost"])) / abs(qty) * spec.tick_size if qty else Decimal(0)
        ex, mk = ids.VENUE_NAMES.get(spec.venue, "all"), ids.MARKET_NAMES.get(spec.market, "all")
        sym = (spec.symbol or f"{spec.base}{spec.quote}").upper().replace("/", "")
        rep = PositionChanged(
            account=int(a), exchange=ex, market=mk, symbol=sym, instrument=int(i),
            qty=f"{(Decimal(qty) * lot).normalize():f}", avg_price=f"{avg.normalize():f}",
            realized_pnl=f"{Decimal(int(p['realised'])) / FEE_SCALE:f}",
            fees=f"{Decimal(int(p['fees'])) / FEE_SCALE:f}", fills=int(nf[a, i]), ts_ns=now,
        )  # fmt: skip
        out.append((f"positions.{ex}.{mk}.{sym}", rep))
    return out


class PositionFeed:
    """Publishes `PositionChanged` on `positions.*` from a background thread (never blocks the engine)."""

    def __init__(self, engine: Engine, nats_url: str, interval_s: float = 0.05) -> None:
        self.engine = engine
        self.nats_url = nats_url
        self.interval_s = interval_s
        self.sent = 0
        self.seen = engine.s.pos["n_fills"].copy()  # positions replayed at start are not news
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._main, name="engine-positions", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def _main(self) -> None:
        try:
            asyncio.run(self._run())
        except Exception as e:  # reporting must never take the engine down
            _log.warning("engine position feed stopped: %s", e)

    async def _run(self) -> None:
        import nats

        from oms.credentials import nats_options

        nc = await nats.connect(
            self.nats_url, max_reconnect_attempts=-1, connect_timeout=2, **nats_options(self.nats_url)
        )
        try:
            while not self._stop.is_set():
                for subject, rep in position_changes(self.engine, self.seen):
                    await nc.publish(subject, _enc.encode(rep))
                    self.sent += 1
                await asyncio.sleep(self.interval_s)
        finally:
            await nc.drain()
