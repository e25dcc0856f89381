"""Engine room: pre-trade risk as one njit function on int64 fields, each check a named reason.

Touches only EngineState (reads limits/positions/instruments, debits the token buckets of an order
that passes). Checks run in this order and the first failure is the reject reason (constants.R_*):

 1. trading state: HALTED rejects all; REDUCING passes only orders that shrink the position
 2. max order qty (per instrument, lots)            qty > limit rejects; qty == limit passes
 3. reference price / price deviation (bps, per instrument): |px - ref| * 10000 > bps * ref rejects
 4. max order notional (per account, 1e-8 quote)
 5. max position per instrument (lots, worst case incl. open orders on the same side)
 6. max position notional per account (gross positions + open orders + this order)
 7. max leverage per account: (gross + this order) * 100 > leverage_x100 * equity rejects
 7b. margin at the venue's leverage (instruments whose leverage the venue confirmed, accounts with an
    equity): initial margin of the account's positions on such instruments + this order's notional /
    this instrument's venue leverage > equity rejects (risk.insufficient_margin); orders that only
    reduce a position pass. Open orders are not counted. One pass over the instruments.
 8. per-venue exposure (gross positions + open orders on the venue + this order)
 9. order rate token buckets, per account then per venue (burst = one second of rate); tokens are
    taken only when every check passed.

Arithmetic saturates instead of wrapping (`sat_add`, `sat_mul`; notional is HUGE on overflow): a limit
price so far from the reference that |px - ref| * 10000 would not fit in int64 is a price deviation,
and sums of exposures clamp at INT64_MAX, so no input can wrap a check into passing.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from oms.engine import book as B
from oms.engine import constants as C
from oms.engine import positions as P

NS = 1_000_000_000
I64_MAX = np.int64(0x7FFFFFFFFFFFFFFF)
I64_MIN = np.int64(-0x7FFFFFFFFFFFFFFF - 1)
MAX_PX = np.int64(I64_MAX // 10000)  # a limit price above this cannot be compared without overflow


@njit(cache=True, _nrt=False, inline="always")
def sat_add(a, b):
    """a + b in int64, clamped to [I64_MIN, I64_MAX] instead of wrapping (risk sums must never wrap
    a huge exposure into a small or negative one)."""
    # tested before adding: LLVM treats signed overflow as impossible and folds an after-the-fact check
    if b > 0 and a > I64_MAX - b:
        return I64_MAX
    if b < 0 and a < I64_MIN - b:
        return I64_MIN
    return a + b


@njit(cache=True, _nrt=False, inline="always")
def sat_mul(a, b):
    """a * b for a, b >= 0, clamped to I64_MAX."""
    if a <= 0 or b <= 0:
        return np.int64(0)
    if a > I64_MAX // b:
        return I64_MAX
    return a * b


@njit(cache=True, _nrt=False)
def is_reducing(p, side, qty):
    """True when an order of `side`/`qty` can only shrink the position (counting open orders)."""
    if p.qty == 0 or (p.qty > 0) == (side > 0):
        return False
    aq = p.qty if p.qty > 0 else -p.qty
    pending = p.open_buy if side > 0 else p.open_sell
    return qty + pending <= aq


@njit(cache=True, _nrt=False)
def _bucket_ok(tokens, last_ns, rate, now):
    """Tokens (x1e9) after refill; returns the new level (caller compares with NS)."""
    cap = rate * NS
    el = now - last_ns
    if el < 0:
        el = 0
    if last_ns == 0 or el >= NS:
        return cap
    t = tokens + el * rate
    return cap if t > cap else t


@njit(cache=True, _nrt=False)
def check_order(s, a, i, v, side, qty, limit_px, risk_px, priced, check_rate):
    """Return R_NONE or the first failing reason. `risk_px` prices the notional (0 = use reference)."""
    acct = s.acct[a]
    p = s.pos[a, i]
    ins = s.inst[i]
    st = acct.state
    if st == C.TS_HALTED:
        return C.R_TRADING_HALTED
    if st == C.TS_REDUCING and not is_reducing(p, side, qty):
        return C.R_REDUCE_ONLY_STATE
    lim = s.limits
    if qty > lim[C.L_MAX_ORDER_QTY, i]:
        return C.R_MAX_ORDER_QTY
    ref = B.ref_price(ins)
    dev = lim[C.L_PRICE_DEVIATION_BPS, i]
    if priced and dev > 0:
        if ref <= 0:
            return C.R_NO_REFERENCE_PRICE
        diff = limit_px - ref if limit_px > ref else ref - limit_px
        if diff < 0 or diff > MAX_PX:  # |px - ref| * 10000 would not fit in int64 (or px - ref wrapped)
            return C.R_PRICE_DEVIATION
        if diff * 10000 > sat_mul(dev, ref):
            return C.R_PRICE_DEVIATION
    px = risk_px
    if px <= 0:
        px = ref
    if px <= 0:
        return C.R_NO_REFERENCE_PRICE
    nn = B.notional(ins, px, qty)
    if nn > lim[C.L_MAX_ORDER_NOTIONAL, a]:
        return C.R_MAX_ORDER_NOTIONAL
    worst = (
        sat_add(sat_add(p.qty, p.open_buy), qty) if side > 0 else sat_add(sat_add(-p.qty, p.open_sell), qty)
    )
    if worst > lim[C.L_MAX_POSITION_QTY, i]:
        return C.R_MAX_POSITION_INSTRUMENT
    gross = sat_add(sat_add(acct.pos_notional, acct.open_notional), nn)
    if gross > lim[C.L_MAX_POSITION_NOTIONAL, a]:
        return C.R_MAX_POSITION_ACCOUNT
    lev = lim[C.L_MAX_LEVERAGE_X100, a]
    if lev > 0:
        eq = P.equity(s, a)
        if eq <= 0:
            return C.R_MAX_LEVERAGE
        # gross * 100 > lev * eq, exact in int64 when both products fit (checked in float: no idiv)
        if float(eq) * float(lev) < 9.0e18 and float(gross) * 100.0 < 9.0e18:
            if gross * 100 > eq * lev:
                return C.R_MAX_LEVERAGE
        elif float(gross) * 100.0 > float(eq) * float(lev):
            return C.R_MAX_LEVERAGE
    vlev = lim[C.L_VENUE_LEVERAGE_X100, i]
    if vlev > 0 and not is_reducing(p, side, qty):
        eq = P.equity(s, a)
        if eq < C.NO_LIMIT and P.venue_margin(s, a) + nn * 100 // vlev > eq:
            return C.R_INSUFFICIENT_MARGIN
    vn = s.ven[v]
    if sat_add(sat_add(vn.pos_notional, vn.open_notional), nn) > lim[C.L_MAX_VENUE_EXPOSURE, v]:
        return C.R_VENUE_EXPOSURE
    if check_rate:
        now = s.meta[6]  # S.M_NOW
        ra = lim[C.L_RATE_ACCOUNT, a]
        rv = lim[C.L_RATE_VENUE, v]
        ta = np.int64(0)
        tv = np.int64(0)
        if ra > 0:
            ta = _bucket_ok(acct.tokens, acct.token_ns, ra, now)
            if ta < NS:
                acct.tokens = ta
                acct.token_ns = now
                return C.R_RATE_ACCOUNT
        if rv > 0:
            tv = _bucket_ok(vn.tokens, vn.token_ns, rv, now)
            if tv < NS:
                vn.tokens = tv
                vn.token_ns = now
                if ra > 0:
                    acct.tokens = ta
                    acct.token_ns = now
                return C.R_RATE_VENUE
        if ra > 0:
            acct.tokens = ta - NS
            acct.token_ns = now
        if rv > 0:
            vn.tokens = tv - NS
            vn.token_ns = now
    return C.R_NONE
