"""Shared builders for monitor tests: real EVENT records and frames (no fakes needed)."""

from __future__ import annotations

import numpy as np

from oms.ids import MARKETS, VENUES
from oms.shm import records as r


def events(kinds: list[int], venue: str = "binance", market: str = "spot") -> np.ndarray:
    ev = r.new(r.EVENT, len(kinds))
    ev["kind"] = kinds
    ev["venue"] = VENUES[venue]
    ev["market"] = MARKETS[market]
    ev["client_order_id"] = np.arange(1, len(kinds) + 1)
    ev["side"] = r.SIDE_BUY
    ev["qty"] = 10
    return ev
