"""Engine room: njit control kernels — cancel-all (resumable cursor), trading state, risk limits, loss limit.

Touches only EngineState. Cancel-all walks the order table from a cursor kept in meta and stops at
the staging high-water mark (K_MORE), so a kill switch over a million orders never overflows the
staging buffers: the loop flushes to the rings and calls `cancel_all_step` again before reading more
input. Trading state is per account: ACTIVE -> REDUCING (only risk-reducing orders) -> HALTED (every
open order canceled, every new order rejected); every change is a TradingStateChanged event, every
SetRiskLimit a RiskLimitChanged event (order_type = limit id, trade_id = scope, price = old value,
qty = new value, status 1 = applied / 0 = refused with `reason`).
"""

from __future__ import annotations

from numba import njit

from oms.engine import book as B
from oms.engine import conditional as X
from oms.engine import constants as C
from oms.engine import positions as P
from oms.engine import state as S
from oms.shm import records as R


@njit(cache=True, _nrt=False)
def start_cancel_all(s, account, venue, instrument, reason, ref_seq):
    s.meta[S.M_CA_ACTIVE] = 1
    s.meta[S.M_CA_CURSOR] = 0
    s.meta[S.M_CA_ACCOUNT] = account
    s.meta[S.M_CA_VENUE] = venue
    s.meta[S.M_CA_INSTRUMENT] = instrument
    s.meta[S.M_CA_REASON] = reason
    s.meta[S.M_CA_SEQ] = ref_seq
    s.meta[S.M_CA_COUNT] = 0


@njit(cache=True, _nrt=False)
def cancel_all_step(s):
    """Cancel matching open orders from the cursor on; K_MORE when staging passed its high-water mark."""
    if s.meta[S.M_CA_ACTIVE] == 0:
        return C.K_OK
    a = s.meta[S.M_CA_ACCOUNT]
    v = s.meta[S.M_CA_VENUE]
    i = s.meta[S.M_CA_INSTRUMENT]
    reason = s.meta[S.M_CA_REASON]
    seq = s.meta[S.M_CA_SEQ]
    hw_ev = len(s.evq) // 2
    hw_cmd = len(s.cmdq) // 2
    cap = len(s.orders)
    slot = s.meta[S.M_CA_CURSOR]
    while slot < cap:
        if s.meta[S.M_NEV] >= hw_ev or s.meta[S.M_NCMD] >= hw_cmd:
            s.meta[S.M_CA_CURSOR] = slot
            return C.K_MORE
        o = s.orders[slot]
        st = o.status
        if (  # noqa: SIM102 - the filter, then the action
            st != C.ST_NONE
            and not B.is_terminal(st)
            and st != C.ST_PENDING_CANCEL
            and (a == 0 or o.account == a)
            and (v == 0 or o.venue == v)
            and (i == 0 or o.instrument == i)
        ):
            if X.cancel_leaf(s, slot, reason, seq) == C.R_NONE:
                s.meta[S.M_CA_COUNT] += 1
        slot += 1
    s.meta[S.M_CA_ACTIVE] = 0
    # the CancelAll's own answer (the gateway's ack even when nothing was open): qty = orders acted on
    n = B.ev_blank(s, R.CANCEL_ALL, reason, seq)
    if n >= 0:
        e = s.evq[n]
        e.account = a
        e.venue = v
        e.instrument = i
        e.qty = s.meta[S.M_CA_COUNT]
    return C.K_OK


@njit(cache=True, _nrt=False)
def change_state(s, a, new_state, cause, ref_seq):
    """An operator's command (ref_seq != 0) is always answered, also when the state is already the asked
    one (price = status = that state): the gateway waits for an answer to every command it relays."""
    old = s.acct[a].state
    if old == new_state and ref_seq == 0:
        return
    s.acct[a].state = new_state
    n = B.ev_blank(s, R.TRADING_STATE_CHANGED, cause, ref_seq)
    if n >= 0:
        s.evq[n].account = a
        s.evq[n].status = new_state
        s.evq[n].price = old


@njit(cache=True, _nrt=False)
def check_loss(s, a):
    """Daily loss limit: loss >= reduce limit moves ACTIVE -> REDUCING; loss >= halt limit -> HALTED."""
    s.meta[S.M_LOSS_CHECKS] += 1
    loss = P.account_loss(s, a)
    st = s.acct[a].state
    halt = s.limits[C.L_DAILY_LOSS_HALT, a]
    if halt < C.NO_LIMIT and loss >= halt and st != C.TS_HALTED:
        change_state(s, a, C.TS_HALTED, C.R_DAILY_LOSS, 0)
        start_cancel_all(s, a, 0, 0, C.R_KILL_SWITCH, 0)
        return
    red = s.limits[C.L_DAILY_LOSS_REDUCE, a]
    if red < C.NO_LIMIT and loss >= red and st == C.TS_ACTIVE:
        change_state(s, a, C.TS_REDUCING, C.R_DAILY_LOSS, 0)


