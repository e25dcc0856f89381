"""Venues room (bybit): `GET /v5/market/instruments-info` (spot / linear / inverse) → `Instrument` specs.

Touches nothing (pure). Spot: tick `priceFilter.tickSize`, lot `lotSizeFilter.basePrecision`, minimum
notional `minOrderAmt`. Linear/inverse: lot `qtyStep`, min notional `minNotionalValue` (linear);
inverse contracts are 1 USD each (`contract_size` 1, in the quote currency).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from oms.errors import Rejected
from oms.venues.instruments import Instrument
from oms.venues.symbols import to_unified

DEFAULT_FEES = {
    "spot": (Decimal("0.001"), Decimal("0.001")),
    "linear": (Decimal("0.0002"), Decimal("0.00055")),
    "inverse": (Decimal("0.0002"), Decimal("0.00055")),
}


def parse_instruments_info(
    body: dict[str, Any], market: str, fees: dict[str, tuple[Decimal, Decimal]] | None = None
) -> list[Instrument]:
    if market not in DEFAULT_FEES:
        raise Rejected(f"Bybit category {market!r} has no parser; use spot, linear or inverse")
    if body.get("retCode") != 0:
        raise Rejected(f"Bybit instruments-info answered retCode {body.get('retCode')}: {body.get('retMsg')}")
    rows = (body.get("result") or {}).get("list")
    if not isinstance(rows, list):
        raise Rejected("Bybit instruments-info has no result.list; is this an instruments-info answer?")
    out = []
    for r in rows:
        try:
            out.append(_one(r, market, fees or {}))
        except (KeyError, TypeError, ArithmeticError) as e:
            raise Rejected(f"Bybit instrument {r.get('symbol')!r}: missing or bad field {e}") from None
    return out


def _one(r: dict[str, Any], market: str, fees: dict[str, tuple[Decimal, Decimal]]) -> Instrument:
    lot_f = r["lotSizeFilter"]
    tick = Decimal(r["priceFilter"]["tickSize"]).normalize()
    if market == "spot":
        lot = Decimal(lot_f["basePrecision"]).normalize()
        min_notional = Decimal(lot_f.get("minOrderAmt", "0"))
    else:
        lot = Decimal(lot_f["qtyStep"]).normalize()
        min_notional = Decimal(lot_f.get("minNotionalValue", "0"))
    ref = to_unified("bybit", market, r["symbol"])
    maker, taker = fees.get(r["symbol"], DEFAULT_FEES[market])
    return Instrument(
        id=0,
        venue="bybit",
        market=market,
        symbol=r["symbol"],
        unified=ref.unified,
        base=r["baseCoin"],
        quote=r["quoteCoin"],
        settle=r.get("settleCoin", "") if market != "spot" else "",
        tick_size=tick,
        lot_size=lot,
        min_notional=min_notional,
        min_qty=Decimal(lot_f["minOrderQty"]),
        contract_size=Decimal(1),
        maker_fee=maker,
        taker_fee=taker,
        price_precision=max(0, -int(tick.as_tuple().exponent)),
        qty_precision=max(0, -int(lot.as_tuple().exponent)),
        status="TRADING" if r.get("status") == "Trading" else str(r.get("status", "")).upper(),
    )
