"""Backtest room: replay a tape through the real engine kernels, a strategy and the simulated venue.

Touches only its own Engine (oms.engine.core.Engine, clock off), SimVenue and strategy. One virtual
clock (the tape's local receive time `ts_ns`, else `ts_venue_ns`, made non-decreasing). Flow:

    tape record ─► engine.run_market (BBO/marks → risk reference, conditional triggers)
                ─► venue.on_market (resting orders fill when the tape crosses them)
                ─► strategy.on_market → COMMANDs ─(strategy leg)─► engine.run_commands
    engine venue-bound COMMANDs ─(to_venue leg)─► venue.on_command
    venue EVENTs ─(from_venue leg)─► engine.run_exec;  engine EVENTs ─► strategy.on_event (no delay)

Messages in flight wait in one heap ordered by (arrival time, send order); each leg is FIFO (an
arrival is never earlier than the previous arrival on that leg, as on one TCP connection). Before a
tape record at time t is applied, everything arriving at or before t is delivered, so with zero
latency an order meets the very record that caused it. Engine API relied on: Engine(clock=False,...),
now_ns setter, add_instrument, add_account, apply_settings, set_limit, run_market, run_commands,
run_exec (→ Output.events/.commands), position(), status(), counters(), and read-only state arrays
s.pos, s.inst, s.limits (fastpath.py, report.py).
"""

from __future__ import annotations

import heapq
import itertools
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

from oms import log as _log
from oms.backtest import fastpath
from oms.backtest import latency as L
from oms.backtest.report import Recorder, Report
from oms.backtest.simvenue import SimVenue
from oms.backtest.tape import Tape, TapeInstrument
from oms.engine.core import Engine
from oms.errors import ConfigError
from oms.shm import records as R

K_TO_ENGINE, K_TO_VENUE, K_FROM_VENUE = 0, 1, 2
log = _log.get(__name__)


class Context:
    """What a strategy may use: ids, builders for COMMAND records, read-only engine state."""

    def __init__(self, engine: Engine, account: int, instruments: dict[int, TapeInstrument]) -> None:
        self._e = engine
        self.account = account
        self.instruments = instruments
        self.instrument = min(instruments) if instruments else 1
        self._ids = itertools.count(1)
        self._seq = itertools.count(1)
        self.now = 0  # the virtual time, set by the runner before each strategy call

    @property
    def now_ns(self) -> int:
        return self.now

    def next_id(self) -> int:
        return next(self._ids)

    def _cmd(self, kind: int, instrument: int | None, **f: int) -> np.void:
        c = np.zeros(1, R.COMMAND)[0]
        c["kind"] = kind
        c["account"] = self.account
        c["instrument"] = self.instrument if instrument is None else instrument
        c["seq"] = next(self._seq)
        c["ts_ns"] = self.now
        for k, v in f.items():
            c[k] = v
        return c

    def limit(self, side: int, qty: int, price: int, *, tif: int = R.TIF_GTC, flags: int = 0,
              instrument: int | None = None, coid: int = 0) -> np.void:  # fmt: skip
        return self._cmd(R.SUBMIT_ORDER, instrument, client_order_id=coid or self.next_id(), side=side,
                         qty=qty, price=price, order_type=R.ORD_LIMIT, tif=tif, flags=flags)  # fmt: skip

    def market(self, side: int, qty: int, *, instrument: int | None = None, coid: int = 0) -> np.void:
        return self._cmd(R.SUBMIT_ORDER, instrument, client_order_id=coid or self.next_id(), side=side,
                         qty=qty, order_type=R.ORD_MARKET, tif=R.TIF_IOC)  # fmt: skip

    def order(self, **fields: int) -> np.void:
        """Any SubmitOrder (stops, take-profits, trailing, OCO/bracket legs) from raw COMMAND fields."""
        fields.setdefault("client_order_id", self.next_id())
        return self._cmd(R.SUBMIT_ORDER, fields.pop("instrument", None), **fields)

    def cancel(self, coid: int, *, instrument: int | None = None) -> np.void:
        return self._cmd(R.CANCEL_ORDER, instrument, ref_id=coid)

    def modify(self, coid: int, *, price: int = 0, qty: int = 0, instrument: int | None = None) -> np.void:
        return self._cmd(R.MODIFY_ORDER, instrument, ref_id=coid, price=price, qty=qty)

    def position(self, instrument: int | None = None) -> int:
        i = self.instrument if instrument is None else instrument
        return int(self._e.s.pos[self.account, i]["qty"])

    def status(self, coid: int) -> str:
        return self._e.status(coid)


