"""Id room: the small integer ids for venues and markets used in every record (frozen: never renumber).

Touches nothing. Instrument ids come from the instrument registry (oms/venues), account ids from config.
"""

from __future__ import annotations

VENUES: dict[str, int] = {"binance": 1, "bybit": 2, "okx": 3, "upbit": 4, "sim": 15}
MARKETS: dict[str, int] = {"spot": 1, "usdm": 2, "coinm": 3, "linear": 4, "inverse": 5}

VENUE_NAMES: dict[int, str] = {v: k for k, v in VENUES.items()}
MARKET_NAMES: dict[int, str] = {v: k for k, v in MARKETS.items()}


def venue_id(name: str) -> int:
    from oms.errors import Rejected

    try:
        return VENUES[name.lower()]
    except KeyError:
        raise Rejected(f"unknown venue {name!r}; known venues: {', '.join(sorted(VENUES))}") from None


def market_id(name: str) -> int:
    from oms.errors import Rejected

    try:
        return MARKETS[name.lower()]
    except KeyError:
        raise Rejected(f"unknown market {name!r}; known markets: {', '.join(sorted(MARKETS))}") from None
