"""Engine room: njit handlers for what comes back — venue execution events and market data.

Touches only EngineState. `on_exec` applies one EVENT from a connector's exec ring to the order
state machine (rules for late/duplicate/out-of-order events in orders.py's docstring and
docs/engine.md), adopting an order a reconciliation report (FLAG_REPLAY) names that the engine
lacks; `on_market` updates the instrument's prices, re-marks positions, checks the daily
loss limit and runs the conditional-order triggers for that instrument.
"""

from __future__ import annotations

from numba import njit

from oms.engine import book as B
from oms.engine import conditional as X
from oms.engine import constants as C
from oms.engine import control as K
from oms.engine import positions as P
from oms.engine import state as S
from oms.shm import records as R


@njit(cache=True, _nrt=False)
def _forward(s, ev, reason, status):
    """Stage a copy of a venue event that changed nothing (unknown order, late, duplicate)."""
    n = s.meta[S.M_NEV]
    if n >= len(s.evq) or s.meta[S.M_REPLAY] != 0:
        return
    s.evq[n] = ev
    s.meta[S.M_NEV] = n + 1
    s.meta[S.M_EVSEQ] += 1
    e = s.evq[n]
    acct = B.wire_account(ev.client_order_id)  # back from the connector's wire id to (account, coid)
    if acct != 0:
        e.account = acct
    e.client_order_id = B.wire_coid(ev.client_order_id)
    e.reason = reason
    e.status = status
    e.seq = s.meta[S.M_EVSEQ]
    e.ts_ns = s.meta[S.M_NOW]


@njit(cache=True, _nrt=False)
def _working_after_fill(o):
    return C.ST_PARTIALLY_FILLED if o.cum_qty > 0 else C.ST_ACCEPTED


@njit(cache=True, _nrt=False)
def _fill(s, slot, ev):
    o = s.orders[slot]
    q = ev.qty
    if q <= 0 or ev.price <= 0:
        _forward(s, ev, C.R_INVALID_ORDER, o.status)
        return
    if B.trade_seen(s, o.client_order_id, ev.trade_id):
        s.meta[S.M_DUP_FILLS] += 1
        _forward(s, ev, C.R_DUPLICATE_FILL, o.status)
        return
    if o.cum_qty + q > o.qty:
        s.meta[S.M_OVERFILL] += 1
        _forward(s, ev, C.R_OVERFILL, o.status)
        return
    st = o.status
    o.cum_qty += q
    o.fill_cost += ev.price * q
    o.fee += ev.fee
    o.ts_updated = s.meta[S.M_NOW]
    P.apply_fill(s, o.account, o.instrument, o.side, ev.price, q, ev.fee)
    terminal = B.is_terminal(st)
    if not terminal:
        B.set_leaves(s, o, o.qty - o.cum_qty)
    if o.cum_qty == o.qty:
        B.set_status(s, slot, C.ST_FILLED, C.TR_LATE_FILL if terminal else C.TR_FILL)
    elif terminal:
        s.trans[C.TR_LATE_FILL] += 1
        s.meta[S.M_LATE] += 1
    elif st == C.ST_PENDING_CANCEL or st == C.ST_PENDING_REPLACE:
        o.prev_status = C.ST_PARTIALLY_FILLED
        s.trans[C.TR_PARTIAL_FILL] += 1
    else:
        B.set_status(s, slot, C.ST_PARTIALLY_FILLED, C.TR_PARTIAL_FILL)
    n = B.ev_order(s, R.ORDER_FILLED, o, C.R_LATE_EVENT if terminal else C.R_NONE, o.seq)
    if n >= 0:
        e = s.evq[n]
        e.price = ev.price
        e.qty = q
        e.fee = ev.fee
        e.fee_asset = ev.fee_asset
        e.trade_id = ev.trade_id
        e.liquidity = ev.liquidity
        e.ts_venue_ns = ev.ts_venue_ns
    if o.peer != 0:
        X.cancel_peer(s, o, o.seq)
    if o.status == C.ST_FILLED and (o.peer != 0 or o.kid_a != 0 or o.kid_b != 0):
        X.on_done(s, slot, o.seq)
    K.check_loss(s, o.account)


@njit(cache=True, _nrt=False)
def _end(s, slot, ev, st, tr, kind):
    o = s.orders[slot]
    B.emu_remove(s, slot)
    B.set_status(s, slot, st, tr)
    B.ev_order(s, kind, o, ev.reason, o.seq)
    X.on_done(s, slot, o.seq)


