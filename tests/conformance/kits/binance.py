"""Conformance kit for Binance: how the shared suite drives this venue's simulator, what its documented
signing vectors and recorded payloads are, and which reject codes stand for each reject class.

Test glue only (the venue's name lives here, under tests/). A new venue adds `kits/<venue>.py` with the
same names; the suite (tests/conformance/test_conformance_*.py) is parametrised over the registry.
"""

from __future__ import annotations

import json
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

from oms.shm import records as R
from oms.venues.binance.auth import hmac_signature
from tests.integration.conn.conftest import (
    API_KEY,
    API_SECRET,
    CP_KEY,
    CP_SECRET,
    SPOT_BTC,
    SPOT_ETH,
    USDM_BTC,
    USDM_ETH,
    Connector,
)

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "binance"
VENUE = "binance"
# one instrument per role: (id, market, symbol, tick, lot)
SPOT = (SPOT_BTC, "spot", "BTCUSDT", Decimal("0.01"), Decimal("0.00001"))
BOOK = (SPOT_ETH, "spot", "ETHUSDT", Decimal("0.01"), Decimal("0.0001"))
DERIV = (USDM_BTC, "usdm", "BTCUSDT", Decimal("0.1"), Decimal("0.001"))
DERIV_BOOK = (USDM_ETH, "usdm", "ETHUSDT", Decimal("0.01"), Decimal("0.001"))

# Binance API docs, "SIGNED endpoint examples for POST /api/v3/order" (HMAC SHA256)
SIGN_VECTORS = [
    (
        lambda: hmac_signature(
            "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j",
            "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1&recvWindow=5000"
            "&timestamp=1499827319559",
        ),
        "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71",
    )
]

# recorded payloads → what the adapter must make of them (face, market, file, expected fields)
USER_PAYLOADS = [
    ("spot", "execution_report_new.json", {"exec": "new", "status": "new"}),
    ("spot", "execution_report_trade.json", {"exec": "trade"}),
    ("spot", "execution_report_canceled.json", {"exec": "canceled", "status": "canceled"}),
    ("usdm", "order_trade_update_new.json", {"exec": "new", "status": "new"}),
    ("usdm", "order_trade_update_fill.json", {"exec": "trade"}),
]
MARKET_PAYLOADS = [
    ("spot", "depth_update_spot.json", "DepthDiff"),
    ("usdm", "depth_update_usdm.json", "DepthDiff"),
    ("spot", "agg_trade.json", "TradeTick"),
    ("usdm", "mark_price_update.json", "MarkUpdate"),
]

# one command per reject class → the venue code the engine must see in EVENT.reason
TS = R.ORD_TRAILING_STOP_MARKET
REJECTS = [
    ("filter (notional)", dict(inst=SPOT_BTC, price=1, qty=1), -1013),
    ("order type the market lacks", dict(inst=SPOT_BTC, price=5_900_000, qty=1000, order_type=TS), -1116),
    (
        "reduce-only where there is none",
        dict(inst=SPOT_BTC, price=5_900_000, qty=1000, flags=R.FLAG_REDUCE_ONLY),
        -1106,
    ),
    ("price outside the venue's band", dict(inst=USDM_BTC, price=10**12, qty=1), -4016),
    ("instrument not served", dict(inst=99, price=1, qty=1), -1121),
]


def load(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text())


class Venue:
    """The running simulator as the suite sees it (wraps the Binance SimThread)."""

    def __init__(self, sim: Any) -> None:
        self.sim = sim
        from binance.client import Client

        self.cp = Client(CP_KEY, CP_SECRET, ping=False)

    def close(self) -> None:
        self.cp.close_connection()

    def mid(self, inst: tuple) -> int:
        st = self.sim.call(self.sim.sim.state)["markets"][inst[1]][inst[2]]
        return int(((Decimal(st["best_bid"]) + Decimal(st["best_ask"])) / 2 / inst[3]).to_integral_value())

    def take(self, inst: tuple, our_side: int, lots: int, px: int) -> None:
        """A counterparty crosses our resting order at `px` for `lots`."""
        side = "SELL" if our_side == R.SIDE_BUY else "BUY"
        kw = dict(symbol=inst[2], side=side, type="LIMIT", timeInForce="IOC", quantity=str(lots * inst[4]),
                  price=str(px * inst[3]))  # fmt: skip
        (self.cp.create_order if inst[1] == "spot" else self.cp.futures_create_order)(**kw)

    def open_cids(self, inst: tuple) -> list[str]:
        def f() -> list[str]:
            acct = self.sim.sim.accounts.keys[API_KEY].account
            return [o.client_id for o in self.sim.sim.cores[inst[1]].open_orders(acct, inst[2])]

        return self.sim.call(f)

    def cid(self, oms_id: int) -> str:
        return f"oms-{oms_id}"

    def fault(self, **kw: Any) -> None:
        """Venue-neutral fault names → this simulator's."""
        self.sim.call(self.sim.sim.faults.set, **kw)  # the kit's fault names are this simulator's

    def drop_streams(self) -> None:
        self.sim.call(self.sim.sim.faults.drop_ws)

    def step_books(self, n: int = 1) -> None:
        for _ in range(n):
            self.sim.call(self.sim.sim.flow.step)
            self.sim.call(self.sim.sim.depth_tick)

    def book(self, inst: tuple) -> tuple[dict[int, int], dict[int, int], int]:
        def f() -> tuple[dict[int, int], dict[int, int], int]:
            b = self.sim.sim.cores[inst[1]].books[inst[2]]
            return dict(b.levels(1, 10_000)), dict(b.levels(-1, 10_000)), b.update_id

        return self.sim.call(f)


@contextmanager
def running(workdir: Path, prefix: str) -> Iterator[tuple[Venue, Connector]]:
    """The venue's simulator and one connector process aimed at it (the test plays the engine)."""
    from oms.venues.sim.binance import SimThread, point_python_binance

    with SimThread(seed=23, flow=False) as st:
        st.call(st.sim.add_api_key, API_KEY, API_SECRET)
        st.call(st.sim.add_api_key, CP_KEY, CP_SECRET)
        restore = point_python_binance(st.url, st.ws_url)
        v = Venue(st)
        c = Connector(st, workdir, prefix)
        try:
            yield v, c.start()
        finally:
            if c.proc is not None and c.proc.poll() is None:
                c.stop(signal.SIGTERM)
            c.close()
            v.close()
            restore()
