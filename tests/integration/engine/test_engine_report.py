"""The engine process tells the monitor its positions, PnL and trading state over a real nats-server."""

from __future__ import annotations

import asyncio
import os

import nats

from oms.monitor.frames import decode
from oms.shm import records as R
from oms.testing import eventually_async

PX = 10_000_000


async def test_engine_publishes_positions_to_the_monitor_subject(engine_proc, nats_server) -> None:
    ep = engine_proc
    frames = []
    nc = await nats.connect(nats_server.admin_url)

    async def on_frame(msg) -> None:
        frames.append(decode(msg.data))

    await nc.subscribe("monitor.stats.engine", cb=on_frame)
    os.environ["OMS_NATS_URL"] = nats_server.admin_url
    try:
        await asyncio.to_thread(ep.start)
    finally:
        del os.environ["OMS_NATS_URL"]
    ep.send(ep.md, kind=R.MD_BBO, instrument=1, price=PX, ask_price=PX + 100, qty=1, ask_qty=1)
    ep.send(ep.gw, kind=R.SUBMIT_ORDER, client_order_id=7, account=1, instrument=1, side=1, qty=1000,
            price=PX, order_type=R.ORD_LIMIT, seq=1)  # fmt: skip
    await asyncio.to_thread(ep.wait_command, R.SUBMIT_ORDER, 7)
    ep.send(ep.exec, kind=R.ORDER_ACCEPTED, client_order_id=7, venue_order_id=1)
    ep.send(ep.exec, kind=R.ORDER_FILLED, client_order_id=7, price=PX, qty=1000, trade_id=1)
    await asyncio.to_thread(ep.wait_event, R.ORDER_FILLED, 7)

    def has_position() -> bool:
        return any(f.positions for f in frames)

    await eventually_async(has_position, timeout=15)
    f = next(f for f in reversed(frames) if f.positions)
    (p,) = f.positions
    assert (p.exchange, p.symbol) == ("binance_spot", "BTCUSDT")
    assert p.qty == 0.01 and p.avg_price == 100000.0  # 1000 lots of 0.00001 at 100000.00
    assert f.risk_state == "active"
    await nc.drain()
