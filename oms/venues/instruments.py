"""Venues room: the instrument registry — stable small int ids, exact decimal ↔ int64 tick/lot
conversion, and a numpy table of instruments for the engine.

Touches one JSON file (default `var/instruments.json`, configurable): ids survive restarts because the
(venue, market, symbol) → id map is stored and only ever grows; specs loaded from each venue's
exchange-info are cached there too, so a restart without network still knows every instrument.
Writes are atomic (temp file + rename) under an exclusive `fcntl` lock, so several processes may share
the file.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, replace
from decimal import Decimal, InvalidOperation
from pathlib import Path

import numpy as np

from oms import log
from oms.errors import ConfigError, Rejected, Transient
from oms.ids import MARKETS, VENUES
from oms.venues.symbols import close_matches, parse_unified

INT64_MAX = 2**63 - 1
SCALE = 10**8  # fixed-point scale of the numpy table's *_e8 columns
DEFAULT_PATH = Path("var/instruments.json")
_log = log.get(__name__)
_DECIMAL_FIELDS = (
    "tick_size",
    "lot_size",
    "min_notional",
    "min_qty",
    "contract_size",
    "maker_fee",
    "taker_fee",
)


def _dec(text: str, what: str) -> Decimal:
    if not isinstance(text, str):
        raise Rejected(f"{what} must be a decimal string like '100.25', got {type(text).__name__} {text!r}")
    try:
        d = Decimal(text.strip())
    except InvalidOperation:
        raise Rejected(f"{what} {text!r} is not a decimal number; write it like '100.25'") from None
    if not d.is_finite():
        raise Rejected(f"{what} {text!r} must be a finite number")
    return d


@dataclass(frozen=True)
class Instrument:
    id: int
    venue: str
    market: str
    symbol: str  # native
    unified: str
    base: str
    quote: str
    settle: str  # "" for spot
    tick_size: Decimal
    lot_size: Decimal
    min_notional: Decimal = Decimal(0)
    min_qty: Decimal = Decimal(0)
    contract_size: Decimal = Decimal(1)
    maker_fee: Decimal = Decimal(0)
    taker_fee: Decimal = Decimal(0)
    price_precision: int = 8
    qty_precision: int = 8
    status: str = "TRADING"

    @property
    def key(self) -> str:
        return f"{self.venue}:{self.market}:{self.symbol}"

    # ------------------------------------------------------------ exact conversions
    def to_ticks(self, price: str) -> int:
        p = _dec(price, f"{self.key} price")
        t = p / self.tick_size
        if t != t.to_integral_value():
            lo = (t.to_integral_value(rounding="ROUND_FLOOR")) * self.tick_size
            raise Rejected(
                f"price {price} is not on {self.key}'s tick grid {self.tick_size}; nearest valid "
                f"prices: {lo} or {lo + self.tick_size}"
            )
        n = int(t)
        if abs(n) > INT64_MAX:
            raise Rejected(f"price {price} is out of int64 range for {self.key}")
        return n

    def to_lots(self, qty: str) -> int:
        q = _dec(qty, f"{self.key} quantity")
        t = q / self.lot_size
        if t != t.to_integral_value():
            lo = (t.to_integral_value(rounding="ROUND_FLOOR")) * self.lot_size
            raise Rejected(
                f"quantity {qty} is not a multiple of {self.key}'s lot size {self.lot_size}; nearest "
                f"valid: {lo} or {lo + self.lot_size}"
            )
        n = int(t)
        if abs(n) > INT64_MAX:
            raise Rejected(f"quantity {qty} is out of int64 range for {self.key}")
        return n

    def from_ticks(self, ticks: int) -> str:
        return _fmt(self.tick_size * int(ticks), self.tick_size)

    def from_lots(self, lots: int) -> str:
        return _fmt(self.lot_size * int(lots), self.lot_size)

    def to_json(self) -> dict[str, object]:
        d = asdict(self)
        for k in _DECIMAL_FIELDS:
            d[k] = str(d[k])
        return d

    @classmethod
    def from_json(cls, d: dict[str, object], where: str) -> Instrument:
        try:
            kw = dict(d)
            for k in _DECIMAL_FIELDS:
                kw[k] = Decimal(str(kw[k]))
            return cls(**kw)  # type: ignore[arg-type]
        except (TypeError, KeyError, InvalidOperation) as e:
            raise ConfigError(
                f"{where}: instrument entry {d!r} is malformed ({e}); delete the file to rebuild it "
                "from the venues' exchange info"
            ) from None


def _fmt(value: Decimal, step: Decimal) -> str:
    exp = step.normalize().as_tuple().exponent
    places = max(0, -exp) if isinstance(exp, int) else 0
    return f"{value:.{places}f}"


class InstrumentRegistry:
    """`InstrumentRegistry.open(path)`; `.load(specs)` after parsing a venue's exchange info."""

    def __init__(self, path: Path | str | None = DEFAULT_PATH) -> None:
        self.path = Path(path) if path is not None else None
        self._ids: dict[str, int] = {}
        self._by_id: dict[int, Instrument] = {}
        self._next = 1

    @classmethod
    def open(cls, path: Path | str | None = DEFAULT_PATH) -> InstrumentRegistry:
        reg = cls(path)
        if reg.path is not None and reg.path.exists():
            with reg._locked():
                reg._read()
        return reg

    # ------------------------------------------------------------ persistence
    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        assert self.path is not None
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lock = self.path.with_suffix(self.path.suffix + ".lock")
        with open(lock, "a") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def _read(self) -> None:
        assert self.path is not None
        try:
            data = json.loads(self.path.read_text())
            ids = {str(k): int(v) for k, v in data["ids"].items()}
            rows = data.get("instruments", [])
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            raise ConfigError(
                f"{self.path}: not a valid instrument registry ({e}); restore it from backup — "
                "deleting it renumbers every instrument"
            ) from None
        self._ids.update(ids)
        self._next = max([self._next, *[v + 1 for v in self._ids.values()]])
        for row in rows:
            inst = Instrument.from_json(row, str(self.path))
            self._by_id[inst.id] = inst

    def _write(self) -> None:
        assert self.path is not None
        data = {
            "version": 1,
            "ids": dict(sorted(self._ids.items(), key=lambda kv: kv[1])),
            "instruments": [i.to_json() for i in sorted(self._by_id.values(), key=lambda i: i.id)],
        }
        tmp = self.path.with_suffix(self.path.suffix + f".tmp{os.getpid()}")
        tmp.write_text(json.dumps(data, indent=1))
        os.replace(tmp, self.path)

    # ------------------------------------------------------------ loading
    def load(self, specs: Iterable[Instrument]) -> list[Instrument]:
        """Add/refresh instruments (their `id` is ignored and assigned here); persists the file."""
        specs = list(specs)
        if self.path is None:
            return self._merge(specs)
        with self._locked():
            if self.path.exists():
                self._read()  # another process may have assigned ids meanwhile
            out = self._merge(specs)
            self._write()
        return out

    def _merge(self, specs: list[Instrument]) -> list[Instrument]:
        out = []
        for s in specs:
            if s.venue not in VENUES or s.market not in MARKETS:
                raise Rejected(f"instrument {s.symbol!r}: unknown venue/market {s.venue}/{s.market}")
            key = f"{s.venue}:{s.market}:{s.symbol}"
            iid = self._ids.get(key)
            if iid is None:
                iid = self._next
                self._next += 1
                self._ids[key] = iid
            inst = replace(s, id=iid)
            self._by_id[iid] = inst
            out.append(inst)
        return out

    async def refresh(self, exchange: object) -> list[Instrument]:
        """Reload one venue+market from its exchange info (`exchange.instruments()`); when the venue cannot
        be reached, keep serving the cached specs of that venue+market and say so."""
        venue, market = getattr(exchange, "venue", "?"), getattr(exchange, "market", "?")
        try:
            specs = await exchange.instruments()  # type: ignore[attr-defined]
        except Transient as e:
            cached = [i for i in self._by_id.values() if i.venue == venue and i.market == market]
            if not cached:
                raise
            _log.warning(
                "%s/%s exchange info unavailable (%s); using %d cached instruments",
                venue,
                market,
                e,
                len(cached),
            )
            return cached
        return self.load(specs)

    # ------------------------------------------------------------ lookups
    def __len__(self) -> int:
        return len(self._by_id)

    def all(self) -> list[Instrument]:
        return [self._by_id[i] for i in sorted(self._by_id)]

    def by_id(self, iid: int) -> Instrument:
        try:
            return self._by_id[iid]
        except KeyError:
            raise Rejected(f"no instrument with id {iid}; ids run 1..{self._next - 1}") from None

    def id_of(self, venue: str, market: str, symbol: str) -> int:
        key = f"{venue}:{market}:{symbol}"
        if key not in self._ids:
            raise Rejected(
                f"unknown instrument {key}; close matches: "
                f"{', '.join(close_matches(key, self._ids)) or 'none'}"
            )
        return self._ids[key]

    def resolve(self, text: str, venue: str | None = None, market: str | None = None) -> Instrument:
        """Find one instrument by unified (`BTC/USDT:USDT`), native (`BTCUSDT`) or `venue:market:symbol`."""
        t = text.strip()
        pool = [
            i
            for i in self._by_id.values()
            if (venue is None or i.venue == venue) and (market is None or i.market == market)
        ]
        if t.count(":") == 2 and "/" not in t:
            hits = [i for i in pool if i.key.upper() == t.upper()]
        elif "/" in t:
            ref = parse_unified(t)
            hits = [i for i in pool if i.unified == ref.unified]
        else:
            hits = [i for i in pool if i.symbol.upper() == t.upper()]
        if len(hits) == 1:
            return hits[0]
        where = "/".join(x for x in (venue, market) if x)
        if not hits:
            names = {i.unified for i in pool} | {i.symbol for i in pool} | {i.key for i in pool}
            near = close_matches(t, names)
            raise Rejected(
                f"unknown instrument {text!r}{' on ' + where if where else ''}; close matches: "
                f"{', '.join(near) or 'none'}"
            )
        cands = ", ".join(f"{i.key} ({i.unified})" for i in sorted(hits, key=lambda i: i.id))
        raise Rejected(
            f"ambiguous instrument {text!r}: it names {len(hits)} instruments ({cands}); pass "
            "venue= and market=, or use venue:market:symbol or the unified form"
        )

    def to_ticks(self, iid: int, price: str) -> int:
        return self.by_id(iid).to_ticks(price)

    def to_lots(self, iid: int, qty: str) -> int:
        return self.by_id(iid).to_lots(qty)

    def from_ticks(self, iid: int, ticks: int) -> str:
        return self.by_id(iid).from_ticks(ticks)

    def from_lots(self, iid: int, lots: int) -> str:
        return self.by_id(iid).from_lots(lots)

    # ------------------------------------------------------------ engine view
    def table(self) -> np.ndarray:
        """Row i = instrument id i (row 0 unused): ids, scaled tick/lot/contract/fees, floats for display."""
        n = max(self._by_id, default=0) + 1
        out = np.zeros(n, dtype=INSTRUMENT_DTYPE)
        for i in self._by_id.values():
            r = out[i.id]
            r["id"] = i.id
            r["venue"] = VENUES[i.venue]
            r["market"] = MARKETS[i.market]
            r["active"] = 1 if i.status == "TRADING" else 0
            r["price_precision"] = i.price_precision
            r["qty_precision"] = i.qty_precision
            for col, val in (
                ("tick_e8", i.tick_size),
                ("lot_e8", i.lot_size),
                ("contract_e8", i.contract_size),
                ("min_notional_e8", i.min_notional),
                ("maker_fee_e8", i.maker_fee),
                ("taker_fee_e8", i.taker_fee),
            ):
                r[col] = int(val * SCALE)
            r["tick"] = float(i.tick_size)
            r["lot"] = float(i.lot_size)
            r["contract"] = float(i.contract_size)
        return out


INSTRUMENT_DTYPE = np.dtype(
    [
        ("id", "<u4"),
        ("venue", "<u2"),
        ("market", "<u2"),
        ("tick_e8", "<i8"),
        ("lot_e8", "<i8"),
        ("contract_e8", "<i8"),
        ("min_notional_e8", "<i8"),
        ("maker_fee_e8", "<i8"),
        ("taker_fee_e8", "<i8"),
        ("tick", "<f8"),
        ("lot", "<f8"),
        ("contract", "<f8"),
        ("price_precision", "u1"),
        ("qty_precision", "u1"),
        ("active", "u1"),
        ("pad", "u1", (5,)),
    ]
)
