"""Engine room: njit order state machine — commands in, venue events in, events/venue commands out.

Touches only the EngineState it is given (staging evq/cmdq; the loop moves them to the rings).
Every status change goes through `book.set_status` with a named transition (constants.TR_*). The
rules for late, duplicate and out-of-order venue events are in docs/engine.md; in short: a fill is
deduplicated by (client_order_id, trade_id), applied even after a cancel ack (the venue race is real
money) but never beyond the order quantity (an overfill is dropped and reported); an ack after a fill
only records the venue order id; a second cancel ack, a cancel after fill, an event for an unknown
order are counted and reported, never applied.

Accounts are isolated: an order is found by (account, client_order_id). A SubmitOrder's duplicate
check, a CancelOrder and a ModifyOrder look only in the command's account; another account's id is
answered exactly like an unknown one (`unknown_order`, nothing of the other order in the answer).

Conditional orders (stop, stop-limit, take-profit, trailing, OCO, bracket) live in conditional.py;
this module calls into it when an order ends, fills or is released.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from oms.engine import book as B
from oms.engine import conditional as X
from oms.engine import constants as C
from oms.engine import control as K
from oms.engine import risk as RK
from oms.engine import state as S
from oms.shm import records as R


@njit(cache=True, _nrt=False)
def _reject_no_slot(s, c, reason, status):
    n = B.ev_blank(s, R.ORDER_REJECTED, reason, c.seq)
    if n >= 0:
        e = s.evq[n]
        e.flags = c.flags
        e.venue = c.venue
        e.market = c.market
        e.account = c.account
        e.instrument = c.instrument
        e.client_order_id = c.client_order_id
        e.price = c.price
        e.qty = c.qty
        e.side = c.side
        e.order_type = c.order_type
        e.status = status
    s.meta[S.M_REJECTS] += 1


@njit(cache=True, _nrt=False)
def _valid_shape(c):
    t = c.order_type
    if (
        c.client_order_id == 0
        or c.client_order_id > C.MAX_COID
        or c.qty <= 0
        or (c.side != 1 and c.side != -1)
    ):
        return False
    if t < R.ORD_LIMIT or t > R.ORD_TRAILING_STOP_MARKET or c.tif > R.TIF_GTX:
        return False
    if (t == R.ORD_LIMIT or t == R.ORD_STOP_LIMIT or t == R.ORD_TAKE_PROFIT_LIMIT) and c.price <= 0:
        return False
    if t != R.ORD_LIMIT and t != R.ORD_MARKET and t != R.ORD_TRAILING_STOP_MARKET and c.trigger_price <= 0:
        return False
    if t == R.ORD_TRAILING_STOP_MARKET and c.trail <= 0:
        return False
    return c.trigger_price >= 0 and c.price >= 0


@njit(cache=True, _nrt=False)
def submit(s, c):
    a = c.account
    i = c.instrument
    if not _valid_shape(c):
        _reject_no_slot(s, c, C.R_INVALID_ORDER, C.ST_NONE)
        return C.K_REJECTED
    if i == 0 or i >= len(s.inst) or s.inst[i].active == 0:
        _reject_no_slot(s, c, C.R_UNKNOWN_INSTRUMENT, C.ST_NONE)
        return C.K_REJECTED
    if a == 0 or a >= len(s.acct) or s.acct[a].active == 0:
        _reject_no_slot(s, c, C.R_UNKNOWN_ACCOUNT, C.ST_NONE)
        return C.K_REJECTED
    old = B.idx_lookup(s, a, c.client_order_id)
    if old >= 0:  # idempotent: never sent twice; the answer names the existing order's status
        _reject_no_slot(s, c, C.R_DUPLICATE_CLIENT_ORDER_ID, s.orders[old].status)
        return C.K_REJECTED
    ins = s.inst[i]
    t = c.order_type
    if t == R.ORD_LIMIT:
        priced = True
        risk_px = c.price
    elif t == R.ORD_MARKET:
        priced = False
        risk_px = np.int64(0)
    else:
        priced = False
        risk_px = c.price if c.price > c.trigger_price else c.trigger_price
    reason = RK.check_order(s, a, i, ins.venue, c.side, c.qty, c.price, risk_px, priced, True)
    slot = B.alloc_slot(s)
    if slot < 0:
        _reject_no_slot(s, c, C.R_ORDER_TABLE_FULL, C.ST_NONE)
        return C.K_REJECTED
    o = s.orders[slot]
    o.client_order_id = c.client_order_id
    o.ref_id = c.ref_id
    o.price = c.price
    o.qty = c.qty
    o.trigger_price = c.trigger_price
    o.trail = c.trail
    o.ts_created = s.meta[S.M_NOW]
    o.ts_updated = s.meta[S.M_NOW]
    o.expire_ns = c.expire_ns
    o.seq = c.seq
    o.account = a
    o.instrument = i
    o.source = c.source
    o.venue = ins.venue
    o.market = ins.market
    o.flags = c.flags & ~np.uint16(R.FLAG_LAST_IN_BATCH)
    o.side = c.side
    o.order_type = t
    o.tif = c.tif if c.tif != 0 else R.TIF_GTC
    o.contingency = c.contingency
    o.risk_px = risk_px if risk_px > 0 else B.ref_price(ins)
    B.idx_insert(s, c.client_order_id, slot)
    if reason == C.R_NONE:
        reason = X.link(s, slot)
    if reason != C.R_NONE:
        B.set_status(s, slot, C.ST_REJECTED, C.TR_REJECT_RISK)
        X.ev_submitted(s, R.ORDER_REJECTED, o, reason, c.seq)
        s.meta[S.M_REJECTS] += 1
        return C.K_REJECTED
    B.set_leaves(s, o, c.qty)
    X.route_new(s, slot, c.seq)
    return C.K_OK


@njit(cache=True, _nrt=False)
def _unknown(s, kind, c, target):
    """Answer a cancel/modify of an id the command's account does not have. Built from the command
    alone, so an id that exists in another account answers exactly like one that exists nowhere."""
    n = B.ev_blank(s, kind, C.R_UNKNOWN_ORDER, c.seq)
    if n >= 0:
        s.evq[n].client_order_id = target
        s.evq[n].account = c.account


@njit(cache=True, _nrt=False)
def cancel(s, c):
    target = c.ref_id if c.ref_id != 0 else c.client_order_id
    slot = B.idx_lookup(s, c.account, target)
    if slot < 0:  # unknown here also means "another account's id": the answer is the same
        _unknown(s, R.CANCEL_REJECTED, c, target)
        return C.K_REJECTED
    r = X.cancel_leaf(s, slot, C.R_NONE, c.seq)
    if r != C.R_NONE:
        B.ev_order(s, R.CANCEL_REJECTED, s.orders[slot], r, c.seq)
        return C.K_REJECTED
    X.on_done(s, slot, c.seq)
    return C.K_OK


@njit(cache=True, _nrt=False)
def modify(s, c):
    target = c.ref_id if c.ref_id != 0 else c.client_order_id
    slot = B.idx_lookup(s, c.account, target)
    if slot < 0:
        _unknown(s, R.MODIFY_REJECTED, c, target)
        return C.K_REJECTED
    o = s.orders[slot]
    st = o.status
    new_px = c.price if c.price > 0 else o.price
    new_qty = c.qty if c.qty > 0 else o.qty
    reason = C.R_NONE
    if B.is_terminal(st):
        reason = C.R_ORDER_NOT_OPEN
    elif st == C.ST_PENDING_CANCEL or st == C.ST_PENDING_REPLACE or st == C.ST_PENDING_NEW:
        reason = C.R_ALREADY_PENDING
    elif new_qty <= o.cum_qty:
        reason = C.R_INVALID_ORDER
    elif new_qty > s.limits[C.L_MAX_ORDER_QTY, o.instrument]:
        reason = C.R_MAX_ORDER_QTY
    else:
        extra = new_qty - o.qty
        priced = o.order_type == R.ORD_LIMIT and c.price > 0
        if extra > 0 or priced:
            chk = extra if extra > 0 else 0
            reason = RK.check_order(
                s, o.account, o.instrument, o.venue, o.side, chk, new_px, new_px, priced, False
            )
    if reason != C.R_NONE:
        B.ev_order(s, R.MODIFY_REJECTED, o, reason, c.seq)
        return C.K_REJECTED
    if st == C.ST_EMULATED or st == C.ST_HELD:
        o.price = new_px
        o.qty = new_qty
        if c.trigger_price > 0:
            o.trigger_price = c.trigger_price
        if c.trail > 0:
            o.trail = c.trail
        if o.order_type != R.ORD_MARKET:
            o.risk_px = o.price if o.price > o.trigger_price else o.trigger_price
        B.set_leaves(s, o, new_qty - o.cum_qty)
        B.set_status(s, slot, st, C.TR_MODIFIED)
        X.ev_submitted(s, R.ORDER_MODIFIED, o, C.R_NONE, c.seq)
        return C.K_OK
    o.prev_status = st
    o.new_price = new_px
    o.new_qty = new_qty
    B.set_status(s, slot, C.ST_PENDING_REPLACE, C.TR_REPLACE_REQUEST)
    n = B.ev_order(s, R.MODIFY_ORDER, o, C.R_NONE, c.seq)
    if n >= 0:
        s.evq[n].price = new_px
        s.evq[n].qty = new_qty
    B.cmd_order(s, R.MODIFY_ORDER, o, C.SOURCE_ENGINE)
    return C.K_OK


@njit(cache=True, _nrt=False)
def on_command(s, c):
    """One COMMAND record from the gateway or the bridge."""
    s.meta[S.M_CMD_COUNT] += 1
    k = c.kind
    if k == R.SUBMIT_ORDER:
        r = submit(s, c)
    elif k == R.CANCEL_ORDER:
        r = cancel(s, c)
    elif k == R.MODIFY_ORDER:
        r = modify(s, c)
    elif k == R.CANCEL_ALL:
        K.start_cancel_all(s, c.account, c.venue, c.instrument, C.R_NONE, c.seq)
        r = C.K_OK
    elif k == R.SET_RISK_LIMIT:
        r = K.set_risk_limit(s, c)
    elif k == R.SET_TRADING_STATE:
        r = K.set_trading_state(s, c)
    elif k == R.SET_LEVERAGE or k == R.SET_MARGIN_MODE:
        r = K.futures_setting(s, c)
    else:
        n = B.ev_blank(s, R.ORDER_REJECTED, C.R_INVALID_ORDER, c.seq)
        if n >= 0:
            s.evq[n].client_order_id = c.client_order_id
        r = C.K_REJECTED
    if (c.flags & R.FLAG_LAST_IN_BATCH) != 0 and s.meta[S.M_NCMD] > 0:
        s.cmdq[s.meta[S.M_NCMD] - 1].flags |= R.FLAG_LAST_IN_BATCH
    if s.meta[S.M_CA_ACTIVE] != 0:
        return K.cancel_all_step(s)
    return r
