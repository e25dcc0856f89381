"""Bus room: market data and positions on NATS, with real programs and a real nats-server (JetStream).

1. The stack part that carries market data: Binance simulator (its synthetic flow moving the book) →
   connector process → marketdata process → md.bridge ring → bridge process → `market.binance.spot.BTCUSDT`
   and the MARKET_BINANCE stream.
2. The publisher on its own: BBOs of one interval conflated to the last, every trade kept, one frame per
   instrument, unknown instruments skipped.
3. The engine's position feed: a fill → `positions.binance.spot.BTCUSDT` (and the POSITIONS stream).
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import signal
import subprocess
import sys
import uuid
from decimal import Decimal
from pathlib import Path

import msgspec
import nats
import numpy as np

from oms.bus import frames as F
from oms.bus.market import MarketPublisher
from oms.bus.streams import ensure_streams
from oms.engine.report import PositionChanged, PositionFeed
from oms.services.nats import NatsServer
from oms.shm import names
from oms.shm import records as R
from oms.shm.ring import Ring
from oms.testing import eventually_async
from oms.venues.instruments import Instrument, InstrumentRegistry
from oms.venues.sim.binance import SimThread, point_python_binance
from tests.integration.bus.conftest import bus_settings, write_toml
from tests.integration.conn.conftest import API_KEY, API_SECRET, Connector

ROOT = Path(__file__).resolve().parents[3]


def _registry(path: Path) -> None:
    InstrumentRegistry(path).load(
        Instrument(0, "binance", m, s, f"{b}/USDT", b, "USDT", "", Decimal("0.01"), Decimal("0.00001"))
        for m, s, b in (("spot", "BTCUSDT", "BTC"), ("spot", "ETHUSDT", "ETH"), ("usdm", "BTCUSDT", "BTC"))
    )


def _stop(p: subprocess.Popen[bytes]) -> int:
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(20)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(5)
    return int(p.returncode)


async def test_bbo_from_the_running_stack_reaches_nats_and_the_market_stream(
    nats_js: NatsServer, tmp_path: Path
) -> None:
    prefix = "md" + uuid.uuid4().hex[:8]
    bus = bus_settings(nats_js.admin_url, tmp_path, market_interval_ms=50)
    config = write_toml(tmp_path / "oms.toml", bus)
    _registry(tmp_path / "instruments.json")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMS_NO_SPIN": "1"}
    nc = await nats.connect(nats_js.admin_url)
    got: list[tuple[str, np.ndarray]] = []

    async def on_msg(m: nats.aio.msg.Msg) -> None:
        got.append((m.subject, F.decode(m.data)[1].copy()))

    await nc.subscribe("market.binance.spot.BTCUSDT", cb=on_msg)
    sim = SimThread(seed=5, flow=True).start()
    sim.call(sim.sim.add_api_key, API_KEY, API_SECRET)
    restore = point_python_binance(sim.url, sim.ws_url)
    conn = Connector(sim, tmp_path, prefix, md_capacity=1 << 14)
    procs: list[subprocess.Popen[bytes]] = []
    try:
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "oms.procs.bridge", "--config", config, "--prefix", prefix, "--no-intake",
             "--create-rings", "1024", "--instruments", str(tmp_path / "instruments.json")],
            env=env, cwd=tmp_path, stderr=open(tmp_path / "bridge.err", "wb"),  # noqa: SIM115
        ))  # fmt: skip
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "oms.procs.marketdata", "--prefix", prefix, "--venues", "binance",
             "--instruments", str(tmp_path / "instruments.toml")],
            env=env, cwd=ROOT, stderr=open(tmp_path / "marketdata.err", "wb"),  # noqa: SIM115
        ))  # fmt: skip
        conn.start()
        js = nc.jetstream()

        def bbos() -> list[np.ndarray]:
            return [r for s, recs in got for r in recs if r["kind"] == R.MD_BBO]

        await eventually_async(
            lambda: len(bbos()) >= 5, 60, message="5 BBO frames on market.binance.spot.BTCUSDT"
        )
        assert {s for s, _ in got} == {"market.binance.spot.BTCUSDT"}
        for b in bbos():
            assert b["instrument"] == 1 and 0 < b["price"] < b["ask_price"] and b["qty"] > 0
        assert len({(int(b["price"]), int(b["ask_price"])) for b in bbos()}) >= 2  # the book moved

        async def stored() -> int:
            return int((await js.stream_info("MARKET_BINANCE")).state.messages)

        await eventually_async(stored, 10, message="MARKET_BINANCE holds the frames")
        sub = await js.pull_subscribe(
            "market.binance.spot.BTCUSDT", durable="md-check", stream="MARKET_BINANCE"
        )
        msg = (await sub.fetch(1, timeout=5))[0]
        h, recs = F.decode(msg.data)
        assert h.family == "MARKET" and recs[-1]["kind"] == R.MD_BBO
    finally:
        await nc.close()
        for p in procs:
            _stop(p)
        conn.close()
        restore()
        sim.stop()
        for n in (names.market_data_to_bridge(prefix), names.market_data_to_engine(prefix),
                  names.engine_events_to_bridge(prefix)):  # fmt: skip
            Path(f"/dev/shm/{n}").unlink(missing_ok=True)
    assert [p.returncode for p in procs] == [0, 0], (tmp_path / "bridge.err").read_text()[-2000:] + (
        tmp_path / "marketdata.err"
    ).read_text()[-2000:]


def _md(kind: int, iid: int, px: int, seq: int) -> np.ndarray:
    r = R.new(R.MARKET, 1)
    r["kind"], r["instrument"], r["price"], r["qty"], r["seq"] = kind, iid, px, 5, seq
    r["ask_price"], r["ask_qty"] = px + 1 if kind == R.MD_BBO else 0, 7 if kind == R.MD_BBO else 0
    return r


async def test_publisher_conflates_bbo_keeps_trades_and_skips_unknown(
    nats_js: NatsServer, tmp_path: Path
) -> None:
    ring = Ring.create(
        names.market_data_to_bridge("mp" + uuid.uuid4().hex[:8]), R.MARKET, 1024, producer=True
    )
    nc = await nats.connect(nats_js.admin_url)
    try:
        js = nc.jetstream()
        await ensure_streams(js, bus_settings(nats_js.admin_url, tmp_path))
        await js.purge_stream("MARKET_BINANCE")  # the server is the module's: start from an empty stream
        where = {1: ("binance", "spot", "BTCUSDT"), 3: ("binance", "usdm", "BTCUSDT")}
        pub = MarketPublisher(ring, js, where.get, interval_s=0.05)
        got: dict[str, list[np.ndarray]] = {}

        async def on_msg(m: nats.aio.msg.Msg) -> None:
            got.setdefault(m.subject, []).append(F.decode(m.data)[1].copy())

        await nc.subscribe("market.>", cb=on_msg)
        recs = np.concatenate([
            _md(R.MD_BBO, 1, 100, 1), _md(R.MD_TRADE, 1, 101, 2), _md(R.MD_BBO, 1, 102, 3),
            _md(R.MD_TRADE, 1, 103, 4), _md(R.MD_BBO, 1, 104, 5), _md(R.MD_BBO, 3, 900, 6),
            _md(R.MD_BBO, 99, 5, 7), _md(R.MD_DELTA, 1, 1, 8),
        ])  # fmt: skip
        assert ring.publish_batch(recs) == len(recs)
        await pub.drain()
        await eventually_async(lambda: len(got) == 2, 5)
        (spot,) = got["market.binance.spot.BTCUSDT"]
        assert list(spot["kind"]) == [R.MD_TRADE, R.MD_TRADE, R.MD_BBO] and list(spot["price"]) == [
            101,
            103,
            104,
        ]
        assert list(got["market.binance.usdm.BTCUSDT"][0]["price"]) == [900]
        st = pub.stats
        assert (st.frames, st.bbo_published, st.bbo_conflated, st.trades_published, st.unknown) == (
            2,
            2,
            2,
            2,
            1,
        )
        assert ring.depth() == 0
        assert (await js.stream_info("MARKET_BINANCE")).state.messages == 2
    finally:
        await nc.close()
        ring.close()
        ring.unlink()


async def test_position_feed_publishes_every_changed_position(nats_js: NatsServer, tmp_path: Path) -> None:
    from tests.unit.engine.conftest import PX, make_engine

    e = make_engine()
    e.specs[1] = dataclasses.replace(e.specs[1], tick_size=Decimal("0.01"))
    e.md(R.MD_BBO, 1, PX, PX + 100)
    nc = await nats.connect(nats_js.admin_url)
    js = nc.jetstream()
    await ensure_streams(js, bus_settings(nats_js.admin_url, tmp_path))
    await js.purge_stream("POSITIONS_BINANCE")
    seen: list[tuple[str, PositionChanged]] = []

    async def on_msg(m: nats.aio.msg.Msg) -> None:
        seen.append((m.subject, msgspec.json.decode(m.data, type=PositionChanged)))

    await nc.subscribe("positions.>", cb=on_msg)
    feed = PositionFeed(e, nats_js.admin_url, interval_s=0.01)
    feed.start()
    try:
        e.submit(1, account=1, instrument=1, side=R.SIDE_BUY, qty=500, price=PX)
        e.venue(R.ORDER_FILLED, 1, price=PX, qty=200, trade_id=1)
        await eventually_async(lambda: len(seen) == 1, 10)
        e.venue(R.ORDER_FILLED, 1, price=PX, qty=300, trade_id=2)
        await eventually_async(lambda: len(seen) == 2, 10)
        assert [s for s, _ in seen] == ["positions.binance.spot.BTCUSDT"] * 2
        assert [(p.qty, p.fills, p.avg_price) for _, p in seen] == [
            ("0.002", 1, "100000"),
            ("0.005", 2, "100000"),
        ]
        info = await js.stream_info("POSITIONS_BINANCE")
        assert info.state.messages == 2
    finally:
        await asyncio.to_thread(feed.stop)
        await nc.close()
