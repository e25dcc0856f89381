"""Engine room: njit conditional orders — stop, stop-limit, take-profit, trailing stop, OCO, bracket.

Touches only EngineState. A conditional order goes to the venue as-is when the venue's capability
bits (EngineState.ven.caps, constants.CAP_*) say it is native; otherwise it is held here (status
Emulated, on its instrument's list) and `scan` releases it from the market-data step that crosses its
trigger: the order turns into a market (stop/take-profit/trailing) or limit (stop-limit/
take-profit-limit) order, same client_order_id, and its SubmitOrder is staged in the same call, so
it reaches the connector ring in the same loop iteration.

Contingencies: OCO legs point at each other (`peer`); when one leg fills, triggers or ends, the other
is canceled. A bracket entry keeps its two children (`kid_a`, `kid_b`, which are each other's OCO
peer); children are Held until the entry fills (a partly filled entry that ends activates them with
its filled qty), and are canceled if the entry ends unfilled.

Trigger prices: BBO ask for buys and bid for sells, last trade for both, mark for both.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from oms.engine import book as B
from oms.engine import constants as C
from oms.engine import state as S
from oms.shm import records as R


@njit(cache=True, _nrt=False)
def is_conditional(t):
    return t >= R.ORD_STOP_MARKET


@njit(cache=True, _nrt=False)
def cap_bit(t):
    if t == R.ORD_STOP_MARKET:
        return C.CAP_STOP_MARKET
    if t == R.ORD_STOP_LIMIT:
        return C.CAP_STOP_LIMIT
    if t == R.ORD_TAKE_PROFIT_MARKET or t == R.ORD_TAKE_PROFIT_LIMIT:
        return C.CAP_TAKE_PROFIT
    if t == R.ORD_TRAILING_STOP_MARKET:
        return C.CAP_TRAILING_STOP
    return 0


@njit(cache=True, _nrt=False)
def ev_submitted(s, kind, o, reason, ref_seq):
    """An EVENT carrying the whole order definition (so replay can rebuild it). Packing:
    price = limit price (market orders: the reference price risk used), trade_id = ref_id,
    fee = trigger_price, fee_asset = trail, ts_venue_ns = expire_ns,
    venue_order_id = tif | contingency << 8 | native << 16 | send_type << 24."""
    n = B.ev_order(s, kind, o, reason, ref_seq)
    if n >= 0:
        e = s.evq[n]
        if o.order_type == R.ORD_MARKET:
            e.price = o.risk_px  # a market order's reference price at submission (what risk priced)
        e.trade_id = o.ref_id
        e.fee = o.trigger_price
        e.fee_asset = np.uint32(o.trail) if o.trail < 0xFFFFFFFF else np.uint32(0xFFFFFFFF)
        e.ts_venue_ns = o.expire_ns
        e.venue_order_id = (
            np.uint64(o.tif)
            | (np.uint64(o.contingency) << np.uint64(8))
            | (np.uint64(o.native) << np.uint64(16))
            | (np.uint64(o.send_type) << np.uint64(24))
        )
    return n


@njit(cache=True, _nrt=False)
def link(s, slot):
    """Wire OCO / bracket links of a new order; R_NONE or why it cannot be accepted."""
    o = s.orders[slot]
    if o.contingency == R.CONT_OCO and o.ref_id != 0:
        p = B.idx_lookup(s, o.account, o.ref_id)
        if p >= 0:
            po = s.orders[p]
            if B.is_terminal(po.status):
                return C.R_OCO_PEER_DONE
            if po.peer != 0 and po.peer != o.client_order_id:
                return C.R_INVALID_ORDER
            po.peer = o.client_order_id
        o.peer = o.ref_id
    elif o.contingency == R.CONT_BRACKET_CHILD:
        e = B.idx_lookup(s, o.account, o.ref_id)
        if e < 0 or o.ref_id == 0:
            return C.R_UNKNOWN_ORDER
        eo = s.orders[e]
        if B.is_terminal(eo.status) and eo.cum_qty == 0:
            return C.R_PARENT_DONE
        if eo.kid_a == 0:
            eo.kid_a = o.client_order_id
        elif eo.kid_b == 0:
            eo.kid_b = o.client_order_id
            ka = B.idx_lookup(s, o.account, eo.kid_a)
            if ka >= 0:
                s.orders[ka].peer = o.client_order_id
                o.peer = eo.kid_a
        else:
            return C.R_INVALID_ORDER
    return C.R_NONE


@njit(cache=True, _nrt=False)
def _decide(s, o):
    """Set send_type/native for a new order; True when the engine must emulate it."""
    t = o.order_type
    o.send_type = t
    if not is_conditional(t):
        return False
    if (s.ven[o.venue].caps & cap_bit(t)) != 0:
        o.native = 1
        return False
    o.native = 0
    if t == R.ORD_STOP_LIMIT or t == R.ORD_TAKE_PROFIT_LIMIT:
        o.send_type = R.ORD_LIMIT
    else:
        o.send_type = R.ORD_MARKET
    return True


@njit(cache=True, _nrt=False)
def _place(s, slot, seq, ev_kind, tr_emu, tr_send):
    o = s.orders[slot]
    if _decide(s, o):
        o.flags |= R.FLAG_EMULATED
        B.set_status(s, slot, C.ST_EMULATED, tr_emu)
        B.emu_add(s, slot)
        ev_submitted(s, ev_kind, o, C.R_NONE, seq)
        s.meta[S.M_SCAN] = o.instrument  # already through its trigger? the caller scans right away
    else:
        B.set_status(s, slot, C.ST_PENDING_NEW, tr_send)
        ev_submitted(s, ev_kind, o, C.R_NONE, seq)
        B.cmd_order(s, R.SUBMIT_ORDER, o, C.SOURCE_ENGINE)


@njit(cache=True, _nrt=False)
def _prices(ins):
    b = ins.ask if ins.ask > 0 else ins.last
    a = ins.bid if ins.bid > 0 else ins.last
    if ins.mark > 0 and b <= 0:
        b = ins.mark
    if ins.mark > 0 and a <= 0:
        a = ins.mark
    return b, a


@njit(cache=True, _nrt=False)
def route_new(s, slot, seq):
    """A new accepted order: Held (bracket child), Emulated, or PendingNew with a venue SubmitOrder."""
    o = s.orders[slot]
    if o.contingency == R.CONT_BRACKET_CHILD:
        e = B.idx_lookup(s, o.account, o.ref_id)
        eo = s.orders[e]
        if not B.is_terminal(eo.status):
            _decide(s, o)
            B.set_status(s, slot, C.ST_HELD, C.TR_HOLD)
            ev_submitted(s, R.ORDER_SUBMITTED, o, C.R_NONE, seq)
            return
        if eo.cum_qty < o.qty:
            B.set_leaves(s, o, eo.cum_qty)
            o.qty = eo.cum_qty
    _place(s, slot, seq, R.ORDER_SUBMITTED, C.TR_EMULATE, C.TR_SUBMIT)
    if s.meta[S.M_SCAN] != 0:
        scan_pending(s)


@njit(cache=True, _nrt=False)
def cancel_leaf(s, slot, reason, ref_seq):
    """Cancel one order (no follow-up on its contingents). Returns R_NONE or why it could not."""
    o = s.orders[slot]
    st = o.status
    if st == C.ST_EMULATED or st == C.ST_HELD:
        B.emu_remove(s, slot)
        B.set_status(s, slot, C.ST_CANCELED, C.TR_CANCELED)
        B.ev_order(s, R.ORDER_CANCELED, o, reason, ref_seq)
        return C.R_NONE
    if st == C.ST_PENDING_CANCEL:
        return C.R_ALREADY_PENDING
    if B.is_terminal(st) or st == C.ST_NONE:
        return C.R_ORDER_NOT_OPEN
    if st != C.ST_PENDING_REPLACE:
        o.prev_status = st
    B.set_status(s, slot, C.ST_PENDING_CANCEL, C.TR_CANCEL_REQUEST)
    B.ev_order(s, R.CANCEL_ORDER, o, reason, ref_seq)
    B.cmd_order(s, R.CANCEL_ORDER, o, C.SOURCE_ENGINE)
    return C.R_NONE


@njit(cache=True, _nrt=False)
def cancel_peer(s, o, seq):
    if o.peer == 0:
        return
    p = B.idx_lookup(s, o.account, o.peer)
    if p >= 0 and not B.is_terminal(s.orders[p].status):
        cancel_leaf(s, p, C.R_OCO_PEER_DONE, seq)


@njit(cache=True, _nrt=False)
def _activate(s, kid, entry, seq):
    k = B.idx_lookup(s, entry.account, kid)
    if k < 0 or s.orders[k].status != C.ST_HELD:
        return
    ko = s.orders[k]
    if entry.cum_qty < ko.qty:
        B.set_leaves(s, ko, entry.cum_qty)
        ko.qty = entry.cum_qty
    _place(s, k, seq, R.ORDER_TRIGGERED, C.TR_ACTIVATE, C.TR_ACTIVATE)


@njit(cache=True, _nrt=False)
def on_done(s, slot, seq):
    """An order reached a terminal status: cancel its OCO peer; activate or cancel bracket children."""
    o = s.orders[slot]
    if not B.is_terminal(o.status):
        return
    cancel_peer(s, o, seq)
    if o.kid_a != 0 or o.kid_b != 0:
        if o.cum_qty > 0:
            if o.kid_a != 0:
                _activate(s, o.kid_a, o, seq)
            if o.kid_b != 0:
                _activate(s, o.kid_b, o, seq)
        else:
            for kid in (o.kid_a, o.kid_b):
                if kid != 0:
                    k = B.idx_lookup(s, o.account, kid)
                    if k >= 0 and not B.is_terminal(s.orders[k].status):
                        cancel_leaf(s, k, C.R_PARENT_DONE, seq)


@njit(cache=True, _nrt=False)
def release(s, slot):
    """An emulated order's trigger fired: it becomes a market/limit order sent to the venue now."""
    o = s.orders[slot]
    B.emu_remove(s, slot)
    B.set_status(s, slot, C.ST_PENDING_NEW, C.TR_TRIGGERED)
    B.ev_order(s, R.ORDER_TRIGGERED, o, C.R_NONE, o.seq)
    B.cmd_order(s, R.SUBMIT_ORDER, o, C.SOURCE_EMULATOR)
    s.meta[S.M_TRIGGERS] += 1
    cancel_peer(s, o, o.seq)


