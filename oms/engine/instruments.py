"""Engine room: the one adapter from the instrument registry (oms/venues) to the engine's int64 arrays.

Touches nothing but the instrument file it is asked to read. `InstrumentSpec` is what the kernels
need about an instrument: venue/market ids, the
exact fraction mult/div with notional_e8 = price_ticks * qty_lots * mult // div
(= tick_size * lot_size * contract_size * 1e8), and small asset ids for the unified per-asset view.
`spec_from_instrument` reads any object with the registry's `Instrument` fields (id, venue, market,
base, quote, tick_size, lot_size, contract_size as Decimal or str); that is the only place the engine
depends on the venues room's shape. `load_instruments` gives every program (engine, marketdata) the
same specs, from a TOML file of [[instrument]] tables or from the registry file the connector fills.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

from oms import ids
from oms.errors import ConfigError
from oms.shm.records import FEE_SCALE


@dataclass(frozen=True, slots=True)
class InstrumentSpec:
    id: int
    venue: int
    market: int
    mult: int
    div: int
    base: str
    quote: str
    symbol: str = ""
    tick_size: Decimal = Decimal(0)
    lot_size: Decimal = Decimal(0)
    contract_size: Decimal = Decimal(1)


def scale_fraction(
    tick_size: Decimal | str, lot_size: Decimal | str, contract_size: Decimal | str = "1"
) -> tuple[int, int]:
    """(mult, div) with tick*lot*contract*1e8 == mult/div exactly."""
    f = (
        Fraction(Decimal(str(tick_size)))
        * Fraction(Decimal(str(lot_size)))
        * Fraction(Decimal(str(contract_size)))
    )
    f *= FEE_SCALE
    if f <= 0:
        raise ConfigError(
            f"instrument scale tick_size={tick_size} lot_size={lot_size} contract_size={contract_size} "
            "must all be > 0"
        )
    return f.numerator, f.denominator


def _id_of(value: object, table: dict[str, int], what: str) -> int:
    if isinstance(value, int):
        return value
    name = str(value).lower()
    if name not in table:
        raise ConfigError(f"instrument {what} {value!r} is unknown; known: {', '.join(sorted(table))}")
    return table[name]


def spec_from_instrument(inst: object) -> InstrumentSpec:
    """Adapter from oms.venues.instruments.Instrument (duck-typed) to the engine's InstrumentSpec."""
    tick = Decimal(str(inst.tick_size))  # type: ignore[attr-defined]
    lot = Decimal(str(inst.lot_size))  # type: ignore[attr-defined]
    cs = Decimal(str(getattr(inst, "contract_size", None) or 1))
    mult, div = scale_fraction(tick, lot, cs)
    return InstrumentSpec(
        id=int(inst.id),  # type: ignore[attr-defined]
        venue=_id_of(inst.venue, ids.VENUES, "venue"),  # type: ignore[attr-defined]
        market=_id_of(inst.market, ids.MARKETS, "market"),  # type: ignore[attr-defined]
        mult=mult,
        div=div,
        base=str(inst.base),  # type: ignore[attr-defined]
        quote=str(inst.quote),  # type: ignore[attr-defined]
        symbol=str(getattr(inst, "symbol", "")),
        tick_size=tick,
        lot_size=lot,
        contract_size=cs,
    )


_FIELDS = ("id", "venue", "market", "symbol", "base", "quote", "tick_size", "lot_size")


class _Row:
    def __init__(self, d: dict[str, object]) -> None:
        self.__dict__.update(d)


def load_instruments(path: str | None, registry: str | None = None) -> list[InstrumentSpec]:
    """Instruments from a TOML file ([[instrument]] tables) or from the venues room's registry file."""
    if path:
        p = Path(path)
        try:
            data = tomllib.loads(p.read_text())
        except (OSError, tomllib.TOMLDecodeError) as e:
            raise ConfigError(f"--instruments {p}: cannot read it as TOML ({e})") from None
        rows = data.get("instrument", [])
        if not isinstance(rows, list) or not rows:
            raise ConfigError(f"--instruments {p}: needs one or more [[instrument]] tables with {_FIELDS}")
        out = []
        for n, row in enumerate(rows):
            missing = [f for f in _FIELDS if f not in row]
            if missing:
                raise ConfigError(f"--instruments {p}: [[instrument]] #{n + 1} lacks {', '.join(missing)}")
            out.append(spec_from_instrument(_Row(row)))
        return out
    from oms.venues.instruments import DEFAULT_PATH, InstrumentRegistry

    reg = InstrumentRegistry.open(registry or DEFAULT_PATH)
    if len(reg) == 0:
        raise ConfigError(
            f"no instruments: the registry {registry or DEFAULT_PATH} is empty or missing; load it first "
            "(the connector does at start) or pass --instruments FILE with [[instrument]] tables"
        )
    return [spec_from_instrument(i) for i in reg.all()]
