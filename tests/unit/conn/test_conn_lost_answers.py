"""Runtime policy on the Binance adapter with a scripted transport (a test double under tests/, speaking
Binance's payload shapes): an outcome-unknown venue code with a 4xx status is resolved by query, never
rejected nor resent; a mark price between two ticks reaches the md ring; the command ring's slots are
released only after the submit is journaled."""

from __future__ import annotations

import asyncio
import json
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np

from oms.conn.executor import Executor
from oms.conn.instruments import Inst, Instruments
from oms.conn.journal import Journal
from oms.conn.marketdata import MarketData
from oms.conn.pump import CommandPump
from oms.conn.rest import VenueRest
from oms.errors import OutcomeUnknown
from oms.shm import records as R
from oms.shm.ring import Ring
from oms.venues.binance.adapter import ADAPTER
from oms.venues.interface import VenueHttpError

FBTC = Inst(3, "binance", "usdm", "BTCUSDT", "BTC", "USDT", Decimal("0.1"), Decimal("0.001"))


class ScriptedTransport:
    """Answers each op from a script: a dict is the venue's answer, an exception is raised."""

    def __init__(self, script: dict[str, list[Any]]) -> None:
        self.script = script
        self.calls: list[tuple[str, dict[str, Any]]] = []

    async def invoke(self, market: str, op: str, params: dict[str, Any], clock_offset_ms: float) -> Any:
        self.calls.append((op, params))
        step = self.script[op].pop(0)
        if isinstance(step, Exception):
            raise step
        return step

    def last_headers(self) -> dict[str, str]:
        return {}

    async def server_time_ms(self, market: str) -> float:
        import time

        return time.time() * 1000

    def key_id(self) -> str:
        return "test"

    async def close(self) -> None:
        return None


def _executor(tmp: Path, script: dict[str, list[Any]]) -> tuple[Executor, ScriptedTransport, list[np.void]]:
    tr = ScriptedTransport(script)
    rest = VenueRest(ADAPTER, tr, ("usdm",), recv_window_ms=50, timeout_s=2.0)
    rest.clocks["usdm"].add_sample(0, 0, 0)
    out: list[np.void] = []

    async def emit(recs: np.ndarray) -> None:
        out.extend(recs.copy())

    j = Journal(tmp / "conn.journal")
    return Executor(ADAPTER, rest, Instruments([FBTC]), j, emit, markets=("usdm",)), tr, out


def _submit(oms_id: int) -> np.ndarray:
    c = np.zeros(1, R.COMMAND)
    c["kind"], c["market"], c["instrument"], c["client_order_id"] = R.SUBMIT_ORDER, 2, 3, oms_id
    c["side"], c["order_type"], c["tif"], c["price"], c["qty"] = (
        R.SIDE_BUY,
        R.ORD_LIMIT,
        R.TIF_GTC,
        600_000,
        2,
    )
    return c


def test_outcome_unknown_code_with_4xx_is_resolved_by_query(tmp_path: Path) -> None:
    lost = VenueHttpError(400, -1007, "Timeout waiting for response from backend server.")
    placed = {
        "orderId": 77,
        "clientOrderId": "oms-9",
        "status": "NEW",
        "executedQty": "0",
        "symbol": "BTCUSDT",
    }
    ex, tr, out = _executor(tmp_path, {"futures_create_order": [lost], "futures_get_order": [placed]})

    async def run() -> None:
        ex.dispatch(_submit(9))
        assert 9 in ex.journal.orders  # journaled before dispatch returned (write-ahead)
        await asyncio.gather(*ex.tasks)

    asyncio.run(run())
    kinds = [int(e["kind"]) for e in out]
    assert kinds == [R.ORDER_ACCEPTED], [R.KIND_NAMES[k] for k in kinds]
    assert int(out[0]["venue_order_id"]) == 77
    assert [op for op, _ in tr.calls] == [
        "futures_create_order",
        "futures_get_order",
    ]  # queried, never resent
    assert ex.counts["resolved_placed"] == 1 and ex.rest.stats.outcome_unknown == 1


