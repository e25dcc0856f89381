"""Venues room: symbol normalisation between each venue's native names and the unified (ccxt) form.

Touches nothing. Unified forms: spot `BTC/USDT`; perpetual `BTC/USDT:USDT` (linear) or `BTC/USD:BTC`
(inverse); dated future `BTC/USDT:USDT-250926` / `BTC/USD:BTC-250926` (YYMMDD). Native forms:

| venue   | spot     | linear perpetual | inverse perpetual   | dated (linear / inverse)         |
|---------|----------|------------------|---------------------|----------------------------------|
| binance | BTCUSDT  | BTCUSDT (usdm)   | BTCUSD_PERP (coinm) | BTCUSDT_250926 / BTCUSD_250926   |
| bybit   | BTCUSDT  | BTCUSDT (linear) | BTCUSD (inverse)    | –                                |
| okx     | BTC-USDT | BTC-USDT-SWAP    | BTC-USD-SWAP        | BTC-USDT-250926 / BTC-USD-250926 |
| upbit   | KRW-BTC  | –                | –                   | –                                |

Concatenated names (Binance, Bybit) are split on the longest known quote asset; when a list of known
symbols is at hand (the instrument registry), `resolve()` uses it and reports unknown or ambiguous text
with the closest matches.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass

from oms.errors import Rejected

QUOTES = (
    "FDUSD",
    "USDT",
    "USDC",
    "TUSD",
    "BUSD",
    "USDE",
    "DAI",
    "USD",
    "BTC",
    "ETH",
    "BNB",
    "EUR",
    "TRY",
    "BRL",
    "JPY",
    "KRW",
    "GBP",
    "AUD",
)
VENUE_MARKETS: dict[str, tuple[str, ...]] = {
    "binance": ("spot", "usdm", "coinm"),
    "bybit": ("spot", "linear", "inverse"),
    "okx": ("spot", "linear", "inverse"),
    "upbit": ("spot",),
}
_ASSET = r"[A-Z0-9]{1,15}"
_UNIFIED = re.compile(rf"^({_ASSET})/({_ASSET})(?::({_ASSET})(?:-(\d{{6}}))?)?$")


@dataclass(frozen=True)
class SymbolRef:
    base: str
    quote: str
    settle: str | None = None  # None = spot
    expiry: str | None = None  # YYMMDD for dated futures

    @property
    def kind(self) -> str:
        if self.settle is None:
            return "spot"
        return "future" if self.expiry else "swap"

    @property
    def linear(self) -> bool:
        return self.settle == self.quote

    @property
    def unified(self) -> str:
        s = f"{self.base}/{self.quote}"
        if self.settle:
            s += f":{self.settle}"
            if self.expiry:
                s += f"-{self.expiry}"
        return s


def parse_unified(text: str) -> SymbolRef:
    m = _UNIFIED.match(text.strip().upper())
    if not m:
        raise Rejected(
            f"symbol {text!r} is not in unified form; write BASE/QUOTE (spot), BASE/QUOTE:SETTLE "
            "(perpetual) or BASE/QUOTE:SETTLE-YYMMDD (dated future), e.g. BTC/USDT:USDT"
        )
    base, quote, settle, expiry = m.groups()
    if settle is not None and settle not in (base, quote):
        raise Rejected(
            f"symbol {text!r}: settle asset {settle} must be the quote ({quote}, linear) or the "
            f"base ({base}, inverse)"
        )
    if expiry is not None:
        _check_expiry(expiry, text)
    return SymbolRef(base, quote, settle, expiry)


def _check_expiry(expiry: str, text: str) -> None:
    mm, dd = int(expiry[2:4]), int(expiry[4:6])
    if not (1 <= mm <= 12 and 1 <= dd <= 31):
        raise Rejected(f"symbol {text!r}: expiry {expiry} is not a YYMMDD date")


def split_concat(name: str, quotes: Iterable[str] = QUOTES) -> tuple[str, str]:
    """`BTCUSDT` → (`BTC`, `USDT`) on the longest known quote suffix."""
    name = name.upper()
    for q in sorted(quotes, key=len, reverse=True):
        if name.endswith(q) and len(name) > len(q):
            return name[: -len(q)], q
    raise Rejected(
        f"cannot split {name!r} into base and quote: it ends with none of the known quote assets "
        f"({', '.join(QUOTES)}); give the unified form instead, e.g. BTC/USDT"
    )


def _market_check(venue: str, market: str) -> None:
    if venue not in VENUE_MARKETS:
        raise Rejected(f"unknown venue {venue!r}; venues with symbol rules: {', '.join(VENUE_MARKETS)}")
    if market not in VENUE_MARKETS[venue]:
        raise Rejected(
            f"venue {venue!r} has no market {market!r}; markets: {', '.join(VENUE_MARKETS[venue])}"
        )


def to_unified(venue: str, market: str, native: str) -> SymbolRef:
    """A venue's native symbol (with its market) → SymbolRef."""
    _market_check(venue, market)
    n = native.strip().upper()
    if venue == "upbit":
        quote, _, base = n.partition("-")
        if not base or not quote:
            raise Rejected(f"Upbit market {native!r} must be QUOTE-BASE, e.g. KRW-BTC")
        return SymbolRef(base, quote)
    if venue == "okx":
        return _okx_to_unified(market, n, native)
    if venue == "binance":
        return _binance_to_unified(market, n)
    if market == "linear" and n.endswith("PERP") and len(n) > 4:  # bybit USDC perpetuals: BTCPERP
        return SymbolRef(n[:-4], "USDC", "USDC")
    base, quote = split_concat(n)  # bybit
    if market == "spot":
        return SymbolRef(base, quote)
    if market == "linear":
        return SymbolRef(base, quote, quote)
    return SymbolRef(base, quote, base)


