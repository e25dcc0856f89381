"""Engine room: rebuild EngineState from the engine's own event log (restart recovery, backtests).

Touches only the EngineState it is given. The events are the truth: OrderSubmitted (and a risk
OrderRejected) carries the whole order definition (packing in conditional.ev_submitted); every later
event carries the order's status, cum/leaves qty and price/qty after the change; OrderFilled carries
the fill that moves the position; RiskLimitChanged / TradingStateChanged carry the control changes.
Replay runs with meta[M_REPLAY] = 1 so nothing is staged for the rings. Forwarded venue events that
changed nothing (unknown order, late, duplicate fill, overfill) and duplicate-id answers are skipped.

Not rebuilt (market-dependent, restored by the next market data): unrealised PnL and notional at the
reference price, trailing-stop high/low water marks, token-bucket levels.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from oms.engine import book as B
from oms.engine import conditional as X
from oms.engine import constants as C
from oms.engine import control as K
from oms.engine import positions as P
from oms.engine import state as S
from oms.shm import records as R


@njit(cache=True, _nrt=False)
def _tr_for(kind):
    if kind == R.ORDER_ACCEPTED:
        return C.TR_ACCEPT
    if kind == R.ORDER_FILLED:
        return C.TR_FILL
    if kind == R.ORDER_CANCELED:
        return C.TR_CANCELED
    if kind == R.CANCEL_ORDER:
        return C.TR_CANCEL_REQUEST
    if kind == R.MODIFY_ORDER:
        return C.TR_REPLACE_REQUEST
    if kind == R.ORDER_MODIFIED:
        return C.TR_MODIFIED
    if kind == R.ORDER_REJECTED:
        return C.TR_REJECTED
    if kind == R.ORDER_EXPIRED:
        return C.TR_EXPIRED
    if kind == R.ORDER_TRIGGERED:
        return C.TR_TRIGGERED
    if kind == R.CANCEL_REJECTED:
        return C.TR_CANCEL_REJECTED
    if kind == R.MODIFY_REJECTED:
        return C.TR_MODIFY_REJECTED
    return C.TR_SUBMIT


@njit(cache=True, _nrt=False)
def _create(s, e):
    slot = B.alloc_slot(s)
    if slot < 0:
        return -1
    o = s.orders[slot]
    o.client_order_id = e.client_order_id
    o.ref_id = e.trade_id
    o.price = e.price
    o.qty = e.qty
    o.trigger_price = e.fee
    o.trail = e.fee_asset
    o.expire_ns = e.ts_venue_ns
    packed = e.venue_order_id
    o.tif = packed & np.uint64(0xFF)
    o.contingency = (packed >> np.uint64(8)) & np.uint64(0xFF)
    o.native = (packed >> np.uint64(16)) & np.uint64(0xFF)
    o.send_type = (packed >> np.uint64(24)) & np.uint64(0xFF)
    o.seq = e.ref_seq
    o.account = e.account
    o.instrument = e.instrument
    o.venue = e.venue
    o.market = e.market
    o.flags = e.flags
    o.side = e.side
    o.order_type = e.order_type
    o.ts_created = e.ts_ns
    o.ts_updated = e.ts_ns
    if o.order_type == R.ORD_LIMIT:
        o.risk_px = o.price
    elif o.order_type == R.ORD_MARKET:
        o.risk_px = e.price
        o.price = 0
    else:
        o.risk_px = o.price if o.price > o.trigger_price else o.trigger_price
    B.idx_insert(s, o.client_order_id, slot)
    return slot


@njit(cache=True, _nrt=False)
def apply_event(s, e):
    """Apply one engine EVENT to the state (meta[M_REPLAY] must be 1)."""
    k = e.kind
    if k == R.RISK_LIMIT_CHANGED:
        if e.status == 1:
            lid = e.order_type
            if e.trade_id == C.SCOPE_ALL:
                s.limits[lid, :] = e.qty
            else:
                s.limits[lid, e.trade_id] = e.qty
        return
    if k == R.TRADING_STATE_CHANGED:
        if e.status <= C.TS_HALTED and e.account < len(s.acct):
            s.acct[e.account].state = e.status
        return
    if k == R.LEVERAGE_CHANGED or k == R.MARGIN_MODE_CHANGED or k == R.POSITION_REPORT:
        K.futures_report(s, e)
        return
    if e.client_order_id == 0 or e.status == C.ST_NONE:
        return
    if e.reason == C.R_DUPLICATE_CLIENT_ORDER_ID:
        return  # the answer to a repeated SubmitOrder: the existing order did not change
    if e.reason == C.R_LATE_EVENT and k != R.ORDER_FILLED:
        return
    if k == R.ORDER_FILLED and (
        e.reason == C.R_DUPLICATE_FILL or e.reason == C.R_OVERFILL or e.reason == C.R_INVALID_ORDER
    ):
        return
    slot = B.idx_lookup(s, e.account, e.client_order_id)
    if k == R.ORDER_SUBMITTED or (k == R.ORDER_REJECTED and slot < 0):
        if slot >= 0:
            return
        slot = _create(s, e)
        if slot < 0:
            return
        o = s.orders[slot]
        if e.status != C.ST_REJECTED:
            X.link(s, slot)
        B.set_status(s, slot, e.status, C.TR_REJECT_RISK if e.status == C.ST_REJECTED else C.TR_SUBMIT)
        if not B.is_terminal(e.status):
            B.set_leaves(s, o, e.leaves_qty)
        if e.status == C.ST_EMULATED:
            B.emu_add(s, slot)
        return
    if slot < 0:
        return
    o = s.orders[slot]
    if e.venue_order_id != 0 and k != R.ORDER_MODIFIED and k != R.ORDER_TRIGGERED:
        o.venue_order_id = e.venue_order_id
    if k == R.ORDER_FILLED:
        B.trade_seen(s, o.client_order_id, e.trade_id)
        o.cum_qty = e.cum_qty
        o.fill_cost += e.price * e.qty
        o.fee += e.fee
        P.apply_fill(s, o.account, o.instrument, o.side, e.price, e.qty, e.fee)
    elif k == R.ORDER_MODIFIED:
        o.price = e.price
        o.qty = e.qty
        if e.status == C.ST_EMULATED or e.status == C.ST_HELD:
            o.trigger_price = e.fee
            o.trail = e.fee_asset
        if o.order_type != R.ORD_MARKET:
            o.risk_px = o.price if o.price > o.trigger_price else o.trigger_price
    elif k == R.MODIFY_ORDER:
        o.prev_status = o.status
        o.new_price = e.price
        o.new_qty = e.qty
    elif k == R.CANCEL_ORDER:
        if o.status != C.ST_PENDING_REPLACE:
            o.prev_status = o.status
    elif k == R.ORDER_TRIGGERED and o.qty != e.qty:
        o.qty = e.qty  # bracket child activated with the entry's filled qty
    if e.status != o.status:
        if o.status == C.ST_EMULATED:
            B.emu_remove(s, slot)
        if e.status == C.ST_EMULATED:
            B.emu_add(s, slot)
        B.set_status(s, slot, e.status, _tr_for(k))
    if not B.is_terminal(o.status):
        B.set_leaves(s, o, e.leaves_qty)


@njit(cache=True, _nrt=False)
def replay(s, events, n):
    """Apply events[0:n] in order; returns how many were applied."""
    s.meta[S.M_REPLAY] = 1
    for j in range(n):
        apply_event(s, events[j])
        if events[j].seq > s.meta[S.M_EVSEQ]:
            s.meta[S.M_EVSEQ] = events[j].seq
    s.meta[S.M_REPLAY] = 0
    return n
