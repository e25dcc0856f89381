"""The simulator's matching engine on its own (no server): price-time priority, partial fills, TIF
rules, fees and balances, stops, futures positions, depth-diff sequencing, seeded determinism."""

from __future__ import annotations

from decimal import Decimal

import pytest

from oms.venues.sim.binance import BinanceSim
from oms.venues.sim.binance.core import MarketCore, SimError
from oms.venues.sim.binance.orders import Order

D = Decimal


@pytest.fixture
def sim() -> BinanceSim:
    s = BinanceSim(seed=1, flow=False)
    for core in s.cores.values():  # an empty book for exact expectations
        for sym in core.specs:
            for o in list(core.open_orders(s.accounts.maker, sym)):
                core.cancel(o)
    s.flow.quotes = {k: {} for k in s.flow.quotes}
    return s


def order(
    core: MarketCore,
    acct,
    side: int,
    price: str | None,
    qty: str,
    otype: str = "LIMIT",
    tif: str = "GTC",
    sym: str = "BTCUSDT",
    **kw,
) -> Order:
    spec = core.specs[sym]
    return Order(
        order_id=core.new_id(),
        market=core.market,
        spec=spec,
        account=acct,
        client_id=f"c{core.next_id}",
        side=side,
        type=otype,
        tif=tif,
        price=int(D(price) / spec.tick) if price else 0,
        qty=int(D(qty) / spec.step),
        time=core.clock(),
        **kw,
    )


def test_price_time_priority_and_partial_fills(sim: BinanceSim) -> None:
    core = sim.cores["spot"]
    a = sim.add_api_key("a", "s").account
    b = sim.add_api_key("b", "s").account
    first = core.submit(order(core, a, -1, "60000.00", "0.3"))
    second = core.submit(order(core, b, -1, "60000.00", "0.3"))
    better = core.submit(order(core, b, -1, "59999.99", "0.1"))
    taker = core.submit(order(core, a, 1, "60000.00", "0.5"))
    assert [core.fmt_px(taker.spec, f.price) for f in taker.fills] == [
        "59999.99000000",
        "60000.00000000",
        "60000.00000000",
    ]
    assert better.status == "FILLED" and first.status == "FILLED"  # best price first, then time priority
    assert second.status == "PARTIALLY_FILLED" and second.executed == int(D("0.1") / D("0.00001"))
    assert taker.status == "FILLED" and taker.cum_quote == D("59999.99") * D("0.1") + D("60000") * D("0.4")


def test_fees_and_balances_are_exact(sim: BinanceSim) -> None:
    core = sim.cores["spot"]
    seller = sim.add_api_key("s1", "s").account
    buyer = sim.add_api_key("b1", "s").account
    core.submit(order(core, seller, -1, "50000.00", "0.2"))
    assert seller.spot["BTC"] == [D("9.8"), D("0.2")]
    core.submit(order(core, buyer, 1, None, "0.2", otype="MARKET"))
    assert buyer.spot["BTC"][0] == D("10") + D("0.2") * (1 - D("0.001"))
    assert buyer.spot["USDT"] == [D("100000") - D("10000"), D(0)]
    assert seller.spot["USDT"][0] == D("100000") + D("10000") * (1 - D("0.001"))
    assert seller.spot["BTC"] == [D("9.8"), D(0)]


def test_buy_limit_locks_and_refunds_price_improvement(sim: BinanceSim) -> None:
    core = sim.cores["spot"]
    maker = sim.add_api_key("m", "s").account
    taker = sim.add_api_key("t", "s").account
    core.submit(order(core, maker, -1, "49000.00", "0.1"))
    o = core.submit(order(core, taker, 1, "50000.00", "0.2"))  # fills 0.1 at 49000, rests 0.1 at 50000
    assert o.status == "PARTIALLY_FILLED"
    assert taker.spot["USDT"][1] == D("5000")  # what still rests: 0.1 × 50000
    assert taker.spot["USDT"][0] == D("100000") - D("4900") - D("5000")
    core.cancel(o)
    assert taker.spot["USDT"] == [D("100000") - D("4900"), D(0)]


def test_tif_rules(sim: BinanceSim) -> None:
    spot, fut = sim.cores["spot"], sim.cores["usdm"]
    mm = sim.accounts.maker
    u = sim.add_api_key("u", "s").account
    spot.submit(order(spot, mm, -1, "60000.00", "0.1"))
    ioc = spot.submit(order(spot, u, 1, "60000.00", "0.3", tif="IOC"))
    assert (ioc.status, ioc.executed) == ("EXPIRED", int(D("0.1") / D("0.00001")))
    spot.submit(order(spot, mm, -1, "60000.00", "0.1"))
    fok = spot.submit(order(spot, u, 1, "60000.00", "0.3", tif="FOK"))
    assert (fok.status, fok.executed) == ("EXPIRED", 0)  # spot FOK expires whole
    with pytest.raises(SimError) as e:
        spot.submit(order(spot, u, 1, "60000.00", "0.01", otype="LIMIT_MAKER"))
    assert (e.value.code, e.value.msg) == (-2010, "Order would immediately match and take.")
    fut.submit(order(fut, mm, -1, "60000.0", "0.1"))
    with pytest.raises(SimError) as e:
        fut.submit(order(fut, u, 1, "60000.0", "0.5", tif="FOK"))
    assert e.value.code == -5021
    with pytest.raises(SimError) as e:
        fut.submit(order(fut, u, 1, "60000.0", "0.01", tif="GTX"))
    assert e.value.code == -5022


