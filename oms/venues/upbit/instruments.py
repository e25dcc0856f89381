"""Venues room (upbit): `GET /v1/market/all` → `Instrument` specs, and the KRW price grid.

Touches nothing (pure). Upbit's tick depends on the price (KRW markets: 1000 at ≥ 1,000,000 down to 1 at
100–5,000 and finer below); an `Instrument` has one tick, so KRW markets use the finest tick Upbit
quotes (0.0001 KRW) as the integer unit and `krw_price_ok()` checks the price-dependent grid before an
order is sent.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from oms.errors import Rejected
from oms.venues.instruments import Instrument
from oms.venues.symbols import to_unified

# (lower bound, tick) for KRW markets, highest first
KRW_GRID: tuple[tuple[Decimal, Decimal], ...] = (
    (Decimal(2_000_000), Decimal(1000)),
    (Decimal(1_000_000), Decimal(1000)),
    (Decimal(500_000), Decimal(500)),
    (Decimal(100_000), Decimal(100)),
    (Decimal(50_000), Decimal(50)),
    (Decimal(10_000), Decimal(10)),
    (Decimal(5_000), Decimal(5)),
    (Decimal(100), Decimal(1)),
    (Decimal(10), Decimal("0.1")),
    (Decimal(1), Decimal("0.01")),
    (Decimal("0.1"), Decimal("0.001")),
    (Decimal(0), Decimal("0.0001")),
)
FEE = Decimal("0.0005")


def krw_tick(price: Decimal) -> Decimal:
    for lower, tick in KRW_GRID:
        if price >= lower:
            return tick
    raise Rejected(f"KRW price {price} must be positive")


def krw_price_ok(price: Decimal) -> bool:
    return price > 0 and (price / krw_tick(price)) == (price / krw_tick(price)).to_integral_value()


def parse_markets(rows: list[dict[str, Any]]) -> list[Instrument]:
    if not isinstance(rows, list):
        raise Rejected("Upbit /v1/market/all must answer a list of markets")
    out = []
    for r in rows:
        ref = to_unified("upbit", "spot", r["market"])
        krw = ref.quote == "KRW"
        tick = Decimal("0.0001") if krw else Decimal("0.00000001")
        out.append(
            Instrument(
                id=0,
                venue="upbit",
                market="spot",
                symbol=r["market"],
                unified=ref.unified,
                base=ref.base,
                quote=ref.quote,
                settle="",
                tick_size=tick,
                lot_size=Decimal("0.00000001"),
                min_notional=Decimal(5000) if krw else Decimal("0.00005"),
                maker_fee=FEE,
                taker_fee=FEE,
                price_precision=4 if krw else 8,
                qty_precision=8,
                status="TRADING" if r.get("market_warning", "NONE") in ("NONE", None) else "CAUTION",
            )
        )
    return out