@runtime_checkable
class Strategy(Protocol):
    def on_start(self, ctx: Context) -> None: ...

    def on_market(self, rec: np.void) -> list[np.void]: ...

    def on_event(self, ev: np.void) -> None: ...


@dataclass
class Config:
    account: int = 1
    seed: int = 0
    latency: list[str] = field(default_factory=list)  # LEG=SPEC items (oms.backtest.latency)
    slippage_ticks: int = 0
    touch: bool = False
    risk: Any = None  # oms.engine.settings.Settings, or None for no limits
    limits: list[tuple[int, int, int]] = field(default_factory=list)  # (limit id, scope, value)
    capacity: int = 1 << 16
    batch_market: bool = True  # tape runs in one engine call when provably equivalent (fastpath.py)


class Backtest:
    def __init__(self, tape: Tape, strategy: Strategy, cfg: Config | None = None) -> None:
        self.cfg = cfg = cfg or Config()
        if not isinstance(strategy, Strategy):
            raise ConfigError(
                f"strategy {type(strategy).__name__} must define on_start(ctx), on_market(rec), on_event(ev)"
            )
        self.tape = tape
        ids_in_tape = {int(i) for i in np.unique(tape.records["instrument"])} if len(tape.records) else set()
        insts = {i.id: i for i in tape.instruments}
        for i in ids_in_tape - set(insts):
            insts[i] = TapeInstrument(id=i)  # default description (documented in docs/backtest.md)
        self.instruments = insts
        n_inst = max([*insts, 1]) + 1
        self.engine = e = Engine(
            clock=False, capacity=cfg.capacity, n_accounts=max(4, cfg.account + 1), n_instruments=n_inst
        )
        for inst in insts.values():
            e.add_instrument(inst.spec())
        if cfg.risk is not None:
            e.apply_settings(cfg.risk)
        e.add_account(cfg.account)
        for lid, scope, value in cfg.limits:
            e.set_limit(lid, scope, value)
        self.venue = SimVenue(insts, cfg.slippage_ticks, cfg.touch)
        self.lat = L.parse_legs(cfg.latency, cfg.seed)
        self.strategy = strategy
        self.ctx = Context(e, cfg.account, insts)
        self.rec = Recorder(e, cfg.account, list(insts), self.lat)
        self._heap: list[tuple[int, int, int, np.ndarray]] = []
        self._n = itertools.count()
        self._last = dict.fromkeys(L.LEGS, 0)
        self.batching = cfg.batch_market
        self._j = 0  # tape records [0, _j) have been applied (the venue's touch catches up to it)

    # ---- scheduling --------------------------------------------------------------------------
    def _send(self, leg: str, kind: int, t: int, payload: np.ndarray) -> None:
        d = self.lat[leg].sample()
        self.rec.latency(leg, d)
        at = max(t + d, self._last[leg])
        self._last[leg] = at
        heapq.heappush(self._heap, (at, next(self._n), kind, payload))

    def _engine_out(self, out: Any, t: int) -> None:
        self.ctx.now = t
        for ev in out.events:
            self.rec.event(ev)
            more = self.strategy.on_event(ev)
            if more:
                self._strategy_cmds(more, t)
        for c in out.commands:
            self._send("to_venue", K_TO_VENUE, t, c.copy())

    def _strategy_cmds(self, cmds: Any, t: int) -> None:
        arr = np.asarray(cmds, R.COMMAND) if not isinstance(cmds, np.ndarray) else cmds
        if arr.dtype != R.COMMAND:
            raise ConfigError(
                f"strategy returned records of dtype {arr.dtype}; it must return COMMAND records"
            )
        for c in arr.reshape(-1):
            self._send("strategy", K_TO_ENGINE, t, c.copy())

    def _deliver(self, until: int) -> None:
        e, h = self.engine, self._heap
        while h and h[0][0] <= until:
            at, _, kind, p = heapq.heappop(h)
            e.now_ns = at
            if kind == K_TO_VENUE:
                self.venue.sync(self._j)  # the touch as of the tape records applied so far
                for ev in self.venue.on_command(p, at):
                    self._send("from_venue", K_FROM_VENUE, at, ev)
                continue
            # records arriving at the same ns on the same leg go to the engine as one batch (in order)
            batch = [p]
            while h and h[0][0] == at and h[0][2] == kind:
                batch.append(heapq.heappop(h)[3])
            arr = np.array(batch, p.dtype)
            out = e.run_commands(arr) if kind == K_TO_ENGINE else e.run_exec(arr)
            self._engine_out(out, at)

    # ---- the run -----------------------------------------------------------------------------
    def _flush(self, recs: np.ndarray, ts: np.ndarray, j0: int, j1: int) -> None:
        """Apply the pending tape records j0..j1-1 to the engine in one call (see fastpath.py)."""
        e = self.engine
        eq = fastpath.equity_path(e, self.cfg.account, recs[j0:j1])
        t = int(ts[j1 - 1])
        e.now_ns = t
        out = e.run_market(recs[j0:j1])
        self.rec.mark_path(eq)
        if len(out.events) or len(out.commands) or int(eq[-1]) != self.rec.equity_e8():
            log.warning(
                "backtest: batched market path disagreed with the engine (output %d/%d, equity %d vs %d); "
                "continuing record by record",
                len(out.events), len(out.commands), int(eq[-1]), self.rec.equity_e8(),
            )  # fmt: skip
            self.batching = False
            self._engine_out(out, t)

    def run(self) -> Report:
        recs = self.tape.records
        ts_arr = np.where(recs["ts_ns"] != 0, recs["ts_ns"], recs["ts_venue_ns"]).astype(np.int64)
        ts_arr = np.maximum.accumulate(ts_arr) if len(ts_arr) else ts_arr
        e, v, strat, acct = self.engine, self.venue, self.strategy, self.cfg.account
        # the replay loop works on Python ints and skips what cannot matter (docs/backtest.md, "Replay
        # loop"): the venue while nothing rests there (its touch is caught up from the tape before it
        # next acts), the strategy on record kinds it declared it ignores (`market_kinds`)
        ts = ts_arr.tolist()
        kinds = recs["kind"].tolist()
        wanted = getattr(strat, "market_kinds", None)
        call = [True] * len(kinds) if wanted is None else [k in wanted for k in kinds]
        v.attach_tape(recs)
        book = v.book
        heap = self._heap
        ctx = self.ctx
        strat.on_start(ctx)
        quiet = self.batching and fastpath.quiet(e, acct)
        j0 = -1  # first tape record not yet given to the engine (batched path)
        for j in range(len(recs)):
            t = ts[j]
            if heap and heap[0][0] <= t:
                if j0 >= 0:
                    self._flush(recs, ts_arr, j0, j)
                    j0 = -1
                self._j = j
                self._deliver(t)
                quiet = self.batching and fastpath.quiet(e, acct)
            if quiet:
                if j0 < 0:
                    j0 = j
            else:
                e.now_ns = t
                self._engine_out(e.run_market(recs[j : j + 1]), t)
            rec = None
            if any(book.values()):  # something rests: the tape may fill it
                rec = recs[j]
                v.sync(j)
                for ev in v.on_market(rec, t):
                    self._send("from_venue", K_FROM_VENUE, t, ev)
                v.synced = j + 1
            if call[j]:
                if rec is None:
                    rec = recs[j]
                ctx.now = t
                cmds = strat.on_market(rec)
                if cmds is not None and len(cmds):
                    self._strategy_cmds(cmds, t)
            if not quiet:
                self.rec.mark(rec, t)
        if j0 >= 0:
            self._flush(recs, ts_arr, j0, len(recs))
        self._j = len(recs)
        self._deliver(1 << 62)  # messages still in flight land after the tape ends
        v.sync(len(recs))
        return self.rec.report(len(recs), self.venue.resting())
