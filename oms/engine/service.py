"""Engine room: the running engine — rings opened, state restored from the event log, njit loop in a thread.

Touches the engine's rings of one shm prefix (oms/shm/names.py: consumes gw.cmd, bridge.cmd,
conn.<venue>.exec, md.engine; produces eng.events.gw, eng.events.bridge, eng.cmd.<venue>), the BBO
table when it exists (read only), and its own write-ahead event log (oms/engine/wal.py). Whichever
side starts first creates a ring; the other attaches.

Start: load the snapshot (if it matches the configured sizes) and replay the event log after it (or
the whole log), then run `loop.run` in a nogil thread, which appends every event to the log before
anything leaves the engine. The main thread keeps room allocated ahead of the log's writer, fsyncs it
every tick, heartbeats the output rings and waits; `stop()` sets meta[M_STOP] and joins the thread; the
program then writes a snapshot (state as of the log's count) so the next start replays only what came
after it.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from oms import log
from oms.engine import loop as LP
from oms.engine import state as S
from oms.engine.core import Engine
from oms.engine.recovery import resend_unsent
from oms.engine.wal import WriteAheadLog
from oms.errors import OmsError
from oms.shm import names
from oms.shm import records as R
from oms.shm.ring import Ring, open_ring
from oms.shm.wait import Backoff

_log = log.get(__name__)


@dataclass
class EngineRings:
    gw: Ring
    bridge: Ring
    md: Ring
    events_gw: Ring
    events_bridge: Ring
    exec: dict[str, Ring] = field(default_factory=dict)
    cmd: dict[str, Ring] = field(default_factory=dict)

    @classmethod
    def open(cls, prefix: str, venues: list[str], capacity: int) -> EngineRings:
        r = cls(
            gw=open_ring(names.gateway_commands(prefix), R.COMMAND, capacity, producer=False),
            bridge=open_ring(names.bridge_commands(prefix), R.COMMAND, capacity, producer=False),
            md=open_ring(names.market_data_to_engine(prefix), R.MARKET, capacity, producer=False),
            events_gw=open_ring(names.engine_events_to_gateway(prefix), R.EVENT, capacity, producer=True),
            events_bridge=open_ring(names.engine_events_to_bridge(prefix), R.EVENT, capacity, producer=True),
        )
        for v in venues:
            r.exec[v] = open_ring(names.venue_exec_events(v, prefix), R.EVENT, capacity, producer=False)
            r.cmd[v] = open_ring(
                names.engine_commands_to_venue(v, prefix), R.COMMAND, capacity, producer=True
            )
        return r

    def all(self) -> list[Ring]:
        return [
            self.gw,
            self.bridge,
            self.md,
            self.events_gw,
            self.events_bridge,
            *self.exec.values(),
            *self.cmd.values(),
        ]

    def close(self) -> None:
        for ring in self.all():
            ring.close()


_SNAP_SKIP = ("evq", "cmdq", "clock", "journal_c", "journal_b", "limits", "ven")
_INST_STATIC = ("mult", "div", "venue", "market", "active", "base_asset", "quote_asset")


def save_snapshot(engine: Engine, path: str | os.PathLike[str], n_events: int) -> None:
    """Write the state (as of `n_events` events of the log) atomically; staging must be empty."""
    s = engine.s
    arrays = {f: getattr(s, f) for f in S.EngineState._fields if f not in _SNAP_SKIP}
    tmp = Path(f"{path}.tmp")
    with open(tmp, "wb") as f:
        np.savez(f, n_events=np.int64(n_events), **arrays)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def load_snapshot(engine: Engine, path: str | os.PathLike[str], log_events: np.ndarray) -> int:
    """Load a snapshot into a configured engine; returns how many log events it covers (-1 = unusable).

    Kept from the configuration, not the snapshot: instrument static data, venue rows and the limit
    table; run-time limit changes are re-applied from the log's RiskLimitChanged events."""
    p = Path(path)
    if not p.exists():
        return -1
    s = engine.s
    try:
        with np.load(p) as z:
            n = int(z["n_events"])
            data = {f: z[f] for f in S.EngineState._fields if f not in _SNAP_SKIP}
    except (OSError, ValueError, KeyError) as e:
        _log.warning("snapshot %s unreadable (%s); replaying the whole event log", p, e)
        return -1
    for f, arr in data.items():
        cur = getattr(s, f)
        if arr.shape != cur.shape or arr.dtype != cur.dtype:
            _log.warning(
                "snapshot %s: %s has shape %s, engine has %s (sizes changed); full replay",
                p,
                f,
                arr.shape,
                cur.shape,
            )
            return -1
    if n > len(log_events):
        _log.warning(
            "snapshot %s is ahead of the event log (%d > %d events); full replay", p, n, len(log_events)
        )
        return -1
    static = {k: s.inst[k].copy() for k in _INST_STATIC}
    for f, arr in data.items():
        getattr(s, f)[...] = arr
    for k, v in static.items():
        s.inst[k] = v
    s.meta[S.M_STOP] = 0
    s.meta[S.M_NEV] = 0
    s.meta[S.M_NCMD] = 0
    limit_events = log_events[log_events["kind"] == R.RISK_LIMIT_CHANGED]
    if len(limit_events):
        engine.replay(limit_events)
    return n


