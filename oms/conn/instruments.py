"""Connector room: the instruments one connector serves, and exact ticks/lots <-> decimal-string maps.

Touches only the file it reads. The table is the same `[[instrument]]` TOML the engine takes with
`--instruments` (id, venue, market, symbol, base, quote, tick_size, lot_size), so engine and connector
agree on ids; when the venues room's registry (`oms.venues.instruments`) exists and no file is given,
its instruments are used. Conversion is exact (Decimal): a price that is not a whole number of ticks
is an error naming the instrument, never a silent rounding.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from oms import ids
from oms.errors import ConfigError

_FIELDS = ("id", "venue", "market", "symbol", "base", "quote", "tick_size", "lot_size")


@dataclass(frozen=True, slots=True)
class Inst:
    id: int
    venue: str
    market: str
    symbol: str
    base: str
    quote: str
    tick_size: Decimal
    lot_size: Decimal

    @property
    def market_id(self) -> int:
        return ids.MARKETS[self.market]

    @property
    def venue_id(self) -> int:
        return ids.VENUES[self.venue]

    def to_ticks(self, s: str | Decimal, nearest: bool = False) -> int:
        """Exact ticks; `nearest=True` rounds half-even instead (for values venues publish off the
        grid, such as mark prices)."""
        v = Decimal(s) / self.tick_size
        if nearest:
            return int(v.to_integral_value())
        if v != v.to_integral_value():
            raise ValueError(f"{self.symbol}: price {s} is not a multiple of tick {self.tick_size}")
        return int(v)

    def to_lots(self, s: str | Decimal) -> int:
        v = Decimal(s) / self.lot_size
        if v != v.to_integral_value():
            raise ValueError(f"{self.symbol}: qty {s} is not a multiple of lot {self.lot_size}")
        return int(v)

    def px(self, ticks: int) -> str:
        return _fmt(Decimal(int(ticks)) * self.tick_size)

    def qty(self, lots: int) -> str:
        return _fmt(Decimal(int(lots)) * self.lot_size)


def _fmt(d: Decimal) -> str:
    s = format(d.normalize(), "f")
    return s


class Instruments:
    """Lookup by id and by (market, SYMBOL) for one venue."""

    def __init__(self, rows: list[Inst]) -> None:
        self.by_id: dict[int, Inst] = {}
        self.by_symbol: dict[tuple[str, str], Inst] = {}
        for r in rows:
            if r.id in self.by_id:
                raise ConfigError(
                    f"instrument id {r.id} appears twice ({self.by_id[r.id].symbol}, {r.symbol})"
                )
            self.by_id[r.id] = r
            self.by_symbol[(r.market, r.symbol.upper())] = r

    def get(self, instrument_id: int) -> Inst | None:
        return self.by_id.get(int(instrument_id))

    def find(self, market: str, symbol: str) -> Inst | None:
        return self.by_symbol.get((market, symbol.upper()))

    def of_market(self, market: str) -> list[Inst]:
        return [i for i in self.by_id.values() if i.market == market]

    def __len__(self) -> int:
        return len(self.by_id)


def load(path: str | None, venue: str, *, registry: str | Path | None = None) -> Instruments:
    """The venue's instruments from `path`, or from the venues room's registry when path is empty."""
    if path:
        p = Path(path)
        try:
            data = tomllib.loads(p.read_text())
        except (OSError, tomllib.TOMLDecodeError) as e:
            raise ConfigError(f"instruments file {p}: cannot read it as TOML ({e})") from None
        rows = data.get("instrument", [])
        if not isinstance(rows, list) or not rows:
            raise ConfigError(f"instruments file {p}: needs [[instrument]] tables with {', '.join(_FIELDS)}")
        out = []
        for n, row in enumerate(rows):
            missing = [f for f in _FIELDS if f not in row]
            if missing:
                raise ConfigError(f"instruments file {p}: [[instrument]] #{n + 1} lacks {', '.join(missing)}")
            if str(row["venue"]) != venue:
                continue
            if row["market"] not in ids.MARKETS:
                raise ConfigError(
                    f"instruments file {p}: [[instrument]] #{n + 1} market {row['market']!r} is unknown; "
                    f"use one of {', '.join(sorted(ids.MARKETS))}"
                )
            try:
                tick, lot = Decimal(str(row["tick_size"])), Decimal(str(row["lot_size"]))
            except ArithmeticError:
                raise ConfigError(
                    f"instruments file {p}: [[instrument]] #{n + 1} tick_size/lot_size must be decimals"
                ) from None
            if tick <= 0 or lot <= 0:
                raise ConfigError(
                    f"instruments file {p}: [[instrument]] #{n + 1} tick_size and lot_size must be > 0"
                )
            out.append(
                Inst(
                    int(row["id"]),
                    venue,
                    str(row["market"]),
                    str(row["symbol"]).upper(),
                    str(row["base"]),
                    str(row["quote"]),
                    tick,
                    lot,
                )
            )
        if not out:
            raise ConfigError(f"instruments file {p}: no [[instrument]] has venue = {venue!r}")
        return Instruments(out)
    try:
        from oms.venues.instruments import InstrumentRegistry  # type: ignore[import-not-found]
    except ImportError:
        raise ConfigError(
            "no instruments: set [connector] instruments = FILE (or pass --instruments FILE) with "
            "[[instrument]] tables; the venues room's registry (oms.venues.instruments) is not in this build"
        ) from None
    reg = InstrumentRegistry.open(registry) if registry else InstrumentRegistry.open()  # type: ignore[attr-defined]
    where = getattr(reg, "path", "the instrument registry")
    out = []
    for i in reg.all():
        v = i.venue if isinstance(i.venue, str) else ids.VENUE_NAMES[i.venue]  # type: ignore[attr-defined]
        if v != venue:
            continue
        m = i.market if isinstance(i.market, str) else ids.MARKET_NAMES[i.market]
        out.append(
            Inst(
                int(i.id),
                v,
                m,
                str(i.symbol).upper(),
                str(i.base),
                str(i.quote),
                Decimal(str(i.tick_size)),
                Decimal(str(i.lot_size)),
            )
        )
    if not out:
        raise ConfigError(
            f"no {venue} instruments in {where}: fill it from the venue (venues room) or pass "
            "--instruments FILE / set [connector] instruments (TOML [[instrument]] tables, as the "
            "engine takes)"
        )
    return Instruments(out)
