"""Engine room: the njit engine loop over the shared-memory rings (runs in a nogil worker thread).

Touches the rings handed to it (oms/shm/ring.py functions on `.ctrl`/`.buf`), the optional BBO table
(read-only) and its EngineState. One iteration:

 1. read the clock (CLOCK_REALTIME into meta[M_NOW]), roll the daily loss window;
 2. market data first (md.engine): each record updates prices and positions and fires emulated
    triggers, whose child SubmitOrders are flushed to the connector ring before the next input is read
    (tick-to-order is one record's work plus one ring push);
 3. then, fairly, up to `batch` records from each exec ring, then the gateway and bridge command rings
    (round robin, each ring read in place: available/read_seq, process, release);
 4. after every input batch (and before its slots are released), staged events are appended to the
    write-ahead event log (oms/engine/wal.py, one commit per batch), then go to eng.events.bridge
    (blocking: the audit trail is never short) and eng.events.gw (a full gateway ring drops and
    counts: the gateway resyncs by query), and staged
    commands go to eng.cmd.<venue> (blocking) by the venue's ring index (VENUE.out);
 5. no input: one wait step of oms.shm.wait (spin → yield → sleep, or pure spin on an owned core).
A pending cancel-all (kill switch) is finished, flushing as it goes, before new input is read.
The loop ends when meta[M_STOP] != 0 (set from the main thread on SIGTERM) or after max_iters.
Every ring travels in one LoopRings (a NamedTuple Numba types field by field); the loop's counters
are meta slots of oms/engine/state.py (M_GW_DROPS, M_NO_ROUTE, M_BUSY, M_BLOCKED).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
from numba import njit

from oms.engine import book as B
from oms.engine import constants as C
from oms.engine import control as K
from oms.engine import kernels as KN
from oms.engine import orders as O
from oms.engine import state as S
from oms.engine import venue as V
from oms.shm import records as R
from oms.shm import ring as RG
from oms.shm import table as TB
from oms.shm import wait as W


class LoopRings(NamedTuple):
    """Every ring (and the BBO table) the engine loop touches, as one argument of `run`.

    `*_c` are ring control words (`Ring.ctrl`), `*_b` their record buffers (`Ring.buf`); `ex_*`/`out_*`
    are tuples with one ring per venue (index = VENUE.out). Build it with `LoopRings.of(rings, bbo)`."""

    gw_c: np.ndarray  # gw.cmd: gateway → engine commands
    gw_b: np.ndarray
    br_c: np.ndarray  # bridge.cmd: bridge → engine commands
    br_b: np.ndarray
    ex_c: tuple  # exec.<venue>: connector → engine venue events
    ex_b: tuple
    md_c: np.ndarray  # md.engine: marketdata → engine
    md_b: np.ndarray
    egw_c: np.ndarray  # events.gw: engine → gateway (lossy)
    egw_b: np.ndarray
    ebr_c: np.ndarray  # events.bridge: engine → bridge (blocking: the audit trail)
    ebr_b: np.ndarray
    out_c: tuple  # cmd.<venue>: engine → connector
    out_b: tuple
    bbo_c: np.ndarray  # the BBO table (read-only), or no_bbo()'s dummies
    bbo_rows: np.ndarray
    bbo_out: np.ndarray

    @classmethod
    def of(cls, r: Any, bbo: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None) -> LoopRings:
        """From an EngineRings (oms/engine/service.py): gw, bridge, exec{venue}, md, events_gw,
        events_bridge, cmd{venue}; venues in the same order in exec and cmd."""
        ex, out = list(r.exec.values()), list(r.cmd.values())
        return cls(
            r.gw.ctrl,
            r.gw.buf,
            r.bridge.ctrl,
            r.bridge.buf,
            typed_list([x.ctrl for x in ex], r.gw.ctrl),
            typed_list([x.buf for x in ex], r.events_gw.buf),
            r.md.ctrl,
            r.md.buf,
            r.events_gw.ctrl,
            r.events_gw.buf,
            r.events_bridge.ctrl,
            r.events_bridge.buf,
            typed_list([x.ctrl for x in out], r.gw.ctrl),
            typed_list([x.buf for x in out], r.gw.buf),
            *(bbo if bbo is not None else no_bbo()),
        )


WAL_COUNT = 2  # oms/engine/wal.py H_COUNT
WAL_VALID = 3  # oms/engine/wal.py H_VALID


@njit(cache=True, _nrt=False)
def _push_all(ctrl, buf, src, n, wstate, meta, block):
    k = 0
    while k < n:
        k += RG.push_batch(ctrl, buf, src[k:n], n - k)
        if k < n:
            if not block or meta[S.M_STOP] != 0:
                return k
            meta[S.M_BLOCKED] += 1
            W.backoff_idle(wstate)
    return k


@njit(cache=True, _nrt=False)
def _log_append(h, log, src, n, wstate, meta):
    """Write-ahead: copy the batch into the mapped event log, then commit it with one store of the count
    (oms/engine/wal.py). Waits while the main thread has not yet allocated room."""
    cnt = h[WAL_COUNT]
    while cnt + np.uint64(n) > h[WAL_VALID]:
        meta[S.M_BLOCKED] += 1
        W.backoff_idle(wstate)
    for j in range(n):
        log[cnt + np.uint64(j)] = src[j]
    h[WAL_COUNT] = cnt + np.uint64(n)


@njit(cache=True, _nrt=False)
def flush(s, io, wstate):
    """Staged events into the write-ahead log first; only then to the bridge and the gateway, and the
    staged commands to the connectors (callers release input slots after this returns)."""
    n = s.meta[S.M_NEV]
    if n > 0:
        if len(s.journal_b) > 1:
            _log_append(s.journal_c, s.journal_b, s.evq, n, wstate, s.meta)
        _push_all(io.ebr_c, io.ebr_b, s.evq, n, wstate, s.meta, True)
        k = _push_all(io.egw_c, io.egw_b, s.evq, n, wstate, s.meta, False)
        s.meta[S.M_GW_DROPS] += n - k
        s.meta[S.M_NEV] = 0
    n = s.meta[S.M_NCMD]
    for j in range(n):
        r = s.ven[s.cmdq[j].venue].out
        if r < 0:
            s.meta[S.M_NO_ROUTE] += 1
            continue
        while not RG.push(io.out_c[r], io.out_b[r], s.cmdq, j):
            if s.meta[S.M_STOP] != 0:
                break
            s.meta[S.M_BLOCKED] += 1
            W.backoff_idle(wstate)
    s.meta[S.M_NCMD] = 0


@njit(cache=True, _nrt=False)
def _refresh_ref(s, io, i):
    """Reference price from the shared BBO table, when one is attached and newer than our own."""
    if i <= 0 or i >= len(io.bbo_rows) or i >= len(s.inst):
        return
    if not TB.bbo_read(io.bbo_c, io.bbo_rows, i, io.bbo_out):
        return
    r = io.bbo_out[0]
    if r.seq == 0 or r.ts_ns < s.inst[i].ts:
        return
    ins = s.inst[i]
    if r.bid_px > 0:
        ins.bid = r.bid_px
    if r.ask_px > 0:
        ins.ask = r.ask_px
    if r.mark_px > 0:
        ins.mark = r.mark_px
    ins.ts = r.ts_ns


@njit(cache=True, _nrt=False)
def _commands(s, ctrl, buf, batch, use_bbo, io, wstate):
    avail = RG.available(ctrl)
    if avail <= 0:
        return 0
    n = avail if avail < batch else batch
    t = RG.read_seq(ctrl)
    mask = len(buf) - 1
    for j in range(n):
        c = buf[(t + j) & mask]
        if use_bbo and c.kind == R.SUBMIT_ORDER:
            _refresh_ref(s, io, c.instrument)
        O.on_command(s, c)
        while s.meta[S.M_CA_ACTIVE] != 0:
            flush(s, io, wstate)
            K.cancel_all_step(s)
    flush(s, io, wstate)
    RG.release(ctrl, n)  # after the log has the batch's events: a crash before this re-reads the slots
    return n


@njit(cache=True, nogil=True, _nrt=False)
def run(s, io, wstate, batch, max_iters, use_bbo):
    """The engine loop over `io` (a LoopRings). Returns the number of input records processed."""
    total = 0
    it = 0
    md_c, md_b = io.md_c, io.md_b
    md_mask = len(md_b) - 1
    while s.meta[S.M_STOP] == 0 and s.meta[S.M_PAUSE] == 0 and (max_iters <= 0 or it < max_iters):
        it += 1
        s.meta[S.M_ITER] += 1
        KN.tick_clock(s)
        work = 0
        while s.meta[S.M_CA_ACTIVE] != 0:
            K.cancel_all_step(s)
            flush(s, io, wstate)
        # market data: each record's triggers reach the connector ring before the next record
        avail = RG.available(md_c)
        if avail > 0:
            n = avail if avail < batch else batch
            t = RG.read_seq(md_c)
            for j in range(n):
                m = md_b[(t + j) & md_mask]
                while V.on_market(s, m) == C.K_MORE:
                    flush(s, io, wstate)
                if s.meta[S.M_NCMD] > 0 or s.meta[S.M_NEV] > 0:
                    flush(s, io, wstate)
            RG.release(md_c, n)
            work += n
        # venue execution events
        for r in range(len(io.ex_c)):
            ctrl = io.ex_c[r]
            buf = io.ex_b[r]
            avail = RG.available(ctrl)
            if avail > 0:
                n = avail if avail < batch else batch
                t = RG.read_seq(ctrl)
                mask = len(buf) - 1
                for j in range(n):
                    V.on_exec(s, buf[(t + j) & mask])
                    while s.meta[S.M_CA_ACTIVE] != 0:
                        flush(s, io, wstate)
                        K.cancel_all_step(s)
                flush(s, io, wstate)
                RG.release(ctrl, n)
                work += n
        # commands: gateway, then bridge
        work += _commands(s, io.gw_c, io.gw_b, batch, use_bbo, io, wstate)
        work += _commands(s, io.br_c, io.br_b, batch, use_bbo, io, wstate)
        if work == 0:
            s.meta[S.M_IDLE] += 1
            W.backoff_idle(wstate)
        else:
            total += work
            s.meta[S.M_BUSY] += 1
            W.backoff_reset(wstate)
    return total


def typed_list(arrays: list[np.ndarray], like: np.ndarray) -> tuple[np.ndarray, ...]:
    """The per-venue rings as a tuple (a homogeneous tuple indexes at run time in njit code and needs
    no reference counting, unlike a typed List). At least one ring: the engine serves >= 1 venue."""
    if not arrays:
        raise ValueError("the engine loop needs at least one venue ring pair")
    return tuple(arrays)


def no_bbo() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return np.zeros(64, np.uint64), np.zeros(1, R.BBO), np.zeros(1, R.BBO)


__all__ = ["B", "C", "LoopRings", "flush", "no_bbo", "run", "typed_list"]
