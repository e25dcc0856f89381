"""Simulator kit room: accounts, API keys, spot balances, the derivatives wallet, positions and the
account ledger (realized PnL, commissions: what income-history endpoints page through).

Touches nothing outside the simulator. Balances are Decimals; an `unlimited` account (the synthetic
market maker) is never short of anything. Positions are one-way (`BOTH`) or hedge legs (`LONG` /
`SHORT`); cross margin is what the margin check uses; the margin type is kept per symbol and reported.
Permissions are the venue's own words (the venue's server checks them).
"""

from __future__ import annotations

import itertools
from collections import deque
from dataclasses import dataclass, field
from decimal import Decimal

ZERO = Decimal(0)
LEDGER_ROWS = 100_000  # ledger entries kept per account (oldest forgotten first)
_tran_ids = itertools.count(9_000_000_001)


@dataclass(frozen=True)
class LedgerEntry:
    """One change of a wallet balance: kind is REALIZED_PNL, COMMISSION, FUNDING_FEE or TRANSFER."""

    tran_id: int
    kind: str
    asset: str
    amount: Decimal
    symbol: str
    time: int
    trade_id: int = 0


@dataclass
class Position:
    symbol: str
    amt: Decimal = ZERO
    entry: Decimal = ZERO
    leverage: int = 20
    margin_type: str = "cross"
    update_time: int = 0
    side: str = "BOTH"  # BOTH (one-way mode) or LONG / SHORT (hedge mode)

    def apply(self, side: int, qty: Decimal, price: Decimal) -> Decimal:
        """Apply a fill; returns realized PnL."""
        signed = qty if side > 0 else -qty
        realized = ZERO
        if self.amt == 0 or (self.amt > 0) == (signed > 0):
            new_amt = self.amt + signed
            self.entry = (self.entry * abs(self.amt) + price * qty) / abs(new_amt)
            self.amt = new_amt
            return realized
        closing = min(abs(signed), abs(self.amt))
        direction = 1 if self.amt > 0 else -1
        realized = (price - self.entry) * closing * direction
        new_amt = self.amt + signed
        if new_amt == 0:
            self.entry = ZERO
        elif (new_amt > 0) != (self.amt > 0):
            self.entry = price  # flipped: the remainder opened at this price
        self.amt = new_amt
        return realized

    def upnl(self, mark: Decimal) -> Decimal:
        return (mark - self.entry) * self.amt if self.amt else ZERO


@dataclass
class Account:
    uid: int
    spot: dict[str, list[Decimal]] = field(default_factory=dict)  # asset -> [free, locked]
    wallet: dict[str, Decimal] = field(default_factory=dict)  # futures wallet balances
    positions: dict[str, Position] = field(default_factory=dict)
    unlimited: bool = False
    dual_side: bool = False
    update_time: int = 0
    ledger: deque[LedgerEntry] = field(default_factory=lambda: deque(maxlen=LEDGER_ROWS))

    def book(self, kind: str, asset: str, amount: Decimal, symbol: str, time: int, trade_id: int = 0) -> None:
        """Record a wallet change in the ledger (the caller has already changed the balance)."""
        if not self.unlimited:
            self.ledger.append(LedgerEntry(next(_tran_ids), kind, asset, amount, symbol, time, trade_id))

    # ------------------------------------------------------------ spot
    def free(self, asset: str) -> Decimal:
        return self.spot.get(asset, [ZERO, ZERO])[0]

    def lock(self, asset: str, amount: Decimal) -> bool:
        if self.unlimited:
            return True
        row = self.spot.setdefault(asset, [ZERO, ZERO])
        if row[0] < amount:
            return False
        row[0] -= amount
        row[1] += amount
        return True

    def unlock(self, asset: str, amount: Decimal) -> None:
        if self.unlimited or amount <= 0:
            return
        row = self.spot.setdefault(asset, [ZERO, ZERO])
        row[1] -= amount
        row[0] += amount

    def spend_locked(self, asset: str, amount: Decimal) -> None:
        if self.unlimited:
            return
        self.spot.setdefault(asset, [ZERO, ZERO])[1] -= amount

    def spend_free(self, asset: str, amount: Decimal) -> None:
        if self.unlimited:
            return
        self.spot.setdefault(asset, [ZERO, ZERO])[0] -= amount

    def credit(self, asset: str, amount: Decimal) -> None:
        if self.unlimited:
            return
        self.spot.setdefault(asset, [ZERO, ZERO])[0] += amount

    # ------------------------------------------------------------ futures
    def position(self, symbol: str, default_leverage: int, side: str = "BOTH") -> Position:
        """The one-way position (`BOTH`) or a hedge-mode leg (`LONG` / `SHORT`); leverage and margin type
        are per symbol, so a new leg copies them from the symbol's one-way entry."""
        key = symbol if side == "BOTH" else f"{symbol}:{side}"
        p = self.positions.get(key)
        if p is None:
            base = self.positions.get(symbol)
            lev = base.leverage if base else default_leverage
            p = Position(symbol, leverage=lev, margin_type=base.margin_type if base else "cross", side=side)
            self.positions[key] = p
        return p

    def legs(self, symbol: str) -> list[Position]:
        return [p for p in self.positions.values() if p.symbol == symbol]

    def margin_used(self, marks: dict[str, Decimal]) -> Decimal:
        used = ZERO
        for p in self.positions.values():
            if p.amt:
                used += abs(p.amt) * marks.get(p.symbol, p.entry) / p.leverage
        return used

    def upnl(self, marks: dict[str, Decimal]) -> Decimal:
        return sum((p.upnl(marks.get(p.symbol, p.entry)) for p in self.positions.values()), ZERO)


@dataclass
class ApiKey:
    key: str
    secret: str
    account: Account
    permissions: tuple[str, ...] = ("SPOT", "FUTURES")
    ips: tuple[str, ...] = ()  # empty = unrestricted
    ed25519_public: object | None = None  # cryptography Ed25519PublicKey when the key is Ed25519
    revoked: bool = False


class Accounts:
    """API keys → accounts. Several keys may share one account."""

    def __init__(self, spot_balances: dict[str, Decimal], futures_balances: dict[str, Decimal]) -> None:
        self._spot0 = dict(spot_balances)
        self._fut0 = dict(futures_balances)
        self.keys: dict[str, ApiKey] = {}
        self.accounts: dict[int, Account] = {}
        self._next_uid = 1000
        self.maker = self.new_account(unlimited=True)

    def new_account(self, unlimited: bool = False) -> Account:
        self._next_uid += 1
        acct = Account(
            uid=self._next_uid,
            spot={a: [v, ZERO] for a, v in self._spot0.items()},
            wallet=dict(self._fut0),
            unlimited=unlimited,
        )
        self.accounts[acct.uid] = acct
        return acct

    def add_key(
        self,
        key: str,
        secret: str,
        permissions: tuple[str, ...],
        ips: tuple[str, ...] = (),
        account: Account | None = None,
        ed25519_public: object | None = None,
    ) -> ApiKey:
        acct = account or self.new_account()
        k = ApiKey(key, secret, acct, tuple(p.upper() for p in permissions), tuple(ips), ed25519_public)
        self.keys[key] = k
        return k