@njit(cache=True, _nrt=False)
def _adopt(s, ev, acct, coid):
    """Take over an order the venue knows and the engine does not (the connector's reconciliation
    replays it with FLAG_REPLAY after an engine restart, or one placed outside the OMS): created as
    ACCEPTED and logged as OrderSubmitted (reason adopted_from_venue) so a restart rebuilds it.
    Returns the slot, or -1 when the report lacks what an order needs."""
    if (ev.flags & R.FLAG_REPLAY) == 0 or s.meta[S.M_REPLAY] != 0:
        return -1
    if ev.kind != R.ORDER_ACCEPTED and ev.kind != R.ORDER_FILLED:
        return -1
    if ev.instrument <= 0 or ev.instrument >= len(s.inst) or acct <= 0 or acct >= len(s.acct):
        return -1
    if ev.qty <= 0 or (ev.side != 1 and ev.side != -1):
        return -1
    slot = B.alloc_slot(s)
    if slot < 0:
        return -1
    o = s.orders[slot]
    o.client_order_id = coid
    o.venue_order_id = ev.venue_order_id
    o.account = acct
    o.instrument = ev.instrument
    o.venue = ev.venue
    o.market = ev.market
    o.side = ev.side
    o.order_type = ev.order_type if ev.order_type != 0 else R.ORD_LIMIT
    o.tif = R.TIF_GTC
    o.qty = ev.qty if ev.kind == R.ORDER_ACCEPTED else (ev.cum_qty + ev.leaves_qty)
    if o.qty < ev.qty:
        o.qty = ev.qty
    o.price = ev.price if o.order_type == R.ORD_LIMIT else 0
    o.risk_px = ev.price
    o.ts_created = s.meta[S.M_NOW]
    o.ts_updated = s.meta[S.M_NOW]
    B.idx_insert(s, o.client_order_id, slot)
    B.set_status(s, slot, C.ST_ACCEPTED, C.TR_ACCEPT)
    B.set_leaves(s, o, o.qty)
    X.ev_submitted(s, R.ORDER_SUBMITTED, o, C.R_ADOPTED, 0)
    s.meta[S.M_ADOPTED] += 1
    return slot