@njit(cache=True, _nrt=False)
def set_trading_state(s, c):
    new_state = c.param_id
    if new_state > C.TS_HALTED:
        n = B.ev_blank(s, R.TRADING_STATE_CHANGED, C.R_BAD_TRADING_STATE, c.seq)
        if n >= 0:
            s.evq[n].status = 255
        return C.K_REJECTED
    scope = c.param_scope
    before = s.meta[S.M_EVSEQ]
    for a in range(1, len(s.acct)):
        if scope == C.SCOPE_ALL or scope == a:
            change_state(s, a, new_state, C.R_NONE, c.seq)
    if s.meta[S.M_EVSEQ] == before:  # already in that state: still answer, or the sender waits in vain
        n = B.ev_blank(s, R.TRADING_STATE_CHANGED, C.R_NONE, c.seq)
        if n >= 0:
            s.evq[n].account = 0 if scope == C.SCOPE_ALL or scope >= len(s.acct) else scope
            s.evq[n].status = new_state
            s.evq[n].price = new_state
    if new_state == C.TS_HALTED:
        start_cancel_all(s, 0 if scope == C.SCOPE_ALL else scope, 0, 0, C.R_KILL_SWITCH, c.seq)
    return C.K_OK


@njit(cache=True, _nrt=False)
def set_risk_limit(s, c):
    lid = c.param_id
    scope = c.param_scope
    rows = s.limits.shape[1]
    reason = C.R_NONE
    if lid == 0 or lid >= C.N_LIMITS or lid == C.L_VENUE_LEVERAGE_X100:  # only the venue sets that one
        reason = C.R_UNKNOWN_LIMIT
    elif (scope != C.SCOPE_ALL and scope >= rows) or c.param_value < 0:
        reason = C.R_INVALID_ORDER
    n = B.ev_blank(s, R.RISK_LIMIT_CHANGED, reason, c.seq)
    if n >= 0:
        e = s.evq[n]
        e.order_type = lid if lid < 256 else 255
        e.trade_id = scope
        e.qty = c.param_value
        e.status = 1 if reason == C.R_NONE else 0
        e.price = s.limits[lid, 0 if scope == C.SCOPE_ALL else scope] if reason == C.R_NONE else 0
    if reason != C.R_NONE:
        return C.K_REJECTED
    if scope == C.SCOPE_ALL:
        s.limits[lid, :] = c.param_value
    else:
        s.limits[lid, scope] = c.param_value
    return C.K_OK


@njit(cache=True, _nrt=False)
def futures_setting(s, c):
    """SetLeverage / SetMarginMode: checked here, then handed to the instrument's connector, whose
    LeverageChanged / MarginModeChanged (the venue's answer) is the command's answer. A command the
    engine refuses is answered at once with the same kind, status 0 and the reason."""
    i = c.instrument
    a = c.account
    kind = R.LEVERAGE_CHANGED if c.kind == R.SET_LEVERAGE else R.MARGIN_MODE_CHANGED
    reason = C.R_NONE
    if i == 0 or i >= len(s.inst) or s.inst[i].active == 0:
        reason = C.R_UNKNOWN_INSTRUMENT
    elif a == 0 or a >= len(s.acct) or s.acct[a].active == 0:
        reason = C.R_UNKNOWN_ACCOUNT
    elif c.kind == R.SET_LEVERAGE:
        if c.param_value < 100 or c.param_value > 100_000:  # 1x .. 1000x
            reason = C.R_INVALID_ORDER
    elif c.param_id != R.MARGIN_CROSS and c.param_id != R.MARGIN_ISOLATED:
        reason = C.R_INVALID_ORDER
    if reason != C.R_NONE:
        n = B.ev_blank(s, kind, reason, c.seq)
        if n >= 0:
            e = s.evq[n]
            e.account = a
            e.instrument = i
            e.venue = c.venue
            e.market = c.market
        return C.K_REJECTED
    n = s.meta[S.M_NCMD]
    if n >= len(s.cmdq) or s.meta[S.M_REPLAY] != 0:
        return C.K_IGNORED
    s.cmdq[n] = c
    s.meta[S.M_NCMD] = n + 1
    out = s.cmdq[n]
    out.venue = s.inst[i].venue
    out.market = s.inst[i].market
    out.flags = 0
    out.ts_ns = s.meta[S.M_NOW]
    return C.K_OK


@njit(cache=True, _nrt=False)
def futures_report(s, ev):
    """The venue's view of an instrument (LeverageChanged / MarginModeChanged / PositionReport): its
    confirmed leverage becomes the one the margin check uses."""
    i = ev.instrument
    if ev.status == 1 and ev.cum_qty > 0 and 0 < i < s.limits.shape[1]:
        s.limits[C.L_VENUE_LEVERAGE_X100, i] = ev.cum_qty