def test_outcome_unknown_then_absent_is_a_named_reject(tmp_path: Path) -> None:
    lost = VenueHttpError(400, -1007, "Timeout waiting for response from backend server.")
    absent = VenueHttpError(400, -2013, "Order does not exist.")
    ex, tr, out = _executor(tmp_path, {"futures_create_order": [lost], "futures_get_order": [absent, absent]})

    async def run() -> None:
        ex.dispatch(_submit(10))
        await asyncio.gather(*ex.tasks)

    asyncio.run(run())
    assert [(int(e["kind"]), int(e["reason"])) for e in out] == [(R.ORDER_REJECTED, -2013)]
    assert "futures_create_order" not in [op for op, _ in tr.calls[1:]]


def test_plain_4xx_is_a_reject_with_the_venue_code(tmp_path: Path) -> None:
    ex, _, out = _executor(
        tmp_path, {"futures_create_order": [VenueHttpError(400, -4014, "Price not increased by tick size.")]}
    )

    async def run() -> None:
        ex.dispatch(_submit(11))
        await asyncio.gather(*ex.tasks)

    asyncio.run(run())
    assert [(int(e["kind"]), int(e["reason"])) for e in out] == [(R.ORDER_REJECTED, -4014)]


def test_gate_maps_by_the_table_before_the_status(tmp_path: Path) -> None:
    ex, _, _ = _executor(tmp_path, {"futures_get_order": [VenueHttpError(400, -1007, "Timeout")]})

    async def run() -> None:
        await ex.rest.call("usdm", "futures_get_order", mutating=True, symbol="BTCUSDT")

    try:
        asyncio.run(run())
    except OutcomeUnknown as e:
        assert e.code == "-1007"
    else:
        raise AssertionError("a -1007 answer must be OutcomeUnknown")


def test_mark_price_between_ticks_reaches_the_ring() -> None:
    got: list[np.ndarray] = []
    bbo: list[tuple[int, ...]] = []
    md = MarketData(ADAPTER, "usdm", None, "ws://x/ws", [FBTC], lambda r: got.append(r.copy()) or len(r),  # type: ignore[arg-type]
                    lambda *a: bbo.append(a), lambda m, ok: None)  # fmt: skip
    md.last_bbo["BTCUSDT"] = (600_000, 1, 600_003, 1)  # odd-tick spread: the mid is 60000.15
    msg = {"stream": "btcusdt@markPrice@1s", "data": {
        "e": "markPriceUpdate", "E": 5, "s": "BTCUSDT", "p": "60000.15000000", "i": "60000.1", "P": "60000.2",
        "r": "0.0001", "T": 9}}  # fmt: skip
    asyncio.run(md._handle(json.dumps(msg)))
    marks = [r for a in got for r in a if int(r["kind"]) == R.MD_MARK]
    assert len(marks) == 1 and int(marks[0]["price"]) == 600_002  # 600001.5 ticks, half-even
    assert bbo and bbo[-1][5] == 600_002  # and the BBO table row carries it


def test_pump_releases_slots_only_after_the_batch_was_handled() -> None:
    ring = Ring.create(f"tw{uuid.uuid4().hex[:10]}", R.COMMAND, 64)
    try:
        recs = np.zeros(5, R.COMMAND)
        recs["client_order_id"] = np.arange(1, 6)
        assert ring.publish_batch(recs) == 5

        async def run() -> None:
            pump = CommandPump(ring, batch=16)
            async for b in pump.batches():
                assert len(b) == 5
                assert ring.depth() == 5  # still held: a crash now leaves them for the next consumer
                pump.stop()
            assert ring.depth() == 0

        asyncio.run(run())
    finally:
        ring.close()
        ring.unlink()