class EngineService:
    def __init__(
        self,
        engine: Engine,
        prefix: str,
        venues: list[str],
        *,
        ring_capacity: int = 1 << 16,
        batch: int = 64,
        event_log: str = "",
        backoff: Backoff | None = None,
    ) -> None:
        from oms import ids

        self.engine = engine
        self.prefix = prefix
        self.venues = venues
        self.batch = batch
        self.rings = EngineRings.open(prefix, venues, ring_capacity)
        for k, v in enumerate(venues):
            engine.s.ven[ids.venue_id(v)]["out"] = k
        self.log = WriteAheadLog(event_log) if event_log else None
        self._attach_log()
        self._synced = 0
        self.backoff = backoff or Backoff()
        self._thread: threading.Thread | None = None
        self.processed = 0
        self.replayed = 0
        self.snapshot_events = 0
        self.resent = 0  # commands the log had and the connector rings lacked at start
        self._log_tail = np.zeros(0, R.EVENT)
        self.error: BaseException | None = None
        self._bbo = LP.no_bbo()
        self._use_bbo = False
        self._bbo_table = None
        self._bbo_retry_at = 0.0
        self._attach_bbo()
        self._io = LP.LoopRings.of(self.rings, self._bbo)

    @property
    def snapshot_path(self) -> Path | None:
        return None if self.log is None else self.log.path.with_name(self.log.path.name + ".snap.npz")

    def restore(self) -> int:
        """Snapshot (if usable) plus the event log's tail, or the whole log, into the fresh state;
        returns the number of events replayed."""
        if self.log is None:
            return 0
        events = self.log.read()
        self._attach_log()
        start = load_snapshot(self.engine, self.snapshot_path, events) if self.snapshot_path else -1
        tail = events[max(start, 0) :]
        if len(tail):
            self.engine.replay(tail)
        self.replayed = len(tail)
        self._log_tail = events[-len(self.engine.s.evq) :].copy()
        self.snapshot_events = max(start, 0)
        _log.info(
            "engine state restored: snapshot covering %d events + %d replayed from %s",
            max(start, 0),
            len(tail),
            self.log.path,
        )
        return len(tail)

    def snapshot(self) -> None:
        """Write a snapshot (call with the loop stopped and the journal drained)."""
        if self.log is None or self.snapshot_path is None or self.alive():
            return
        self.log.sync()
        n = self.log.count
        save_snapshot(self.engine, self.snapshot_path, n)

    def _run(self, max_iters: int = 0) -> None:
        try:
            self.processed += LP.run(
                self.engine.s, self._io, self.backoff.state, self.batch, max_iters, self._use_bbo
            )
        except BaseException as e:  # pragma: no cover - surfaced by stop()/alive()
            self.error = e
            raise

    def start(self) -> None:
        self.engine.s.meta[S.M_STOP] = 0
        self.engine.s.meta[S.M_PAUSE] = 0
        for ring in (self.rings.events_gw, self.rings.events_bridge, *self.rings.cmd.values()):
            ring.register_producer()
        if len(self._log_tail):
            from oms import ids

            out = {ids.venue_id(v): r for v, r in self.rings.cmd.items()}
            self.resent = resend_unsent(self.engine.s, self._log_tail, out)
            self._log_tail = self._log_tail[:0]
        self._run(max_iters=1)  # compiles (or loads) the loop here, so "started" means "serving"
        self._thread = threading.Thread(target=self._run, name="engine-loop", daemon=True)
        self._thread.start()

    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _attach_log(self) -> None:
        """The loop appends to the mapped log itself (journal_c = its header, journal_b = its records);
        without a log it gets a one-record dummy (no journal)."""
        if self.log is not None:
            hdr, recs = self.log.header, self.log.records
        else:
            hdr, recs = np.zeros(64, np.uint64), np.zeros(1, R.EVENT)
        self.engine.s = self.engine.s._replace(journal_c=hdr, journal_b=recs)

    def tick(self) -> None:
        """Main-thread housekeeping: room ahead of the log's writer, the log to disk, heartbeats."""
        if self.log is not None:
            self.log.ensure_room()
            n = self.log.count
            if n != self._synced:
                self.log.sync()
                self._synced = n
        for ring in (self.rings.events_gw, self.rings.events_bridge, *self.rings.cmd.values()):
            ring.heartbeat()

    def _attach_bbo(self) -> bool:
        """Attach the shared BBO table; one whose writer (the connector) died is still the table it
        re-attaches to when it restarts (oms/conn/service.py open_bbo), so stale is accepted."""
        from oms.shm.table import BboTable

        try:
            t = BboTable.attach(names.bbo_table(self.prefix), allow_stale=True, timeout=0.05)
        except OmsError:
            return False
        self._bbo_table = t
        self._bbo = (t.ctrl, t.rows, np.zeros(1, R.BBO))
        self._use_bbo = True
        return True

    def _late_bbo(self) -> None:
        """A BBO table that appeared after the engine started: pause the loop between iterations,
        hand it the table, resume (checked once a second)."""
        now = time.monotonic()
        if self._use_bbo or now < self._bbo_retry_at or not self.alive():
            return
        self._bbo_retry_at = now + 1.0
        if not self._attach_bbo():
            return
        self.engine.s.meta[S.M_PAUSE] = 1  # unlike M_STOP, never cuts a blocking push short
        assert self._thread is not None
        while self._thread.is_alive():
            self.tick()
            self._thread.join(0.01)
        self._io = LP.LoopRings.of(self.rings, self._bbo)
        self.engine.s.meta[S.M_PAUSE] = 0
        self._thread = threading.Thread(target=self._run, name="engine-loop", daemon=True)
        self._thread.start()
        _log.info("BBO table attached after start: reference prices from it from now on")

    def serve(self, stop: threading.Event, period_s: float = 0.01) -> None:
        while not stop.wait(period_s):
            self.tick()
            self._late_bbo()
            if not self.alive():
                raise OmsError(f"engine loop thread ended unexpectedly: {self.error!r}")

    def stop(self, timeout: float = 10.0) -> None:
        self.engine.s.meta[S.M_STOP] = 1
        if self._thread is not None:
            deadline = time.monotonic() + timeout
            while self._thread.is_alive() and time.monotonic() < deadline:
                if self.log is not None:
                    self.log.ensure_room()  # a loop waiting for room in the log can finish
                self._thread.join(0.01)

    def close(self) -> None:
        if self.log is not None:
            log_ = self.log
            self.log = None
            self._attach_log()  # nothing may point into the mapping once it is gone
            log_.close()
        if self._bbo_table is not None:
            self._bbo_table.close()
        self.rings.close()
