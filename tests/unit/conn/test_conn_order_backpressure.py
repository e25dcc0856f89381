"""Connector backpressure: an order the venue's order-rate budget would hold longer than
max_order_wait_s is refused at once with a named error (Transient, code -1003 TOO_MANY_REQUESTS),
never queued without bound. No request reaches the transport: the budget refuses first."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import pytest

from oms.conn.ratelimit import RateBudget
from oms.conn.rest import VenueRest
from oms.errors import Transient
from oms.venues.binance.adapter import ADAPTER
from oms.venues.interface import Limit


class RecordingTransport:
    """A transport double that records every request it is asked to send (the test wants none)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    async def invoke(self, market: str, op: str, params: dict[str, Any], clock_offset_ms: float) -> Any:
        self.calls.append((op, params))
        return {}

    def last_headers(self) -> dict[str, str]:
        return {}

    async def server_time_ms(self, market: str) -> float:
        return time.time() * 1000

    def key_id(self) -> str:
        return "test"

    async def close(self) -> None:
        return None


def test_order_over_the_rate_budget_is_refused_within_the_bound(tmp_path) -> None:
    async def run() -> None:
        tr = RecordingTransport()
        rest = VenueRest(ADAPTER, tr, ("spot",), max_order_wait_s=0.3)
        rest.clocks["spot"].add_sample(0, 0, 0)
        budget = RateBudget(
            f"t-{uuid.uuid4().hex}",
            (Limit("orders", 10_000, 2, "x-mbx-order-count-10s"),),
            safety=1.0,
            directory=str(tmp_path),
        )
        rest.budgets["spot"] = budget
        try:
            assert budget.acquire(0, 1) == 0.0 and budget.acquire(0, 1) == 0.0  # the window's 2 orders
            t0 = time.monotonic()
            with pytest.raises(Transient, match="order rate budget") as e:
                await rest.call("spot", "create_order", weight=0, orders=1, signed=False, symbol="BTCUSDT")
            assert time.monotonic() - t0 < 1.0  # bounded: not the rest of the 10 s window
            assert e.value.code == "-1003" and rest.stats.order_rate_rejects == 1
            assert tr.calls == []  # nothing was sent
        finally:
            await rest.close()  # closes the budget too

    asyncio.run(run())
