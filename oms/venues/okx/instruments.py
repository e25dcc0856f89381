"""Venues room (okx): `GET /api/v5/public/instruments` (SPOT / SWAP / FUTURES) → `Instrument` specs.

Touches nothing (pure). Tick `tickSz`, lot `lotSz`, minimum size `minSz`; derivatives carry `ctVal`
(contract size, in `ctValCcy`: BTC-USDT-SWAP 0.01 BTC, BTC-USD-250926 100 USD); `ctType` says
linear or inverse, which is the market.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from oms.errors import Rejected
from oms.venues.instruments import Instrument
from oms.venues.symbols import to_unified

DEFAULT_FEES = {
    "spot": (Decimal("0.0008"), Decimal("0.001")),
    "linear": (Decimal("0.0002"), Decimal("0.0005")),
    "inverse": (Decimal("0.0002"), Decimal("0.0005")),
}


def parse_instruments(
    body: dict[str, Any], fees: dict[str, tuple[Decimal, Decimal]] | None = None
) -> list[Instrument]:
    if str(body.get("code")) != "0":
        raise Rejected(f"OKX instruments answered code {body.get('code')}: {body.get('msg')}")
    rows = body.get("data")
    if not isinstance(rows, list):
        raise Rejected("OKX instruments answer has no 'data' list")
    out = []
    for r in rows:
        try:
            out.append(_one(r, fees or {}))
        except (KeyError, TypeError, ArithmeticError) as e:
            raise Rejected(f"OKX instrument {r.get('instId')!r}: missing or bad field {e}") from None
    return out


def _one(r: dict[str, Any], fees: dict[str, tuple[Decimal, Decimal]]) -> Instrument:
    kind = r["instType"]
    if kind == "SPOT":
        market = "spot"
    elif kind in ("SWAP", "FUTURES"):
        market = "linear" if r["ctType"] == "linear" else "inverse"
    else:
        raise Rejected(
            f"OKX instType {kind!r} ({r.get('instId')}) is not supported; use SPOT, SWAP or FUTURES"
        )
    ref = to_unified("okx", market, r["instId"])
    tick, lot = Decimal(r["tickSz"]).normalize(), Decimal(r["lotSz"]).normalize()
    maker, taker = fees.get(r["instId"], DEFAULT_FEES[market])
    return Instrument(
        id=0,
        venue="okx",
        market=market,
        symbol=r["instId"],
        unified=ref.unified,
        base=ref.base,
        quote=ref.quote,
        settle=ref.settle or "",
        tick_size=tick,
        lot_size=lot,
        min_qty=Decimal(r["minSz"]),
        contract_size=Decimal(r["ctVal"]) if r.get("ctVal") else Decimal(1),
        maker_fee=maker,
        taker_fee=taker,
        price_precision=max(0, -int(tick.as_tuple().exponent)),
        qty_precision=max(0, -int(lot.as_tuple().exponent)),
        status="TRADING" if r.get("state") == "live" else str(r.get("state", "")).upper(),
    )
