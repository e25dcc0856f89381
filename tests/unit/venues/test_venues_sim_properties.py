"""Property tests of the simulator's spot matching engine: after any sequence of orders and cancels
among three funded accounts, the book is never crossed, level totals equal resting quantities, every
open order locks exactly what it can still spend, and no asset is created or destroyed (fees aside)."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from oms.venues.sim.binance import BinanceSim
from oms.venues.sim.binance.core import SimError
from oms.venues.sim.binance.orders import Order

D = Decimal
OP = st.tuples(
    st.sampled_from(["limit", "limit", "limit", "market", "ioc", "fok", "maker", "cancel"]),
    st.integers(0, 2),  # account
    st.sampled_from([1, -1]),  # side
    st.integers(-10, 10),  # price offset in ticks around 60000.00
    st.integers(1, 50),  # quantity in lots of 0.001
)


def fresh() -> BinanceSim:
    sim = BinanceSim(seed=0, flow=False)
    core = sim.cores["spot"]
    for sym in core.specs:
        for o in list(core.open_orders(sim.accounts.maker, sym)):
            core.cancel(o)
    return sim


def totals(accts: list) -> dict[str, Decimal]:
    out: dict[str, Decimal] = {}
    for a in accts:
        for asset, (free, locked) in a.spot.items():
            out[asset] = out.get(asset, D(0)) + free + locked
    return out


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=st.lists(OP, min_size=1, max_size=60))
def test_spot_engine_invariants(ops: list[tuple[str, int, int, int, int]]) -> None:
    sim = fresh()
    core = sim.cores["spot"]
    spec = core.specs["BTCUSDT"]
    accts = [sim.add_api_key(f"k{i}", "s").account for i in range(3)]
    before = totals(accts)
    lot = int(D("0.001") / spec.step)
    for kind, who, side, off, q in ops:
        acct = accts[who]
        if kind == "cancel":
            mine = core.open_orders(acct, "BTCUSDT")
            if mine:
                core.cancel(mine[off % len(mine)])
            continue
        otype = {"market": "MARKET", "maker": "LIMIT_MAKER"}.get(kind, "LIMIT")
        tif = {"ioc": "IOC", "fok": "FOK"}.get(kind, "GTC")
        o = Order(
            order_id=core.new_id(),
            market="spot",
            spec=spec,
            account=acct,
            client_id=f"c{core.next_id}",
            side=side,
            type=otype,
            tif=tif,
            price=0 if otype == "MARKET" else 6_000_000 + off,
            qty=q * lot,
            time=core.clock(),
        )
        try:
            core.submit(o)
        except SimError as e:
            assert e.code == -2010
        book = core.books["BTCUSDT"]
        bb, ba = book.best_bid(), book.best_ask()
        assert bb is None or ba is None or bb < ba, "book crossed"
        for (s, px), total in book.level_qty.items():
            queue = (book.bids if s > 0 else book.asks)[px]
            assert total == sum(x.leaves for x in queue) > 0
        for a in accts:
            for oo in core.open_orders(a, "BTCUSDT"):
                want = spec.tick * oo.price * spec.step * oo.leaves if oo.side > 0 else spec.step * oo.leaves
                assert oo.locked == want
            for asset, (free, locked) in a.spot.items():
                assert free >= 0 and locked >= 0, (asset, free, locked)
    event(f"trades>0: {any(core.fills.get(a.uid) for a in accts)}")
    fees: dict[str, Decimal] = {}
    for a in accts:
        for t in core.fills.get(a.uid, []):
            fees[t.fee_asset] = fees.get(t.fee_asset, D(0)) + t.fee
    after = totals(accts)
    for asset, amount in before.items():
        assert after[asset] + fees.get(asset, D(0)) == amount, asset


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=st.lists(OP, min_size=1, max_size=60))
def test_futures_engine_is_zero_sum(ops: list[tuple[str, int, int, int, int]]) -> None:
    sim = fresh()
    core = sim.cores["usdm"]
    for o in list(core.open_orders(sim.accounts.maker, "BTCUSDT")):
        core.cancel(o)
    spec = core.specs["BTCUSDT"]
    accts = [sim.add_api_key(f"f{i}", "s").account for i in range(3)]
    start = sum(a.wallet["USDT"] for a in accts)
    for kind, who, side, off, q in ops:
        acct = accts[who]
        if kind == "cancel":
            mine = core.open_orders(acct, "BTCUSDT")
            if mine:
                core.cancel(mine[off % len(mine)])
            continue
        otype = "MARKET" if kind == "market" else "LIMIT"
        tif = {"ioc": "IOC", "fok": "FOK", "maker": "GTX"}.get(kind, "GTC")
        o = Order(
            order_id=core.new_id(),
            market="usdm",
            spec=spec,
            account=acct,
            client_id=f"c{core.next_id}",
            side=side,
            type=otype,
            tif=tif,
            price=0 if otype == "MARKET" else 600_000 + off,
            qty=q,
            time=core.clock(),
        )
        try:
            core.submit(o)
        except SimError as e:
            assert e.code in (-5021, -5022, -2019)
        book = core.books["BTCUSDT"]
        bb, ba = book.best_bid(), book.best_ask()
        assert bb is None or ba is None or bb < ba
        assert sum(a.position("BTCUSDT", 20).amt for a in accts) == 0  # every contract has two sides
    fees = sum(t.fee for a in accts for t in core.fills.get(a.uid, []))
    mark = D("60000")
    pnl = sum(a.wallet["USDT"] for a in accts) + fees - start + sum(a.upnl({"BTCUSDT": mark}) for a in accts)
    assert abs(pnl) < D("1e-9"), pnl  # realized + unrealized PnL is zero-sum at any common mark
