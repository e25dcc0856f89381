"""Engine room: njit position and PnL keeping per account × instrument (instrument = venue+market+symbol).

Touches only EngineState.pos / acct / ven / inst. A fill moves the signed quantity, the entry cost
(|qty| × average entry in tick*lots), realised PnL (closing part, at average entry), fees; `revalue`
re-marks one position at the instrument's reference price (mark > BBO mid > last) and keeps the
account's unrealised PnL and the account/venue gross notional exact by applying differences.
Linear contracts only: PnL is (exit - entry) × qty in quote units; inverse contracts are valued the
same way (documented limitation in docs/engine.md).
"""

from __future__ import annotations

from numba import njit

from oms.engine import book as B
from oms.engine import constants as C
from oms.engine import state as S


@njit(cache=True, _nrt=False)
def apply_fill(s, a, i, side, px, q, fee):
    p = s.pos[a, i]
    ins = s.inst[i]
    acct = s.acct[a]
    if side > 0:
        p.bought += q
    else:
        p.sold += q
    p.n_fills += 1
    pq = p.qty
    if pq == 0 or (pq > 0) == (side > 0):
        p.cost += px * q
        p.qty = pq + side * q
    else:
        aq = pq if pq > 0 else -pq
        close = q if q < aq else aq
        cost_close = p.cost if close == aq else p.cost // aq * close + p.cost % aq * close // aq
        sgn = 1 if pq > 0 else -1
        pnl = B.to_e8(ins, (px * close - cost_close) * sgn)
        p.realised += pnl
        acct.realised += pnl
        p.cost -= cost_close
        p.qty = pq + side * q
        rem = q - close
        if rem > 0:
            p.cost = px * rem
    p.fees += fee
    acct.fees += fee
    revalue(s, a, i)


@njit(cache=True, _nrt=False)
def revalue(s, a, i):
    p = s.pos[a, i]
    ins = s.inst[i]
    ref = B.ref_price(ins)
    aq = p.qty if p.qty >= 0 else -p.qty
    if aq == 0:
        nnot = 0
        unreal = 0
    elif ref > 0:
        nnot = B.notional(ins, ref, aq)
        sgn = 1 if p.qty > 0 else -1
        unreal = B.to_e8(ins, (ref * aq - p.cost) * sgn)
    else:
        nnot = B.to_e8(ins, p.cost)
        unreal = 0
    acct = s.acct[a]
    acct.unrealised += unreal - p.unrealised
    acct.pos_notional += nnot - p.notional
    s.ven[ins.venue].pos_notional += nnot - p.notional
    p.unrealised = unreal
    p.notional = nnot


@njit(cache=True, _nrt=False)
def revalue_instrument(s, i):
    """Re-mark every account's position in instrument i; returns how many accounts hold one."""
    n = 0
    for a in range(1, s.pos.shape[0]):
        p = s.pos[a, i]
        if p.qty != 0 or p.unrealised != 0 or p.notional != 0:
            revalue(s, a, i)
            n += 1
    return n


@njit(cache=True, _nrt=False)
def account_loss(s, a):
    """Today's loss (positive = losing): -(realised - fees + unrealised), 1e-8 quote."""
    acct = s.acct[a]
    return -(acct.realised - acct.fees + acct.unrealised)


@njit(cache=True, _nrt=False)
def equity(s, a):
    """Configured equity plus today's PnL (1e-8 quote); NO_LIMIT when equity is not configured."""
    base = s.limits[C.L_EQUITY, a]
    if base >= C.NO_LIMIT:
        return base
    return base - account_loss(s, a)


@njit(cache=True, _nrt=False)
def leverage_x100(s, i):
    """The instrument's leverage x100: the venue-confirmed one when the connector reported it, else the
    configured one (backtests, venues without leverage), else 1x."""
    lev = s.limits[C.L_VENUE_LEVERAGE_X100, i]
    if lev <= 0:
        lev = s.limits[C.L_LEVERAGE_X100, i]
    if lev <= 0:
        lev = 100
    return lev


@njit(cache=True, _nrt=False)
def margin_used(s, a, i):
    """Position notional / instrument leverage (1e-8 quote)."""
    n = s.pos[a, i].notional
    if n < 0:
        n = -n
    return n * 100 // leverage_x100(s, i)


@njit(cache=True, _nrt=False)
def venue_margin(s, a):
    """Initial margin of account `a`'s positions on instruments whose leverage the venue confirmed."""
    total = 0
    for i in range(1, s.pos.shape[1]):
        lev = s.limits[C.L_VENUE_LEVERAGE_X100, i]
        if lev > 0 and s.pos[a, i].notional != 0:
            n = s.pos[a, i].notional
            if n < 0:
                n = -n
            total += n * 100 // lev
    return total


@njit(cache=True, _nrt=False)
def roll_day(s, now):
    """Start a new daily loss window at UTC midnight (positions keep their lifetime realised PnL)."""
    day = now // 86_400_000_000_000
    if day != s.meta[S.M_DAY]:
        s.meta[S.M_DAY] = day
        for a in range(s.acct.shape[0]):
            s.acct[a].realised = 0
            s.acct[a].fees = 0
