"""Market-data room: the njit kernels that turn MARKET records into books, VWAP/TWAP and arbitrage
signals. Touches only the arrays it is given (plus the engine ring passed in).

State (`MdState`, all numpy, n = instrument rows, D = book depth, W = VWAP/TWAP buckets, G = pair groups):

| array      | shape        | meaning                                                              |
|------------|--------------|----------------------------------------------------------------------|
| top        | n × 6  i8    | bid_px, bid_qty, ask_px, ask_qty, mark_px, ts_ns (ticks/lots)        |
| book       | n × 2 × D × 2| side 0 bids (desc), 1 asks (asc); [price ticks, qty lots]; qty 0 = empty |
| tick_e8    | n      i8    | tick size × 1e8: price_e8 = ticks × tick_e8 (cross-venue comparable)  |
| fee_ppm    | n      i8    | taker fee in millionths (arbitrage is net of both legs' taker fees)  |
| group      | n      i4    | unified pair group (BTC/USDT on every venue = one group), -1 none    |
| members    | G × M  i4    | instruments of each group (-1 padded)                                |
| buckets    | n × W × 5 f8 | bucket id, Σ px·qty, Σ qty (trades → VWAP), Σ mid·dt, Σ dt (→ TWAP)  |
| last_mid   | n × 2  f8    | last mid (ticks) and its ns time, for TWAP integration               |
| arb        | G × 6  i8    | in-arb flag, buy instrument, sell instrument, edge (bp×100), ts, count |

Arbitrage: within a group, the best net bid (bid × (1 − fee)) above the best net ask (ask × (1 + fee))
on another instrument is an opportunity; a signal is emitted when a group enters that state (edge ≥
`min_edge_bp100`), not on every tick while it stays there.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from oms.shm import records as R
from oms.shm import ring as RG

T_BID, T_BIDQ, T_ASK, T_ASKQ, T_MARK, T_TS = 0, 1, 2, 3, 4, 5
B_ID, B_PQ, B_Q, B_MIDDT, B_DT = 0, 1, 2, 3, 4
A_IN, A_BUY, A_SELL, A_EDGE, A_TS, A_COUNT = 0, 1, 2, 3, 4, 5

# counters (stats array)
C_RECORDS, C_FORWARDED, C_ENGINE_DROPS, C_BOOK_OVERFLOW, C_SIGNALS, C_UNKNOWN = 0, 1, 2, 3, 4, 5
N_COUNTERS = 8


@njit(cache=True)
def book_apply(book: np.ndarray, i: int, side: int, px: int, qty: int, clear: bool) -> bool:
    """Set level `px` of instrument i's side (1 bid, -1 ask) to `qty` (0 removes). Keeps the top D
    levels sorted; False when a new level falls beyond depth D (dropped, counted by the caller)."""
    s = 0 if side > 0 else 1
    lv = book[i, s]
    d = lv.shape[0]
    if clear:
        lv[:, :] = 0
    # find position: bids descending, asks ascending; empty slots (qty 0) at the end
    k = 0
    while k < d and lv[k, 1] != 0:
        if lv[k, 0] == px:
            break
        if (s == 0 and lv[k, 0] < px) or (s == 1 and lv[k, 0] > px):
            break
        k += 1
    if k < d and lv[k, 1] != 0 and lv[k, 0] == px:
        if qty > 0:
            lv[k, 1] = qty
        else:  # remove: shift left
            for j in range(k, d - 1):
                lv[j, 0] = lv[j + 1, 0]
                lv[j, 1] = lv[j + 1, 1]
            lv[d - 1, 0] = 0
            lv[d - 1, 1] = 0
        return True
    if qty <= 0:
        return True  # removing a level we do not hold (beyond depth): nothing to do
    if k >= d:
        return False
    for j in range(d - 1, k, -1):
        lv[j, 0] = lv[j - 1, 0]
        lv[j, 1] = lv[j - 1, 1]
    lv[k, 0] = px
    lv[k, 1] = qty
    return True


@njit(cache=True)
def _bucket(buckets: np.ndarray, i: int, ts_ns: int, bucket_ns: int) -> int:
    w = buckets.shape[1]
    bid = ts_ns // bucket_ns
    k = bid % w
    if buckets[i, k, B_ID] != bid:
        buckets[i, k, :] = 0.0
        buckets[i, k, B_ID] = bid
    return k


@njit(cache=True)
def vwap_twap(buckets: np.ndarray, i: int, now_ns: int, bucket_ns: int) -> tuple[float, float]:
    """(VWAP, TWAP) in ticks over the last W buckets ending at now_ns; NaN when there is no data."""
    w = buckets.shape[1]
    newest = now_ns // bucket_ns
    pq = q = md = dt = 0.0
    for k in range(w):
        b = buckets[i, k, B_ID]
        if b > newest - w and b <= newest:
            pq += buckets[i, k, B_PQ]
            q += buckets[i, k, B_Q]
            md += buckets[i, k, B_MIDDT]
            dt += buckets[i, k, B_DT]
    return (pq / q if q > 0 else np.nan), (md / dt if dt > 0 else np.nan)


@njit(cache=True)
def _arb_check(g: int, ts: int, top: np.ndarray, tick_e8: np.ndarray, fee_ppm: np.ndarray,
               members: np.ndarray, arb: np.ndarray, min_edge_bp100: int) -> bool:  # fmt: skip
    best_bid = -1.0
    best_ask = -1.0
    bi = -1
    ai = -1
    for m in range(members.shape[1]):
        j = members[g, m]
        if j < 0:
            break
        if top[j, T_BIDQ] > 0:
            nb = top[j, T_BID] * tick_e8[j] * (1.0 - fee_ppm[j] * 1e-6)
            if nb > best_bid:
                best_bid, bi = nb, j
        if top[j, T_ASKQ] > 0:
            na = top[j, T_ASK] * tick_e8[j] * (1.0 + fee_ppm[j] * 1e-6)
            if ai < 0 or na < best_ask:
                best_ask, ai = na, j
    inside = False
    edge = 0
    if bi >= 0 and ai >= 0 and bi != ai and best_ask > 0:
        edge = int((best_bid - best_ask) / best_ask * 1e6)  # bp × 100
        inside = edge >= min_edge_bp100
    was = arb[g, A_IN] != 0
    if inside:
        arb[g, A_BUY] = ai
        arb[g, A_SELL] = bi
        arb[g, A_EDGE] = edge
        arb[g, A_TS] = ts
    arb[g, A_IN] = 1 if inside else 0
    if inside and not was:
        arb[g, A_COUNT] += 1
        return True
    return False


@njit(cache=True, _nrt=False)
def process(recs: np.ndarray, n: int, top: np.ndarray, book: np.ndarray, buckets: np.ndarray,
            last_mid: np.ndarray, bucket_ns: int, tick_e8: np.ndarray, fee_ppm: np.ndarray,
            group: np.ndarray, members: np.ndarray, arb: np.ndarray, min_edge_bp100: int,
            eng_ctrl: np.ndarray, eng_buf: np.ndarray, use_engine: bool,
            signals: np.ndarray, stats: np.ndarray) -> int:  # fmt: skip
    """Apply `n` MARKET records; returns the number of arbitrage signals written to `signals`
    (rows: group, buy instrument, sell instrument, edge bp×100, ts)."""
    ns = 0
    rows = top.shape[0]
    for r in range(n):
        rec = recs[r]
        i = np.int64(rec.instrument)
        stats[C_RECORDS] += 1
        if i >= rows:
            stats[C_UNKNOWN] += 1
            continue
        k = rec.kind
        ts = rec.ts_ns
        if k == R.MD_DELTA:
            if not book_apply(book, i, rec.side, rec.price, rec.qty, (rec.flags & R.MD_FLAG_CLEAR) != 0):
                stats[C_BOOK_OVERFLOW] += 1
            continue  # deltas stay here: the engine trades on BBO, trades and marks
        if k == R.MD_BBO:
            top[i, T_BID] = rec.price
            top[i, T_BIDQ] = rec.qty
            top[i, T_ASK] = rec.ask_price
            top[i, T_ASKQ] = rec.ask_qty
            top[i, T_TS] = ts
            if rec.qty > 0 and rec.ask_qty > 0:
                mid = 0.5 * (rec.price + rec.ask_price)
                if last_mid[i, 1] > 0 and ts > last_mid[i, 1]:
                    kb = _bucket(buckets, i, ts, bucket_ns)
                    dt = ts - last_mid[i, 1]
                    buckets[i, kb, B_MIDDT] += last_mid[i, 0] * dt
                    buckets[i, kb, B_DT] += dt
                last_mid[i, 0] = mid
                last_mid[i, 1] = ts
            g = group[i]
            if g >= 0 and _arb_check(g, ts, top, tick_e8, fee_ppm, members, arb, min_edge_bp100):
                if ns < signals.shape[0]:
                    signals[ns, 0] = g
                    signals[ns, 1] = arb[g, A_BUY]
                    signals[ns, 2] = arb[g, A_SELL]
                    signals[ns, 3] = arb[g, A_EDGE]
                    signals[ns, 4] = ts
                    ns += 1
                stats[C_SIGNALS] += 1
        elif k == R.MD_TRADE:
            kb = _bucket(buckets, i, ts, bucket_ns)
            buckets[i, kb, B_PQ] += float(rec.price) * float(rec.qty)
            buckets[i, kb, B_Q] += float(rec.qty)
        elif k == R.MD_MARK:
            top[i, T_MARK] = rec.price
        else:
            stats[C_UNKNOWN] += 1
            continue
        if use_engine:
            if RG.push(eng_ctrl, eng_buf, recs, r):
                stats[C_FORWARDED] += 1
            else:
                stats[C_ENGINE_DROPS] += 1
    return ns