@njit(cache=True, _nrt=False)
def on_exec(s, ev):
    """One EVENT from a connector's exec ring."""
    s.meta[S.M_EXEC_COUNT] += 1
    k = ev.kind
    if k == R.LEVERAGE_CHANGED or k == R.MARGIN_MODE_CHANGED or k == R.POSITION_REPORT:
        K.futures_report(s, ev)
        _forward(s, ev, ev.reason, ev.status)
        return C.K_OK
    # connectors echo the wire id the engine sent (book.wire_id: the account in its high bits) and the
    # command's account; an event with neither (tools, old journals) matches the id in any account
    acct = B.wire_account(ev.client_order_id)
    coid = B.wire_coid(ev.client_order_id)
    if acct == 0:
        acct = ev.account
    slot = B.idx_lookup(s, acct, coid) if acct != 0 else B.idx_lookup_any(s, coid)
    if slot < 0 and coid != 0:
        slot = _adopt(s, ev, acct, coid)
        if slot >= 0 and ev.kind == R.ORDER_ACCEPTED:
            return C.K_OK  # the accept is the adoption itself
    if slot < 0 or ev.client_order_id == 0:
        s.meta[S.M_UNKNOWN] += 1
        _forward(s, ev, C.R_UNKNOWN_ORDER, C.ST_NONE)
        return C.K_OK
    o = s.orders[slot]
    if ev.venue_order_id != 0:
        o.venue_order_id = ev.venue_order_id
    st = o.status
    k = ev.kind
    late = False
    if k == R.ORDER_FILLED:
        _fill(s, slot, ev)
    elif k == R.ORDER_ACCEPTED:
        if st == C.ST_PENDING_NEW:
            B.set_status(s, slot, C.ST_ACCEPTED, C.TR_ACCEPT)
            B.ev_order(s, R.ORDER_ACCEPTED, o, C.R_NONE, o.seq)
        elif (st == C.ST_PENDING_CANCEL or st == C.ST_PENDING_REPLACE) and o.prev_status == C.ST_PENDING_NEW:
            o.prev_status = C.ST_ACCEPTED
            s.trans[C.TR_ACCEPT] += 1
            B.ev_order(s, R.ORDER_ACCEPTED, o, C.R_NONE, o.seq)
        else:
            late = True
    elif k == R.ORDER_CANCELED:
        if B.is_terminal(st) or st == C.ST_EMULATED or st == C.ST_HELD:
            late = True
        else:
            _end(s, slot, ev, C.ST_CANCELED, C.TR_CANCELED, R.ORDER_CANCELED)
    elif k == R.ORDER_EXPIRED:
        if B.is_terminal(st) or st == C.ST_HELD:
            late = True
        else:
            _end(s, slot, ev, C.ST_EXPIRED, C.TR_EXPIRED, R.ORDER_EXPIRED)
    elif k == R.ORDER_REJECTED:
        if st == C.ST_PENDING_NEW or (st == C.ST_PENDING_CANCEL and o.prev_status == C.ST_PENDING_NEW):
            _end(s, slot, ev, C.ST_REJECTED, C.TR_REJECTED, R.ORDER_REJECTED)
        else:
            late = True
    elif k == R.CANCEL_REJECTED:
        if st == C.ST_PENDING_CANCEL:
            back = o.prev_status
            if back == C.ST_ACCEPTED or back == C.ST_PARTIALLY_FILLED:
                back = _working_after_fill(o)
            B.set_status(s, slot, back, C.TR_CANCEL_REJECTED)
            B.ev_order(s, R.CANCEL_REJECTED, o, ev.reason, o.seq)
        else:
            late = True
    elif k == R.ORDER_MODIFIED:
        if st == C.ST_PENDING_REPLACE:
            o.price = ev.price if ev.price > 0 else o.new_price
            nq = ev.qty if ev.qty > 0 else o.new_qty
            o.qty = nq if nq > o.cum_qty else o.cum_qty
            if o.order_type == R.ORD_LIMIT:
                o.risk_px = o.price
            B.set_leaves(s, o, o.qty - o.cum_qty)
            if o.cum_qty == o.qty:
                B.set_status(s, slot, C.ST_FILLED, C.TR_MODIFIED)
            else:
                B.set_status(s, slot, _working_after_fill(o), C.TR_MODIFIED)
            B.ev_order(s, R.ORDER_MODIFIED, o, C.R_NONE, o.seq)
            if o.status == C.ST_FILLED:
                X.on_done(s, slot, o.seq)
        else:
            late = True
    elif k == R.MODIFY_REJECTED:
        if st == C.ST_PENDING_REPLACE:
            B.set_status(s, slot, _working_after_fill(o), C.TR_MODIFY_REJECTED)
            B.ev_order(s, R.MODIFY_REJECTED, o, ev.reason, o.seq)
        else:
            late = True
    elif k == R.ORDER_TRIGGERED:
        if B.is_terminal(st):
            late = True
        else:
            B.ev_order(s, R.ORDER_TRIGGERED, o, C.R_NONE, o.seq)
            X.cancel_peer(s, o, o.seq)
    else:
        _forward(s, ev, C.R_INVALID_ORDER, st)
    if late:
        s.meta[S.M_LATE] += 1
        _forward(s, ev, C.R_LATE_EVENT, o.status)
    if s.meta[S.M_SCAN] != 0:
        X.scan_pending(s)
    if s.meta[S.M_CA_ACTIVE] != 0:
        return K.cancel_all_step(s)
    return C.K_OK


@njit(cache=True, _nrt=False)
def on_market(s, m):
    """One MARKET record: prices, position re-mark, loss limit, emulated triggers."""
    s.meta[S.M_MD_COUNT] += 1
    i = m.instrument
    if i == 0 or i >= len(s.inst):
        return C.K_IGNORED
    ins = s.inst[i]
    k = m.kind
    if k == R.MD_BBO:
        if m.price > 0:
            ins.bid = m.price
        if m.ask_price > 0:
            ins.ask = m.ask_price
        bp = ins.ask
        sp = ins.bid
    elif k == R.MD_TRADE:
        ins.last = m.price
        bp = m.price
        sp = m.price
    elif k == R.MD_MARK:
        ins.mark = m.price
        bp = m.price
        sp = m.price
    else:
        return C.K_IGNORED
    ins.ts = m.ts_ns
    for a in range(1, s.pos.shape[0]):
        p = s.pos[a, i]
        if p.qty != 0 or p.notional != 0:
            P.revalue(s, a, i)
            K.check_loss(s, a)
    r = C.K_OK
    if ins.emu_head >= 0:
        r = X.scan(s, i, bp, sp)
    if s.meta[S.M_CA_ACTIVE] != 0:
        r2 = K.cancel_all_step(s)
        if r2 == C.K_MORE:
            return r2
    return r
