"""Engine room: the `[risk]` section of configs/oms.toml — pre-trade limits and engine sizing.

Touches nothing; the config loader (oms.config) discovers this module and validates the section with
`Settings` and `validate`. Units: quantities in instrument lots (ints), money in quote currency
(decimal numbers, turned into 1e-8 units), rates in orders per second, deviation in basis points.
0 means "off / unlimited" for every max-type limit. Per-instrument overrides are keyed by instrument
id, per-account by account id, per-venue by venue name (oms.ids). At run time, send SetRiskLimit /
SetTradingState command records (audited as RiskLimitChanged / TradingStateChanged events).
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

import msgspec

from oms import ids

SECTION = "risk"


class InstrumentLimits(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    max_order_qty: int = 0  # lots
    max_position_qty: int = 0  # lots
    price_deviation_bps: int = -1  # -1 = use the section default
    leverage: float = 0  # margin leverage of this instrument (0 = 1x)


class AccountLimits(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    max_order_notional: str = ""  # quote units; "" = use the section default
    max_position_notional: str = ""
    max_leverage: float = -1
    equity: str = ""
    order_rate: int = -1
    daily_loss_reduce: str = ""
    daily_loss_halt: str = ""


class VenueLimits(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    order_rate: int = -1  # orders per second; -1 = use the section default
    max_exposure: str = ""  # quote units
    capabilities: list[str] = []  # override of the venue's native conditional-order capabilities


class Settings(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    accounts: list[int] = msgspec.field(
        default_factory=lambda: [1]
    )  # account ids the engine accepts orders for (ids start at 1)
    max_order_qty: int = 0  # lots, every instrument (0 = unlimited)
    max_order_notional: str = "0"  # quote units per order
    max_position_qty: int = 0  # lots per instrument (worst case incl. open orders)
    max_position_notional: str = "0"  # quote units per account (gross, incl. open orders)
    max_leverage: float = 0  # gross notional / equity (0 = off)
    equity: str = "0"  # account equity in quote units (needed by max_leverage)
    price_deviation_bps: int = 500  # fat-finger band around the reference price (0 = off)
    order_rate_per_account: int = 0  # orders per second (token bucket, burst = 1 s)
    order_rate_per_venue: int = 0
    max_venue_exposure: str = "0"  # quote units per venue
    daily_loss_reduce: str = "0"  # loss (realised+unrealised-fees, quote) moving ACTIVE -> REDUCING
    daily_loss_halt: str = "0"  # loss moving the account to HALTED (kill switch)
    instruments: dict[str, InstrumentLimits] = {}
    account: dict[str, AccountLimits] = {}
    venue: dict[str, VenueLimits] = {}
    # engine sizing and loop
    order_capacity: int = 1 << 16  # orders remembered (live + terminal, the idempotency horizon)
    n_instruments: int = 1024  # largest instrument id + 1
    n_accounts: int = 16  # largest account id + 1
    trade_capacity: int = 1 << 18  # fill ids remembered for duplicate detection
    ring_capacity: int = 1 << 16  # capacity of the rings the engine creates
    batch: int = 64  # records taken from one input ring per turn (fair polling)
    event_log: str = "var/data/engine/events.npy"  # "" = no local event log (replay on start)
    snapshot_every_s: float = 0  # reserved: replay from the event log is the recovery path


_MONEY_KEYS = (
    "max_order_notional",
    "max_position_notional",
    "equity",
    "max_venue_exposure",
    "daily_loss_reduce",
    "daily_loss_halt",
)


_ON_OFF = (
    "max_order_qty",
    "max_order_notional",
    "max_position_qty",
    "max_position_notional",
    "max_venue_exposure",
    "price_deviation_bps",
    "daily_loss_reduce",
    "daily_loss_halt",
    "order_rate_per_account",
    "order_rate_per_venue",
)


def off_limits(s: Settings) -> list[str]:
    """The section-wide limits that are off (0), for the engine's start-up warning: configs/oms.toml
    ships them on, so an off limit is someone's explicit choice and the log says so."""
    out = []
    for k in _ON_OFF:
        v = getattr(s, k)
        if (Decimal(v) if isinstance(v, str) else v) == 0:
            out.append(k)
    return out


