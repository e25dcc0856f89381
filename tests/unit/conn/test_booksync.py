"""Depth sync (venue-neutral BookSync) with Binance's spot and USD-M rules: gaps, stale snapshots,
book equality."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from oms.conn.booksync import Action
from oms.conn.booksync import BookSync as _BookSync
from oms.venues.binance.adapter import ADAPTER
from oms.venues.interface import DepthDiff


def BookSync(market: str, **kw) -> _BookSync:
    return _BookSync(ADAPTER.data.book_rule(market), **kw)


def DepthEvent(U: int, u: int, pu: int, bids, asks) -> DepthDiff:
    return DepthDiff("X", U, u, pu, bids, asks)


def ev(U: int, u: int, bids=(), asks=(), pu: int = -1) -> DepthEvent:
    return DepthEvent(U, u, pu, list(bids), list(asks))


def test_spot_buffer_snapshot_then_apply() -> None:
    b = BookSync("spot", to_ticks=lambda s: int(s), to_lots=lambda s: int(s))
    assert b.on_event(ev(99, 100, bids=[("10", "1")])) is Action.NONE  # stale after snapshot 100
    assert b.on_event(ev(101, 103, bids=[("11", "2")], asks=[("13", "5")])) is Action.NONE
    assert b.on_snapshot(100, [("10", "3")], [("12", "4")]) is Action.APPLIED
    assert b.best() == (11, 2, 12, 4)
    assert b.on_event(ev(104, 104, asks=[("12", "0")])) is Action.APPLIED
    assert b.best() == (11, 2, 13, 5)


def test_spot_gap_forces_resync() -> None:
    b = BookSync("spot", to_ticks=int, to_lots=int)
    b.on_snapshot(10, [("1", "1")], [("2", "1")])
    assert b.on_event(ev(11, 12)) is Action.APPLIED
    assert b.on_event(ev(14, 15)) is Action.NEED_SNAPSHOT  # 13 missing
    assert not b.synced and b.gaps == 1
    assert b.on_snapshot(15, [("1", "2")], [("3", "1")]) is Action.APPLIED
    assert b.best() == (1, 2, 3, 1)


def test_snapshot_older_than_stream_is_refetched() -> None:
    b = BookSync("spot", to_ticks=int, to_lots=int)
    b.on_event(ev(50, 55))
    assert b.on_snapshot(40, [], []) is Action.NEED_SNAPSHOT
    assert b.on_snapshot(52, [("5", "1")], []) is Action.APPLIED  # 50 <= 53 <= 55 bridges


def test_usdm_uses_pu_chain() -> None:
    b = BookSync("usdm", to_ticks=int, to_lots=int)
    b.on_event(ev(95, 100, pu=94, bids=[("9", "1")]))
    assert b.on_snapshot(98, [("8", "1")], [("10", "1")]) is Action.APPLIED  # U <= 98 <= u
    assert b.on_event(ev(101, 105, pu=100, asks=[("10", "0"), ("11", "2")])) is Action.APPLIED
    assert b.best() == (9, 1, 11, 2)
    assert b.on_event(ev(107, 110, pu=106)) is Action.NEED_SNAPSHOT


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 10_000), drop=st.booleans(), market=st.sampled_from(["spot", "usdm"]))
def test_book_equals_truth_after_any_stream(seed: int, drop: bool, market: str) -> None:
    """A random venue book and its diff stream (maybe with one lost event): whenever BookSync says it is
    synced, its book equals the venue's book at that update id."""
    rng = random.Random(seed)
    truth: dict[int, dict[int, int]] = {1: {}, -1: {}}
    history: list[tuple[int, dict[int, dict[int, int]]]] = []
    events: list[DepthEvent] = []
    uid = 1000
    prev = uid
    for _ in range(60):
        first = uid + 1
        uid += rng.randint(1, 3)
        bids, asks = [], []
        for _ in range(rng.randint(1, 4)):
            side = rng.choice((1, -1))
            price = rng.randint(1, 20) if side == 1 else rng.randint(21, 40)
            qty = rng.choice((0, rng.randint(1, 9)))
            (bids if side == 1 else asks).append((str(price), str(qty)))
            if qty:
                truth[side][price] = qty
            else:
                truth[side].pop(price, None)
        events.append(DepthEvent(first, uid, prev, bids, asks))
        prev = uid
        history.append((uid, {1: dict(truth[1]), -1: dict(truth[-1])}))
    lost = rng.randrange(10, len(events) - 1) if drop else -1  # a later event reveals it
    b = BookSync(market, to_ticks=int, to_lots=int)
    snap_at = rng.randrange(0, 8)
    snap_id, snap_book = history[snap_at]
    for i, e in enumerate(events):
        if i == lost:
            continue
        act = b.on_event(e)
        if i == 8:
            act = b.on_snapshot(
                snap_id,
                [(str(p), str(q)) for p, q in snap_book[1].items()],
                [(str(p), str(q)) for p, q in snap_book[-1].items()],
            )
        if act is Action.NEED_SNAPSHOT:
            sid, sb = history[i]
            b.on_snapshot(
                sid,
                [(str(p), str(q)) for p, q in sb[1].items()],
                [(str(p), str(q)) for p, q in sb[-1].items()],
            )
        if b.synced:
            want = dict(history)[b.last_id]
            assert b.bids == want[1] and b.asks == want[-1]
    if drop:
        assert b.gaps >= 1
