"""Market-data kernels: bounded books, VWAP/TWAP, arbitrage net of fees."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from oms.engine.instruments import InstrumentSpec
from oms.marketdata import kernels as K
from oms.marketdata.service import MdConfig, MdState
from oms.shm import records as R


@settings(max_examples=80, deadline=None)
@given(ops=st.lists(st.tuples(st.sampled_from([1, -1]), st.integers(1, 30), st.integers(0, 5)), max_size=120))
def test_book_keeps_best_levels_sorted(ops) -> None:
    d = 8
    book = np.zeros((1, 2, d, 2), np.int64)
    truth: dict[int, dict[int, int]] = {1: {}, -1: {}}
    for side, px, qty in ops:
        K.book_apply(book, 0, side, px, qty, False)
        if qty:
            truth[side][px] = qty
        else:
            truth[side].pop(px, None)
    bids = [(int(p), int(q)) for p, q in book[0, 0] if q]
    asks = [(int(p), int(q)) for p, q in book[0, 1] if q]
    # every level shown is true and sorted; what is shown is a prefix of the true best levels
    # as long as no level was pushed out of depth and later uncovered
    assert bids == sorted(bids, reverse=True) and asks == sorted(asks)
    assert all(truth[1].get(p) == q for p, q in bids)
    assert all(truth[-1].get(p) == q for p, q in asks)
    if len(truth[1]) <= d:
        assert bids == sorted(truth[1].items(), reverse=True)
    if len(truth[-1]) <= d:
        assert asks == sorted(truth[-1].items())


def _specs() -> list[InstrumentSpec]:
    def btc(i: int, v: int) -> InstrumentSpec:
        return InstrumentSpec(i, v, 1, 1, 1, "BTC", "USDT", "BTCUSDT", Decimal("0.01"), Decimal("0.00001"))

    eth = InstrumentSpec(2, 1, 1, 1, 1, "ETH", "USDT", "ETHUSDT", Decimal("0.01"), Decimal("0.0001"))
    return [btc(0, 1), btc(1, 2), eth]


def _run(state: MdState, recs: np.ndarray, min_edge_bp100: int = 100) -> np.ndarray:
    sig = np.zeros((16, 5), np.int64)
    dummy_ctrl = np.zeros(64, np.uint64)
    ns = K.process(
        recs,
        len(recs),
        state.top,
        state.book,
        state.buckets,
        state.last_mid,
        1_000_000_000,
        state.tick_e8,
        state.fee_ppm,
        state.group,
        state.members,
        state.arb,
        min_edge_bp100,
        dummy_ctrl,
        np.zeros(1, R.MARKET),
        False,
        sig,
        state.stats,
    )
    return sig[:ns]


def bbo(i: int, bid: int, ask: int, ts: int) -> np.void:
    r = np.zeros(1, R.MARKET)[0]
    r["kind"], r["instrument"], r["price"], r["qty"] = R.MD_BBO, i, bid, 5
    r["ask_price"], r["ask_qty"], r["ts_ns"] = ask, 5, ts
    return r


def test_arbitrage_is_net_of_taker_fees_and_signalled_once() -> None:
    fees = {0: Decimal("0.001"), 1: Decimal("0.001"), 2: Decimal("0.001")}
    st_ = MdState.build(_specs(), MdConfig(depth=4, buckets=4), fees)
    # venue 1: 100.00/100.10 ; venue 2: bid 100.25 -> gross edge 15 bp, fees 20 bp -> no arb
    recs = np.array([bbo(0, 10000, 10010, 1), bbo(1, 10025, 10030, 2)], R.MARKET)
    assert len(_run(st_, recs)) == 0
    # venue 2 bid jumps to 100.40: gross 30 bp, net ~10 bp >= 1 bp threshold -> one signal
    sig = _run(st_, np.array([bbo(1, 10040, 10045, 3), bbo(1, 10041, 10045, 4)], R.MARKET))
    assert len(sig) == 1
    g, buy, sell, edge, ts = sig[0]
    assert (buy, sell, ts) == (0, 1, 3) and 900 <= edge <= 1100  # ~10 bp
    assert st_.arb[g, K.A_IN] == 1
    # ETH on its own never arbitrages against BTC (another group)
    assert len(_run(st_, np.array([bbo(2, 1, 2, 5)], R.MARKET))) == 0


def test_vwap_and_twap() -> None:
    st_ = MdState.build(_specs(), MdConfig(depth=4, buckets=10), {})
    t = np.zeros(3, R.MARKET)
    t["kind"], t["instrument"], t["ts_ns"] = R.MD_TRADE, 0, 10**9
    t["price"], t["qty"] = [100, 110, 90], [1, 3, 0]
    _run(st_, t)
    # mid 100 for 1 s, then mid 200 for 3 s
    _run(
        st_,
        np.array(
            [bbo(0, 99, 101, 2 * 10**9), bbo(0, 199, 201, 3 * 10**9), bbo(0, 1, 3, 6 * 10**9)], R.MARKET
        ),
    )
    vwap, twap = K.vwap_twap(st_.buckets, 0, 6 * 10**9, 10**9)
    assert vwap == (100 * 1 + 110 * 3) / 4
    assert twap == (100 * 1 + 200 * 3) / 4
    vwap, twap = K.vwap_twap(st_.buckets, 0, 60 * 10**9, 10**9)  # window moved past all data
    assert np.isnan(vwap) and np.isnan(twap)