@njit(cache=True, _nrt=False)
def check_one(s, slot, buy_px, sell_px):
    """Evaluate one emulated order against the latest prices; True if it fired or expired."""
    o = s.orders[slot]
    if o.status != C.ST_EMULATED:
        return False
    if o.expire_ns > 0 and s.meta[S.M_NOW] >= o.expire_ns:
        B.emu_remove(s, slot)
        B.set_status(s, slot, C.ST_EXPIRED, C.TR_EXPIRED)
        B.ev_order(s, R.ORDER_EXPIRED, o, C.R_EXPIRED_LOCAL, o.seq)
        on_done(s, slot, o.seq)
        return True
    px = buy_px if o.side > 0 else sell_px
    if px <= 0:
        return False
    t = o.order_type
    trig = o.trigger_price
    buy = o.side > 0
    fire = False
    if t == R.ORD_STOP_MARKET or t == R.ORD_STOP_LIMIT:
        fire = px >= trig if buy else px <= trig
    elif t == R.ORD_TAKE_PROFIT_MARKET or t == R.ORD_TAKE_PROFIT_LIMIT:
        fire = px <= trig if buy else px >= trig
    elif t == R.ORD_TRAILING_STOP_MARKET:
        if o.trail_ref == 0:
            if trig > 0 and ((buy and px > trig) or (not buy and px < trig)):
                return False  # not activated yet
            o.trail_ref = px
        if buy:
            if px < o.trail_ref:
                o.trail_ref = px
            fire = px >= o.trail_ref + o.trail
        else:
            if px > o.trail_ref:
                o.trail_ref = px
            fire = px <= o.trail_ref - o.trail
    if fire:
        release(s, slot)
    return fire