def money_e8(text: str) -> int:
    """Quote-currency decimal string -> int64 1e-8 units (0 stays 0 = off)."""
    return int(Decimal(text) * 100_000_000)


def validate(s: Settings) -> list[tuple[str, object, str]]:
    bad: list[tuple[str, object, str]] = []

    def money(key: str, v: str, allow_empty: bool = False) -> None:
        if allow_empty and v == "":
            return
        try:
            d = Decimal(v)
        except InvalidOperation:
            bad.append((key, v, 'must be a decimal number in quote units, e.g. "250000"'))
            return
        if d < 0 or d * 100_000_000 >= 1 << 62:
            bad.append((key, v, "must be >= 0 and < 4.6e10"))

    for k in _MONEY_KEYS:
        money(k, getattr(s, k))
    for k in ("max_order_qty", "max_position_qty", "order_rate_per_account", "order_rate_per_venue"):
        if getattr(s, k) < 0:
            bad.append((k, getattr(s, k), "must be >= 0 (0 = unlimited/off)"))
    if not 0 <= s.price_deviation_bps <= 10_000:
        bad.append(("price_deviation_bps", s.price_deviation_bps, "must be 0..10000 (0 = off)"))
    if s.max_leverage < 0 or s.max_leverage > 1000:
        bad.append(("max_leverage", s.max_leverage, "must be 0..1000 (0 = off)"))
    if s.n_accounts < 2 or s.n_instruments < 2:
        bad.append(("n_accounts/n_instruments", (s.n_accounts, s.n_instruments), "must be >= 2"))
    if s.n_accounts > 65537:
        bad.append(
            ("n_accounts", s.n_accounts, "must be <= 65537 (account ids 1..65536 fit a venue wire id)")
        )
    for a in s.accounts:
        if not 1 <= a < s.n_accounts:
            bad.append(("accounts", a, f"must be ids in 1..{s.n_accounts - 1} (raise n_accounts)"))
    for k in ("order_capacity", "trade_capacity", "ring_capacity"):
        v = getattr(s, k)
        if v < 2 or v > 1 << 26:
            bad.append((k, v, "must be in 2..67108864"))
    if s.ring_capacity & (s.ring_capacity - 1):
        bad.append(("ring_capacity", s.ring_capacity, "must be a power of two, e.g. 65536"))
    if not 1 <= s.batch <= 4096:
        bad.append(("batch", s.batch, "must be 1..4096"))
    for key, il in s.instruments.items():
        if not key.isdigit() or not 1 <= int(key) < s.n_instruments:
            bad.append((f"instruments.{key}", key, f"must be an instrument id in 1..{s.n_instruments - 1}"))
        if il.max_order_qty < 0 or il.max_position_qty < 0 or il.leverage < 0:
            bad.append((f"instruments.{key}", il, "limits must be >= 0"))
    for key, al in s.account.items():
        if not key.isdigit() or not 1 <= int(key) < s.n_accounts:
            bad.append((f"account.{key}", key, f"must be an account id in 1..{s.n_accounts - 1}"))
        for k in _MONEY_KEYS:
            if hasattr(al, k):
                money(f"account.{key}.{k}", getattr(al, k), allow_empty=True)
    from oms.engine.constants import CAPABILITY_NAMES

    for key, vl in s.venue.items():
        if key not in ids.VENUES:
            bad.append((f"venue.{key}", key, f"must be a venue name: {', '.join(sorted(ids.VENUES))}"))
        money(f"venue.{key}.max_exposure", vl.max_exposure, allow_empty=True)
        for cap in vl.capabilities:
            if cap not in CAPABILITY_NAMES.values():
                bad.append(
                    (f"venue.{key}.capabilities", cap, f"must be one of {sorted(CAPABILITY_NAMES.values())}")
                )
    return bad
