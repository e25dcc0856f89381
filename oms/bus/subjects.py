"""Bus room: NATS subject grammar `{action}.{exchange}.{market}.{symbol}` and JetStream stream names.

Touches nothing (pure functions). Examples: `orders.binance.spot.BTCUSDT`, `fills.binance.usdm.ETHUSDT`,
`market.bybit.linear.BTCUSDT`, `risk.all.all.ALL` (venue-less engine events). Cross-host commands use
two more leading tokens, the sender and the verb: `cmd.<sender>.submit.binance.spot.BTCUSDT` (verbs in
`COMMAND_VERBS`); the NATS server lets user `intake-<sender>` publish only under `cmd.<sender>.>`, so
the sender token is an identity the bridge can trust (oms/services/natsauth.py). Audit records
travel on `audit.<origin>`. One stream per exchange and kind: `ORDERS_BINANCE` holds `orders.binance.>`.

Every token is checked: no dots, wildcards (`*`, `>`), whitespace or empty tokens; exchange and market
must be known ids (oms/ids.py) or the reserved `all`; a bad subject raises `Rejected` naming the token.
"""

from __future__ import annotations

import re

import msgspec

from oms.errors import Rejected
from oms.ids import MARKETS, VENUES

ACTIONS = ("orders", "fills", "market", "positions", "risk")
COMMAND_VERBS = (
    "submit",
    "modify",
    "cancel",
    "cancel_all",
    "risk_limit",
    "trading_state",
    "leverage",  # futures controls: taken only from admin senders (oms/bus/intake.py ADMIN_VERBS)
    "margin_mode",
)
ALL = "all"
_SYMBOL = re.compile(r"^[A-Z0-9][A-Z0-9_\-]{0,47}$")
_ORIGIN = re.compile(r"^[a-z0-9][a-z0-9_\-]{0,47}$")


class Subject(msgspec.Struct, frozen=True):
    action: str
    exchange: str
    market: str
    symbol: str

    def __str__(self) -> str:
        return f"{self.action}.{self.exchange}.{self.market}.{self.symbol}"


class CommandSubject(msgspec.Struct, frozen=True):
    sender: str
    verb: str
    exchange: str
    market: str
    symbol: str

    def __str__(self) -> str:
        return f"cmd.{self.sender}.{self.verb}.{self.exchange}.{self.market}.{self.symbol}"


def _check(what: str, value: str, allowed: tuple[str, ...] | None, *, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise Rejected(f"{where}: {what} token is empty; give a non-empty {what}")
    if any(c in value for c in ".*> \t\r\n"):
        raise Rejected(
            f"{where}: {what} token {value!r} contains '.', '*', '>' or whitespace; "
            "subject tokens must be plain words"
        )
    if allowed is not None and value not in allowed:
        raise Rejected(f"{where}: unknown {what} {value!r}; expected one of {', '.join(allowed)}")
    return value


def _exchanges() -> tuple[str, ...]:
    return (*sorted(VENUES), ALL)


def _markets() -> tuple[str, ...]:
    return (*sorted(MARKETS), ALL)


def _check_symbol(symbol: str, where: str) -> str:
    _check("symbol", symbol, None, where=where)
    if not _SYMBOL.match(symbol):
        raise Rejected(
            f"{where}: symbol {symbol!r} must be 1-48 upper-case letters, digits, '_' or '-' "
            "(the venue's own symbol, e.g. BTCUSDT)"
        )
    return symbol


def build(action: str, exchange: str, market: str, symbol: str) -> str:
    """`orders.binance.spot.BTCUSDT`; raises Rejected naming the bad token."""
    where = "subject"
    _check("action", action, ACTIONS, where=where)
    _check("exchange", exchange, _exchanges(), where=where)
    _check("market", market, _markets(), where=where)
    _check_symbol(symbol, where)
    return f"{action}.{exchange}.{market}.{symbol}"


def parse(subject: str) -> Subject:
    """The four tokens of a data subject, each validated as in `build`."""
    parts = subject.split(".") if isinstance(subject, str) else []
    if len(parts) != 4:
        raise Rejected(
            f"subject {subject!r} has {len(parts)} tokens; expected 4: action.exchange.market.symbol "
            "(e.g. orders.binance.spot.BTCUSDT)"
        )
    build(*parts)
    return Subject(*parts)


def build_command(verb: str, exchange: str, market: str, symbol: str, *, sender: str) -> str:
    """`cmd.<sender>.submit.binance.spot.BTCUSDT`; raises Rejected naming the bad token."""
    where = "command subject"
    _check("sender", sender, None, where=where)
    if not _ORIGIN.match(sender):
        raise Rejected(f"{where}: sender {sender!r} must be 1-48 lower-case letters, digits, '_' or '-'")
    _check("verb", verb, COMMAND_VERBS, where=where)
    _check("exchange", exchange, _exchanges(), where=where)
    _check("market", market, _markets(), where=where)
    _check_symbol(symbol, where)
    return f"cmd.{sender}.{verb}.{exchange}.{market}.{symbol}"


def parse_command(subject: str) -> CommandSubject:
    parts = subject.split(".") if isinstance(subject, str) else []
    if len(parts) != 6 or parts[0] != "cmd":
        raise Rejected(
            f"command subject {subject!r} must be cmd.<sender>.<verb>.<exchange>.<market>.<symbol> "
            "(e.g. cmd.desk2.submit.binance.spot.BTCUSDT)"
        )
    build_command(*parts[2:], sender=parts[1])
    return CommandSubject(*parts[1:])


def audit_subject(origin: str) -> str:
    """`audit.<origin>` (origin = the sending program, e.g. gateway)."""
    if not isinstance(origin, str) or not _ORIGIN.match(origin):
        raise Rejected(f"audit origin {origin!r} must be 1-48 lower-case letters, digits, '_' or '-'")
    return f"audit.{origin}"


def stream_name(kind: str, exchange: str) -> str:
    """`ORDERS_BINANCE`: the stream of one kind on one exchange."""
    _check("kind", kind, ACTIONS, where="stream")
    _check("exchange", exchange, _exchanges(), where="stream")
    return f"{kind.upper()}_{exchange.upper()}"


def stream_subjects(kind: str, exchange: str) -> list[str]:
    stream_name(kind, exchange)
    return [f"{kind}.{exchange}.>"]


AUDIT_STREAM = "AUDIT"
AUDIT_SUBJECTS = ["audit.>"]
AUDIT_HEAD_STREAM = "AUDIT_HEAD"  # the audit chain's head, exported by the recorder (oms/store/audithead.py)
AUDIT_HEAD_SUBJECTS = ["audithead.>"]
COMMAND_WILDCARD = "cmd.>"
