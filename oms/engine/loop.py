"""Engine room: the njit engine loop over the shared-memory rings (runs in a nogil worker thread).

Touches the rings handed to it (oms/shm/ring.py functions on `.ctrl`/`.buf`), the optional BBO table
(read-only) and its EngineState. One iteration:

 1. read the clock (CLOCK_REALTIME into meta[M_NOW]), roll the daily loss window;
 2. market data first (md.engine): each record updates prices and positions and fires emulated
    triggers, whose child SubmitOrders are flushed to the connector ring before the next input is read
    (tick-to-order is one record's work plus one ring push);
 3. then, fairly, up to `batch` records from each exec ring, then the gateway and bridge command rings
    (round robin, each ring read in place: available/read_seq, process, release);
 4. after every input batch, staged events go to eng.events.bridge (blocking: the audit trail is never
    short) and eng.events.gw (a full gateway ring drops and counts: the gateway resyncs by query), and
    staged commands go to eng.cmd.<venue> (blocking) by the venue's ring index (VENUE.out);
 5. no input: one wait step of oms.shm.wait (spin → yield → sleep, or pure spin on an owned core).
A pending cancel-all (kill switch) is finished, flushing as it goes, before new input is read.
The loop ends when meta[M_STOP] != 0 (set from the main thread on SIGTERM) or after max_iters.
"""

from __future__ import annotations

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

M_GW_DROPS = 40
M_NO_ROUTE = 41
M_BUSY = 42
M_BLOCKED = 43


@njit(cache=True, _nrt=False)
def _push_all(ctrl, buf, src, n, wstate, meta, block):
    k = 0
    while k < n:
        k += RG.push_batch(ctrl, buf, src[k:n], n - k)
        if k < n:
            if not block or meta[S.M_STOP] != 0:
                return k
            meta[M_BLOCKED] += 1
            W.backoff_idle(wstate)
    return k


@njit(cache=True, _nrt=False)
def flush(s, egw_c, egw_b, ebr_c, ebr_b, out_c, out_b, wstate):
    n = s.meta[S.M_NEV]
    if n > 0:
        if len(s.journal_b) > 1:  # the engine's own event log (drained to disk by the main thread)
            _push_all(s.journal_c, s.journal_b, s.evq, n, wstate, s.meta, True)
        _push_all(ebr_c, ebr_b, s.evq, n, wstate, s.meta, True)
        k = _push_all(egw_c, egw_b, s.evq, n, wstate, s.meta, False)
        s.meta[M_GW_DROPS] += n - k
        s.meta[S.M_NEV] = 0
    n = s.meta[S.M_NCMD]
    for j in range(n):
        r = s.ven[s.cmdq[j].venue].out
        if r < 0:
            s.meta[M_NO_ROUTE] += 1
            continue
        while not RG.push(out_c[r], out_b[r], s.cmdq, j):
            if s.meta[S.M_STOP] != 0:
                break
            s.meta[M_BLOCKED] += 1
            W.backoff_idle(wstate)
    s.meta[S.M_NCMD] = 0


@njit(cache=True, _nrt=False)
def _refresh_ref(s, bbo_c, bbo_rows, bbo_out, i):
    """Reference price from the shared BBO table, when one is attached and newer than our own."""
    if i <= 0 or i >= len(bbo_rows) or i >= len(s.inst):
        return
    if not TB.bbo_read(bbo_c, bbo_rows, i, bbo_out):
        return
    r = bbo_out[0]
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
def _commands(
    s, ctrl, buf, batch, use_bbo, bbo_c, bbo_rows, bbo_out, egw_c, egw_b, ebr_c, ebr_b, out_c, out_b, wstate
):
    avail = RG.available(ctrl)
    if avail <= 0:
        return 0
    n = avail if avail < batch else batch
    t = RG.read_seq(ctrl)
    mask = len(buf) - 1
    for j in range(n):
        c = buf[(t + j) & mask]
        if use_bbo and c.kind == R.SUBMIT_ORDER:
            _refresh_ref(s, bbo_c, bbo_rows, bbo_out, c.instrument)
        O.on_command(s, c)
        while s.meta[S.M_CA_ACTIVE] != 0:
            flush(s, egw_c, egw_b, ebr_c, ebr_b, out_c, out_b, wstate)
            K.cancel_all_step(s)
    RG.release(ctrl, n)
    flush(s, egw_c, egw_b, ebr_c, ebr_b, out_c, out_b, wstate)
    return n


@njit(cache=True, nogil=True, _nrt=False)
def run(
    s,
    gw_c,
    gw_b,
    br_c,
    br_b,
    ex_c,
    ex_b,
    md_c,
    md_b,
    egw_c,
    egw_b,
    ebr_c,
    ebr_b,
    out_c,
    out_b,
    wstate,
    batch,
    max_iters,
    use_bbo,
    bbo_c,
    bbo_rows,
    bbo_out,
):
    """The engine loop. Returns the number of input records processed."""
    total = 0
    it = 0
    md_mask = len(md_b) - 1
    while s.meta[S.M_STOP] == 0 and (max_iters <= 0 or it < max_iters):
        it += 1
        s.meta[S.M_ITER] += 1
        KN.tick_clock(s)
        work = 0
        while s.meta[S.M_CA_ACTIVE] != 0:
            K.cancel_all_step(s)
            flush(s, egw_c, egw_b, ebr_c, ebr_b, out_c, out_b, wstate)
        # market data: each record's triggers reach the connector ring before the next record
        avail = RG.available(md_c)
        if avail > 0:
            n = avail if avail < batch else batch
            t = RG.read_seq(md_c)
            for j in range(n):
                m = md_b[(t + j) & md_mask]
                while V.on_market(s, m) == C.K_MORE:
                    flush(s, egw_c, egw_b, ebr_c, ebr_b, out_c, out_b, wstate)
                if s.meta[S.M_NCMD] > 0 or s.meta[S.M_NEV] > 0:
                    flush(s, egw_c, egw_b, ebr_c, ebr_b, out_c, out_b, wstate)
            RG.release(md_c, n)
            work += n
        # venue execution events
        for r in range(len(ex_c)):
            ctrl = ex_c[r]
            buf = ex_b[r]
            avail = RG.available(ctrl)
            if avail > 0:
                n = avail if avail < batch else batch
                t = RG.read_seq(ctrl)
                mask = len(buf) - 1
                for j in range(n):
                    V.on_exec(s, buf[(t + j) & mask])
                    while s.meta[S.M_CA_ACTIVE] != 0:
                        flush(s, egw_c, egw_b, ebr_c, ebr_b, out_c, out_b, wstate)
                        K.cancel_all_step(s)
                RG.release(ctrl, n)
                flush(s, egw_c, egw_b, ebr_c, ebr_b, out_c, out_b, wstate)
                work += n
        # commands: gateway, then bridge
        work += _commands(
            s,
            gw_c,
            gw_b,
            batch,
            use_bbo,
            bbo_c,
            bbo_rows,
            bbo_out,
            egw_c,
            egw_b,
            ebr_c,
            ebr_b,
            out_c,
            out_b,
            wstate,
        )
        work += _commands(
            s,
            br_c,
            br_b,
            batch,
            use_bbo,
            bbo_c,
            bbo_rows,
            bbo_out,
            egw_c,
            egw_b,
            ebr_c,
            ebr_b,
            out_c,
            out_b,
            wstate,
        )
        if work == 0:
            s.meta[S.M_IDLE] += 1
            W.backoff_idle(wstate)
        else:
            total += work
            s.meta[M_BUSY] += 1
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


__all__ = ["B", "C", "flush", "no_bbo", "run", "typed_list"]
