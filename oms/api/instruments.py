"""Gateway room (oms/api): the instrument lookups the gateway needs, and decimal-string <-> int conversion.

Touches nothing. `Instruments` is the part of the venues room's `InstrumentRegistry` the gateway uses
(`resolve(text, venue)`, `by_id(i)`); `Precision` converts wire decimal strings to int ticks/lots for one
instrument, refusing anything that is not an exact multiple of the tick/lot size (never rounds), and
caches the strings it has seen (clients repeat prices) so the hot path pays one dict lookup.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol

from oms import ids

INT64_MAX = 2**63 - 1
_DEC = re.compile(r"^[0-9]{1,20}(\.[0-9]{1,18})?$")


class InstrumentLike(Protocol):
    id: int
    symbol: str
    unified: str
    tick_size: Decimal
    lot_size: Decimal
    min_notional: Decimal


class Instruments(Protocol):
    def resolve(self, text: str, venue: str | None = None) -> Any: ...

    def by_id(self, i: int) -> Any: ...


def venue_name(inst: Any) -> str:
    v = inst.venue
    return ids.VENUE_NAMES.get(v, str(v)) if isinstance(v, int) else str(v)


def market_name(inst: Any) -> str:
    m = inst.market
    return ids.MARKET_NAMES.get(m, str(m)) if isinstance(m, int) else str(m)


class DecimalError(ValueError):
    pass


def parse_decimal(text: str) -> Decimal:
    """A plain non-negative decimal string ("123", "0.001"); no exponent, sign, spaces or NaN."""
    if not isinstance(text, str) or not _DEC.match(text):
        raise DecimalError(f"{text[:40]!r} is not a plain decimal number like '123.45'")
    try:
        return Decimal(text)
    except InvalidOperation:  # pragma: no cover - the regex already excludes these
        raise DecimalError(f"{text[:40]!r} is not a decimal number") from None


class Precision:
    """Conversion for one instrument; `ticks("101.5")`, `lots("0.01")`, and back."""

    __slots__ = ("_lots", "_ticks", "lot", "tick")

    def __init__(self, tick: Decimal, lot: Decimal) -> None:
        self.tick = Decimal(tick)
        self.lot = Decimal(lot)
        self._ticks: dict[str, int] = {}
        self._lots: dict[str, int] = {}

    @staticmethod
    def _units(text: str, step: Decimal, what: str, cache: dict[str, int]) -> int:
        v = cache.get(text)
        if v is not None:
            return v
        d = parse_decimal(text)
        q, r = divmod(d, step)
        if r != 0:
            lo = q * step
            raise DecimalError(
                f"{text!r} is not a multiple of the {what} {step.normalize():f}; nearest valid: "
                f"{_fmt(lo)} or {_fmt(lo + step)}"
            )
        n = int(q)
        if n > INT64_MAX:
            raise DecimalError(f"{text!r} is too large")
        if len(cache) < 100_000:
            cache[text] = n
        return n

    def ticks(self, text: str) -> int:
        return self._units(text, self.tick, "tick size", self._ticks)

    def lots(self, text: str) -> int:
        return self._units(text, self.lot, "lot size", self._lots)

    def price(self, ticks: int) -> str:
        return _fmt(Decimal(ticks) * self.tick)

    def qty(self, lots: int) -> str:
        return _fmt(Decimal(lots) * self.lot)


def _fmt(d: Decimal) -> str:
    s = f"{d:f}"
    if "." in s:
        s = s.rstrip("0").rstrip(".")
    return s or "0"


class StaticInstrument:
    """A minimal instrument record (the venues room's `Instrument` has these fields and more)."""

    __slots__ = (
        "base",
        "contract_size",
        "id",
        "lot_size",
        "market",
        "min_notional",
        "quote",
        "settle",
        "symbol",
        "tick_size",
        "unified",
        "venue",
    )

    def __init__(
        self,
        id: int,
        venue: str,
        market: str,
        symbol: str,
        unified: str,
        tick_size: str,
        lot_size: str,
        min_notional: str = "0",
        settle: str = "",
        contract_size: str = "1",
    ) -> None:
        self.id, self.venue, self.market, self.symbol, self.unified = id, venue, market, symbol, unified
        self.base, _, rest = unified.partition("/")
        self.quote = rest.split(":")[0]
        self.settle = settle
        self.tick_size, self.lot_size = Decimal(tick_size), Decimal(lot_size)
        self.min_notional, self.contract_size = Decimal(min_notional), Decimal(contract_size)


class StaticRegistry:
    """Lookups over an explicit instrument list: unified ("BTC/USDT", "BTC/USDT:USDT") or venue form
    ("BTCUSDT", case-insensitive); `venue` is "binance" or "binance_usdm" (venue_market).
    Used by the gateway's tests and benchmark, and whenever the venues
    room's registry is not importable (the gateway logs that it runs on a static table)."""

    def __init__(self, instruments: list[Any]) -> None:
        self._by_id = {int(i.id): i for i in instruments}
        self._by_text: dict[tuple[str, str], Any] = {}
        for i in instruments:
            v, m = venue_name(i), market_name(i)
            for key in (v, f"{v}_{m}"):
                self._by_text.setdefault((key, i.unified.upper()), i)
                self._by_text.setdefault((key, i.symbol.upper()), i)

    def resolve(self, text: str, venue: str | None = None) -> Any:
        if venue is None:
            for (_, t), inst in self._by_text.items():
                if t == text.upper():
                    return inst
            return None
        return self._by_text.get((venue, text.upper()))

    def by_id(self, i: int) -> Any:
        return self._by_id.get(int(i))


def demo_registry() -> StaticRegistry:
    """Binance spot/USD-M instruments with their real filters (tick/lot/min notional) for local runs."""
    return StaticRegistry(
        [
            StaticInstrument(1, "binance", "spot", "BTCUSDT", "BTC/USDT", "0.01", "0.00001", "5"),
            StaticInstrument(2, "binance", "spot", "ETHUSDT", "ETH/USDT", "0.01", "0.0001", "5"),
            StaticInstrument(
                3, "binance", "usdm", "BTCUSDT", "BTC/USDT:USDT", "0.1", "0.001", "100", settle="USDT"
            ),
            StaticInstrument(
                4, "binance", "usdm", "ETHUSDT", "ETH/USDT:USDT", "0.01", "0.001", "20", settle="USDT"
            ),
            StaticInstrument(5, "bybit", "spot", "BTCUSDT", "BTC/USDT", "0.01", "0.000001", "1"),
        ]
    )
