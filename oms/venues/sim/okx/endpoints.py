"""OKX simulator room: the REST endpoint table — (method, path) → (security, limit group, handler).

Touches nothing outside this simulator.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from oms.venues.sim.okx import account, algo, history
from oms.venues.sim.okx.rest import (
    PRIVATE,
    PUBLIC,
    READ,
    TRADE,
    Req,
    amend,
    amend_batch,
    books,
    cancel,
    cancel_batch,
    get_order,
    instruments,
    pending,
    place,
    place_batch,
    server_time,
    ticker,
    tickers,
)

Handler = Callable[[Req], Any]
# (method, path) -> (security, limit group, handler)
ENDPOINTS: dict[tuple[str, str], tuple[str, str, Handler]] = {
    ("GET", "/api/v5/public/time"): (PUBLIC, READ, server_time),
    ("GET", "/api/v5/public/instruments"): (PUBLIC, READ, instruments),
    ("GET", "/api/v5/market/books"): (PUBLIC, READ, books),
    ("GET", "/api/v5/market/tickers"): (PUBLIC, READ, tickers),
    ("GET", "/api/v5/market/ticker"): (PUBLIC, READ, ticker),
    ("POST", "/api/v5/trade/order"): (PRIVATE, TRADE, place),
    ("POST", "/api/v5/trade/batch-orders"): (PRIVATE, TRADE, place_batch),
    ("POST", "/api/v5/trade/cancel-order"): (PRIVATE, TRADE, cancel),
    ("POST", "/api/v5/trade/cancel-batch-orders"): (PRIVATE, TRADE, cancel_batch),
    ("POST", "/api/v5/trade/amend-order"): (PRIVATE, TRADE, amend),
    ("POST", "/api/v5/trade/amend-batch-orders"): (PRIVATE, TRADE, amend_batch),
    ("GET", "/api/v5/trade/order"): (PRIVATE, READ, get_order),
    ("GET", "/api/v5/trade/orders-pending"): (PRIVATE, READ, pending),
    ("POST", "/api/v5/trade/order-algo"): (PRIVATE, TRADE, algo.place_algo),
    ("POST", "/api/v5/trade/cancel-algos"): (PRIVATE, TRADE, algo.cancel_algos),
    ("GET", "/api/v5/trade/orders-algo-pending"): (PRIVATE, READ, algo.algos_pending),
    ("POST", "/api/v5/trade/cancel-all-after"): (PRIVATE, TRADE, algo.cancel_all_after),
    ("GET", "/api/v5/trade/orders-history"): (PRIVATE, READ, history.orders_history),
    ("GET", "/api/v5/trade/fills"): (PRIVATE, READ, history.fills),
    ("GET", "/api/v5/account/config"): (PRIVATE, READ, account.config),
    ("GET", "/api/v5/account/balance"): (PRIVATE, READ, account.balance),
    ("GET", "/api/v5/account/positions"): (PRIVATE, READ, account.positions),
    ("POST", "/api/v5/account/set-leverage"): (PRIVATE, TRADE, account.set_leverage),
    ("GET", "/api/v5/account/leverage-info"): (PRIVATE, READ, account.get_leverage),
}

PER_ITEM = {place, place_batch, cancel, cancel_batch, amend, amend_batch, algo.cancel_algos, algo.place_algo}