@njit(cache=True, _nrt=False)
def scan(s, i, buy_px, sell_px):
    """Check every emulated order of instrument i; K_MORE if staging is past its high-water mark."""
    hw_ev = len(s.evq) // 2
    hw_cmd = len(s.cmdq) // 2
    slot = s.inst[i].emu_head
    while slot >= 0:
        if s.meta[S.M_NEV] >= hw_ev or s.meta[S.M_NCMD] >= hw_cmd:
            return C.K_MORE
        nxt = s.orders[slot].emu_next
        check_one(s, slot, buy_px, sell_px)
        if nxt >= 0 and s.orders[nxt].status != C.ST_EMULATED:
            nxt = s.inst[i].emu_head  # the walk's next node was removed (OCO peer): restart
        slot = nxt
    return C.K_OK


@njit(cache=True, _nrt=False)
def scan_pending(s):
    """Scan the instrument whose emulated orders were just placed/activated (no recursion: numba's
    cache cannot hold mutually recursive functions, so placement only records the instrument)."""
    i = s.meta[S.M_SCAN]
    if i == 0:
        return C.K_OK
    s.meta[S.M_SCAN] = 0
    bp, sp = _prices(s.inst[i])
    if bp <= 0 and sp <= 0:
        return C.K_OK
    return scan(s, i, bp, sp)
