"""`BinanceExchange` (the Exchange Protocol adapter) against the Binance simulator, spot and USD-M."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal

import pytest

from oms.errors import Rejected, Transient
from oms.testing import eventually_async
from oms.venues.binance.exchange import BinanceExchange
from oms.venues.binance.parse import BookDelta, OrderUpdate
from oms.venues.instruments import InstrumentRegistry
from oms.venues.interface import ModifyRequest, OrderRequest
from oms.venues.registry import default_registry
from oms.venues.sim.binance import BinanceSim

KEY, SECRET = "adapter-key", "adapter-secret"


@pytest.fixture
async def sim() -> AsyncIterator[BinanceSim]:
    s = BinanceSim(seed=5)
    await s.start()
    s.add_api_key(KEY, SECRET)
    try:
        yield s
    finally:
        await s.stop()


def make(sim: BinanceSim, market: str) -> BinanceExchange:
    stream = sim.ws_url if market == "spot" else sim.ws_url + "/fstream"
    ex = default_registry().create(
        "binance",
        market,
        rest_url=sim.url,
        stream_url=stream,
        ws_api_url=sim.ws_url + "/ws-api/v3",
        api_key=KEY,
        secret=SECRET,
    )
    assert isinstance(ex, BinanceExchange)
    return ex


async def test_spot_verbs(sim: BinanceSim, tmp_path) -> None:
    ex = make(sim, "spot")
    try:
        assert abs(await ex.server_time() - sim.now()) < 2000
        reg = InstrumentRegistry.open(tmp_path / "instruments.json")
        insts = reg.load(await ex.instruments())
        btc = reg.resolve("BTC/USDT")
        assert btc.tick_size == Decimal("0.01") and len(insts) == 3
        bid = Decimal(sim.state()["markets"]["spot"]["BTCUSDT"]["best_bid"])
        px = (bid * Decimal("0.95")).quantize(Decimal("0.01"))
        o = await ex.submit(OrderRequest("BTCUSDT", 1, "limit", Decimal("0.01"), px, client_id="a1"))
        assert (o.status, o.client_id, o.price) == ("new", "a1", px)
        m = await ex.modify(ModifyRequest("BTCUSDT", 1, Decimal("0.02"), px - 1, client_id="a1"))
        assert m.status == "new" and m.qty == Decimal("0.02") and m.order_id != o.order_id
        assert [x.order_id for x in await ex.open_orders("BTCUSDT")] == [m.order_id]
        st = await ex.order_status("BTCUSDT", order_id=m.order_id)
        assert st.price == px - 1
        c = await ex.cancel("BTCUSDT", order_id=m.order_id)
        assert c.status == "canceled"
        f = await ex.submit(OrderRequest("BTCUSDT", -1, "market", Decimal("0.01")))
        assert f.status == "filled" and f.avg_price is not None
        bal = {b.asset: b for b in await ex.balances()}
        assert bal["BTC"].free == Decimal("9.99") and bal["USDT"].locked == 0
        fees = await ex.fee_rates("BTCUSDT")
        assert (fees.maker, fees.taker) == (Decimal("0.001"), Decimal("0.001"))
        with pytest.raises(Rejected) as e:
            await ex.submit(OrderRequest("BTCUSDT", 1, "limit", Decimal("0.01"), Decimal("1.001")))
        assert e.value.code == "-1013" and e.value.venue == "binance"
        with pytest.raises(Rejected, match="reduce-only"):
            await ex.submit(OrderRequest("BTCUSDT", 1, "market", Decimal("0.01"), reduce_only=True))
    finally:
        await ex.close()


async def test_usdm_verbs_batch_positions(sim: BinanceSim) -> None:
    ex = make(sim, "usdm")
    try:
        mark = Decimal(sim.state()["markets"]["usdm"]["BTCUSDT"]["mark"])
        px = (mark * Decimal("0.97")).quantize(Decimal("0.1"))
        res = await ex.submit_batch(
            [
                OrderRequest("BTCUSDT", 1, "limit", Decimal("0.01"), px),
                OrderRequest("BTCUSDT", 1, "limit", Decimal("0.01"), px + Decimal("0.05")),
            ]
        )
        assert res[0].status == "new"  # type: ignore[union-attr]
        assert isinstance(res[1], Rejected) and res[1].code == "-4014"
        moved = await ex.modify(
            ModifyRequest("BTCUSDT", 1, Decimal("0.02"), px - 1, order_id=res[0].order_id)
        )
        assert moved.qty == Decimal("0.02") and moved.order_id == res[0].order_id
        canceled = await ex.cancel_all("BTCUSDT")
        assert [c.status for c in canceled] == ["canceled"]
        fill = await ex.submit(OrderRequest("BTCUSDT", 1, "market", Decimal("0.01")))
        assert fill.status == "filled"
        pos = await ex.positions()
        assert [(p.symbol, p.qty) for p in pos] == [("BTCUSDT", Decimal("0.01"))]
        stop = await ex.submit(
            OrderRequest(
                "BTCUSDT",
                -1,
                "stop_market",
                Decimal("0.01"),
                stop_price=(mark * Decimal("0.8")).quantize(Decimal("0.1")),
                reduce_only=True,
            )
        )
        assert stop.status == "pending" and stop.reduce_only is True
    finally:
        await ex.close()


async def test_streams_through_adapter(sim: BinanceSim) -> None:
    spot = make(sim, "spot")
    fut = make(sim, "usdm")
    md: list[object] = []
    user: list[object] = []
    try:
        sub_md = await fut.subscribe_market_data(["BTCUSDT"], ["depth", "markPrice"], md.append)
        sub_user = await spot.subscribe_user_data(user.append)
        await spot.submit(OrderRequest("ETHUSDT", 1, "market", Decimal("0.1")))
        await eventually_async(
            lambda: any(isinstance(e, OrderUpdate) and e.status == "filled" for e in user), 5
        )
        await eventually_async(lambda: any(isinstance(e, BookDelta) for e in md), 5)
        deltas = [e for e in md if isinstance(e, BookDelta)]
        assert all(d.prev_last_id is not None for d in deltas)
        await sub_md.close()
        await sub_user.close()
    finally:
        await spot.close()
        await fut.close()


async def test_rate_limit_and_outage_map_to_transient(sim: BinanceSim) -> None:
    ex = make(sim, "spot")
    try:
        sim.faults.set(error_5xx=1)
        with pytest.raises(Transient):
            await ex.server_time()  # a read that failed: safe to retry
        sim.faults.set(error_5xx=1, execute_before_5xx=True)
        from oms.errors import OutcomeUnknown

        with pytest.raises(OutcomeUnknown):
            await ex.submit(
                OrderRequest("BTCUSDT", 1, "limit", Decimal("0.001"), Decimal("50000.00"), client_id="lost1")
            )
        assert (await ex.order_status("BTCUSDT", client_id="lost1")).status == "new"
        await sim.stop()
        with pytest.raises(Transient, match="cannot connect"):
            await ex.server_time()
    finally:
        await ex.close()


async def test_registry_refresh_falls_back_to_cache(sim: BinanceSim, tmp_path) -> None:
    path = tmp_path / "instruments.json"
    ex = make(sim, "usdm")
    try:
        first = await InstrumentRegistry.open(path).refresh(ex)
        assert {i.symbol for i in first} == {"BTCUSDT", "ETHUSDT", "BTCUSDT_260925"}
        await sim.stop()
        cached = await InstrumentRegistry.open(path).refresh(ex)  # venue down: served from the file
        assert sorted((i.id, i.symbol) for i in cached) == sorted((i.id, i.symbol) for i in first)
        with pytest.raises(Transient):
            await InstrumentRegistry(tmp_path / "empty.json").refresh(ex)
    finally:
        await ex.close()
