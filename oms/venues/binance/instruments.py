"""Venues room (binance): exchangeInfo (spot `/api/v3`, USD-M `/fapi/v1`) → `Instrument` specs.

Touches nothing (pure). Tick and lot come from PRICE_FILTER.tickSize and LOT_SIZE.stepSize, the
minimum notional from NOTIONAL/MIN_NOTIONAL; fees are not in exchangeInfo and are passed in (from
`/api/v3/account/commission` or `/fapi/v1/commissionRate`, or the config).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from oms.errors import Rejected
from oms.venues.instruments import Instrument
from oms.venues.symbols import SymbolRef

DEFAULT_FEES = {"spot": (Decimal("0.001"), Decimal("0.001")), "usdm": (Decimal("0.0002"), Decimal("0.0005"))}


def _precision(step: Decimal) -> int:
    exp = step.normalize().as_tuple().exponent
    return max(0, -exp) if isinstance(exp, int) else 0


def parse_exchange_info(
    info: dict[str, Any], market: str, fees: dict[str, tuple[Decimal, Decimal]] | None = None
) -> list[Instrument]:
    """Every symbol of one exchangeInfo answer; `fees` maps symbol → (maker, taker)."""
    if market not in ("spot", "usdm"):
        raise Rejected(f"Binance market {market!r} has no exchangeInfo parser; use spot or usdm")
    symbols = info.get("symbols")
    if not isinstance(symbols, list):
        raise Rejected("Binance exchangeInfo has no 'symbols' list; is this an exchangeInfo answer?")
    out = []
    for s in symbols:
        try:
            out.append(_one(s, market, fees or {}))
        except (KeyError, TypeError, ArithmeticError) as e:
            raise Rejected(
                f"Binance exchangeInfo symbol {s.get('symbol')!r}: missing or bad field {e}"
            ) from None
    return out


def _one(s: dict[str, Any], market: str, fees: dict[str, tuple[Decimal, Decimal]]) -> Instrument:
    filters = {f["filterType"]: f for f in s["filters"]}
    tick = Decimal(filters["PRICE_FILTER"]["tickSize"]).normalize()
    lot = Decimal(filters["LOT_SIZE"]["stepSize"]).normalize()
    min_qty = Decimal(filters["LOT_SIZE"]["minQty"])
    if "NOTIONAL" in filters:
        min_notional = Decimal(filters["NOTIONAL"]["minNotional"])
    elif "MIN_NOTIONAL" in filters:
        mn = filters["MIN_NOTIONAL"]
        min_notional = Decimal(mn.get("minNotional", mn.get("notional", "0")))
    else:
        min_notional = Decimal(0)
    base, quote = s["baseAsset"], s["quoteAsset"]
    maker, taker = fees.get(s["symbol"], DEFAULT_FEES[market])
    if market == "spot":
        ref = SymbolRef(base, quote)
        settle = ""
    else:
        settle = s.get("marginAsset", quote)
        expiry = None
        if s.get("contractType") not in ("PERPETUAL", None, ""):
            sym = s["symbol"]
            expiry = sym.split("_", 1)[1] if "_" in sym else None
        ref = SymbolRef(base, quote, settle, expiry)
    return Instrument(
        id=0,
        venue="binance",
        market=market,
        symbol=s["symbol"],
        unified=ref.unified,
        base=base,
        quote=quote,
        settle=settle,
        tick_size=tick,
        lot_size=lot,
        min_notional=min_notional,
        min_qty=min_qty,
        contract_size=Decimal(1),
        maker_fee=maker,
        taker_fee=taker,
        price_precision=int(s.get("pricePrecision", _precision(tick))),
        qty_precision=int(s.get("quantityPrecision", _precision(lot))),
        status=s.get("status", "TRADING"),
    )