def test_spot_stop_triggers_on_trade(sim: BinanceSim) -> None:
    core = sim.cores["spot"]
    mm = sim.accounts.maker
    u = sim.add_api_key("u", "s").account
    core.submit(order(core, mm, -1, "60000.00", "1"))
    core.submit(order(core, mm, 1, None, "0.01", otype="MARKET"))  # last trade 60000
    stop = order(
        core, u, 1, "60100.00", "0.01", otype="STOP_LOSS_LIMIT", stop_price=int(D("60050") / D("0.01"))
    )
    core.submit(stop)
    assert stop.status == "NEW" and not stop.is_working
    with pytest.raises(SimError, match="would trigger immediately"):
        core.submit(
            order(
                core,
                u,
                1,
                "60000.00",
                "0.01",
                otype="STOP_LOSS_LIMIT",
                stop_price=int(D("59000") / D("0.01")),
            )
        )
    core.submit(order(core, mm, -1, "60060.00", "1"))
    core.submit(order(core, mm, 1, "60060.00", "1.5"))  # trades through 60060 ≥ stop
    assert stop.status == "FILLED" and stop.type == "STOP_LOSS_LIMIT"


def test_futures_position_pnl_and_reduce_only(sim: BinanceSim) -> None:
    fut = sim.cores["usdm"]
    mm = sim.accounts.maker
    u = sim.add_api_key("f", "s").account
    fut.submit(order(fut, mm, -1, "60000.0", "1"))
    fut.submit(order(fut, u, 1, None, "0.1", otype="MARKET"))
    pos = u.positions["BTCUSDT"]
    assert (pos.amt, pos.entry) == (D("0.1"), D("60000"))
    fee_open = D("6000") * D("0.0005")
    with pytest.raises(SimError) as e:
        fut.submit(order(fut, u, 1, None, "0.1", otype="MARKET", reduce_only=True))
    assert e.value.code == -2022
    fut.submit(order(fut, mm, 1, "61000.0", "1"))
    fut.submit(order(fut, u, -1, None, "0.1", otype="MARKET", reduce_only=True))
    fee_close = D("6100") * D("0.0005")
    assert pos.amt == 0
    assert u.wallet["USDT"] == D("100000") + D("100") - fee_open - fee_close
    with pytest.raises(SimError) as e:
        fut.submit(order(fut, u, 1, "59000.0", "50"))  # 2.95M notional at 20x needs 147.5k margin
    assert (e.value.code, e.value.msg) == (-2019, "Margin is insufficient.")


def test_depth_diffs_chain_and_snapshot_alignment(sim: BinanceSim) -> None:
    core = sim.cores["spot"]
    seen: list[dict] = []
    sim.hub._send = lambda market, stream, p: seen.append(p) if stream.endswith("@depth") else None
    sim.hub.flush_depth("spot", "BTCUSDT")
    core.submit(order(core, sim.accounts.maker, 1, "59000.00", "1"))
    core.submit(order(core, sim.accounts.maker, -1, "61000.00", "1"))
    snap = sim.snapshot("spot", "BTCUSDT", 10)  # flushes first: lastUpdateId == an emitted u
    assert snap["lastUpdateId"] == seen[-1]["u"]
    core.submit(order(core, sim.accounts.maker, 1, "59500.00", "1"))
    sim.hub.flush_depth("spot", "BTCUSDT")
    assert seen[-1]["U"] == snap["lastUpdateId"] + 1
    assert seen[-1]["b"] == [["59500.00000000", "1.00000000"]]
    assert snap["bids"][0] == ["59000.00000000", "1.00000000"]


def test_seeded_flow_is_deterministic() -> None:
    def run(seed: int) -> list:
        s = BinanceSim(seed=seed, flow=False)
        for _ in range(30):
            s.flow.step()
        return [s.snapshot(m, "BTCUSDT", 5) for m in ("spot",)] + [s.cores["spot"].last_px.get("BTCUSDT")]

    assert run(42) == run(42)
    assert run(42) != run(43)