def _binance_to_unified(market: str, n: str) -> SymbolRef:
    sym, _, suffix = n.partition("_")
    base, quote = split_concat(sym)
    if market == "spot":
        if suffix:
            raise Rejected(f"Binance spot symbols have no '_' suffix: {n!r}")
        return SymbolRef(base, quote)
    settle = quote if market == "usdm" else base
    if market == "coinm" and suffix in ("", "PERP"):
        return SymbolRef(base, quote, settle)
    if not suffix:
        return SymbolRef(base, quote, settle)
    if not re.fullmatch(r"\d{6}", suffix):
        raise Rejected(f"Binance {market} symbol {n!r}: suffix must be a YYMMDD expiry (e.g. BTCUSDT_250926)")
    _check_expiry(suffix, n)
    return SymbolRef(base, quote, settle, suffix)


def _okx_to_unified(market: str, n: str, native: str) -> SymbolRef:
    parts = n.split("-")
    if len(parts) == 2 and market == "spot":
        return SymbolRef(parts[0], parts[1])
    if len(parts) == 3 and market in ("linear", "inverse"):
        base, quote, tail = parts
        settle = quote if market == "linear" else base
        if tail == "SWAP":
            return SymbolRef(base, quote, settle)
        if re.fullmatch(r"\d{6}", tail):
            _check_expiry(tail, native)
            return SymbolRef(base, quote, settle, tail)
    raise Rejected(
        f"OKX instId {native!r} does not fit market {market!r}: spot is BASE-QUOTE, swaps "
        "BASE-QUOTE-SWAP, futures BASE-QUOTE-YYMMDD (linear settles in QUOTE, inverse in BASE)"
    )


def market_for(venue: str, ref: SymbolRef) -> str:
    """Which of the venue's markets lists this instrument."""
    if ref.settle is None:
        market = "spot"
    elif venue == "binance":
        market = "usdm" if ref.linear else "coinm"
    else:
        market = "linear" if ref.linear else "inverse"
    _market_check(venue, market)
    return market


def from_unified(venue: str, ref: SymbolRef | str) -> tuple[str, str]:
    """SymbolRef (or unified text) → (market, native symbol) on `venue`."""
    if isinstance(ref, str):
        ref = parse_unified(ref)
    market = market_for(venue, ref)
    b, q = ref.base, ref.quote
    if venue == "upbit":
        return market, f"{q}-{b}"
    if venue == "okx":
        if ref.settle is None:
            return market, f"{b}-{q}"
        return market, f"{b}-{q}-{ref.expiry or 'SWAP'}"
    if venue == "binance":
        if ref.settle is None:
            return market, b + q
        if ref.expiry:
            return market, f"{b}{q}_{ref.expiry}"
        return market, b + q if ref.linear else f"{b}{q}_PERP"
    if ref.expiry:
        raise Rejected(f"dated futures on bybit are not mapped: {ref.unified}")
    if ref.settle == "USDC" and q == "USDC" and market == "linear":
        return market, f"{b}PERP"
    return market, b + q


def close_matches(text: str, candidates: Iterable[str], n: int = 5) -> list[str]:
    pool = list(candidates)
    upper = {c.upper(): c for c in pool}
    hits = difflib.get_close_matches(text.upper(), list(upper), n=n, cutoff=0.5)
    return [upper[h] for h in hits]