def test_futures_algo_stop_triggers_and_leverage_margin(sim: BinanceSim) -> None:
    from oms.venues.sim.binance.core import AlgoOrder

    fut = sim.cores["usdm"]
    mm = sim.accounts.maker
    u = sim.add_api_key("algo", "s").account
    spec = fut.specs["BTCUSDT"]
    fut.submit(order(fut, mm, -1, "60000.0", "5"))
    fut.submit(order(fut, mm, 1, None, "0.1", otype="MARKET"))  # last 60000
    algo = AlgoOrder(
        algo_id=fut.new_id(),
        client_algo_id="stop1",
        account=u,
        spec=spec,
        side=1,
        order_type="STOP_MARKET",
        qty=int(D("0.2") / spec.step),
        price=0,
        trigger=int(D("60050") / spec.tick),
        working_type="CONTRACT_PRICE",
        reduce_only=False,
        close_position=False,
        tif="GTC",
        time=fut.clock(),
    )
    fut.algos[algo.algo_id] = algo
    fut.submit(order(fut, mm, 1, None, "0.1", otype="MARKET"))  # still 60000: no trigger
    assert algo.status == "NEW"
    fut.submit(order(fut, mm, -1, "60100.0", "1"))
    fut.submit(order(fut, mm, 1, "60100.0", "4.9"))  # prints 60100 ≥ 60050
    assert algo.status == "FINISHED" and algo.actual_order_id
    triggered = fut.orders[algo.actual_order_id]
    assert (triggered.status, triggered.orig_type, triggered.client_id) == ("FILLED", "STOP_MARKET", "stop1")
    assert u.positions["BTCUSDT"].amt == D("0.2")
    # leverage decides the initial margin: 1.5 BTC ≈ 90k notional needs 90k at 1x, 4.5k at 20x
    u.positions["BTCUSDT"].leverage = 1
    fut.submit(order(fut, mm, -1, "60200.0", "5"))
    with pytest.raises(SimError) as e:
        fut.submit(order(fut, u, 1, "60200.0", "1.9"))
    assert e.value.code == -2019
    u.positions["BTCUSDT"].leverage = 20
    assert fut.submit(order(fut, u, 1, "60200.0", "1.9")).status == "FILLED"


@pytest.mark.parametrize(
    ("mode", "maker_status", "taker_status"),
    [
        ("EXPIRE_TAKER", "NEW", "EXPIRED_IN_MATCH"),
        ("EXPIRE_MAKER", "EXPIRED_IN_MATCH", "FILLED"),
        ("EXPIRE_BOTH", "EXPIRED_IN_MATCH", "EXPIRED_IN_MATCH"),
        ("NONE", "FILLED", "FILLED"),
    ],
)
def test_self_trade_prevention(sim: BinanceSim, mode: str, maker_status: str, taker_status: str) -> None:
    core = sim.cores["spot"]
    me = sim.add_api_key("stp", "s").account
    other = sim.add_api_key("other", "s").account
    mine = core.submit(order(core, me, -1, "60000.00", "0.1"))
    core.submit(order(core, other, -1, "60000.01", "0.1"))
    taker = core.submit(order(core, me, 1, "60000.01", "0.1", stp_mode=mode))
    assert (mine.status, taker.status) == (maker_status, taker_status)
    assert me.spot["BTC"][1] == (D("0.1") if maker_status == "NEW" else D(0))  # expired makers unlock


def test_trailing_stop_follows_the_high_then_fires(sim: BinanceSim) -> None:
    from oms.venues.sim.binance.core import AlgoOrder

    fut = sim.cores["usdm"]
    mm = sim.accounts.maker
    u = sim.add_api_key("trail", "s").account
    spec = fut.specs["BTCUSDT"]

    def print_at(px: str) -> None:
        fut.submit(order(fut, mm, -1, px, "1"))
        fut.submit(order(fut, mm, 1, px, "1"))

    print_at("60000.0")
    fut.submit(order(fut, mm, -1, "60000.0", "1"))
    fut.submit(order(fut, u, 1, None, "0.1", otype="MARKET"))  # long 0.1
    algo = AlgoOrder(
        algo_id=fut.new_id(),
        client_algo_id="trail1",
        account=u,
        spec=spec,
        side=-1,
        order_type="TRAILING_STOP_MARKET",
        qty=int(D("0.1") / spec.step),
        price=0,
        trigger=0,
        working_type="CONTRACT_PRICE",
        reduce_only=True,
        close_position=False,
        tif="GTC",
        time=fut.clock(),
        callback_rate=D("1"),
        activate=int(D("60400") / spec.tick),
    )
    fut.algos[algo.algo_id] = algo
    print_at("60300.0")  # below activation: not tracking yet
    assert algo.extreme == 0
    print_at("60500.0")
    print_at("60100.0")  # 0.66 % off the high: holds
    assert algo.status == "NEW" and algo.extreme == int(D("60500") / spec.tick)
    fut.submit(order(fut, mm, 1, "59800.0", "5"))  # liquidity for the stop to sell into
    print_at("59890.0")  # ≥ 1 % below 60500 (59895): fires
    assert algo.status == "FINISHED"
    assert u.positions["BTCUSDT"].amt == 0


def test_finished_market_maker_orders_are_forgotten() -> None:
    s = BinanceSim(seed=3, flow=False)
    for _ in range(200):
        s.flow.step()
    for core in s.cores.values():
        open_mm = sum(len(ids) for (uid, _), ids in core.open_ids.items() if uid == s.accounts.maker.uid)
        assert len(core.orders) == open_mm  # nothing finished is kept for the synthetic flow
        assert open_mm <= 2 * s.cfg.book_levels * len(core.specs)
