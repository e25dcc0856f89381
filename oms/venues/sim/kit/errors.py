"""Simulator kit room: the one error a simulated venue raises, and the named reject reasons the kit's
matching core uses (each venue maps them to its own code and message in a table).

Touches nothing. `SimError` carries what goes on the wire (HTTP status, venue code, venue message, extra
headers); the server skeleton renders it with the venue's envelope.
"""

from __future__ import annotations

from collections.abc import Mapping


class SimError(Exception):
    """A venue's error answer: HTTP status, code and message exactly as the venue sends them."""

    def __init__(self, code: int, msg: str, status: int = 400, headers: dict[str, str] | None = None) -> None:
        super().__init__(msg)
        self.code = code
        self.msg = msg
        self.status = status
        self.headers = headers or {}


# Reasons the kit's matching core rejects for; a venue's table maps each to (code, message).
# A reason missing from a table means "the venue does not reject for this" where that is optional
# (`fok_unfillable`: without it an unfillable FOK expires; `post_only_would_take`: without it the
# order is accepted and at once canceled, as Bybit does).
REASONS = (
    "market_closed",  # the symbol is not trading (maintenance, halted)
    "duplicate_client_id",  # an open order already has this client id
    "max_open_orders",  # the symbol's open-order cap
    "trigger_immediately",  # a stop / take-profit would fire at once
    "post_only_would_take",  # (optional) a post-only order would cross: reject rather than accept+cancel
    "fok_unfillable",  # (optional) FOK cannot fill whole: reject rather than expire
    "insufficient_balance",  # spot: cannot lock what the order needs
    "reduce_only_rejected",  # reduce-only would open or grow a position
    "margin_insufficient",  # derivatives: initial margin above what is available
    "order_not_found",  # no such order for this account and symbol
    "order_not_open",  # cancel / amend of an order that is no longer open
    "amend_qty_invalid",  # keep-priority amend: not below the quantity, not above what is executed
    "modify_qty_too_small",  # modify below what is already executed
    "modify_unchanged",  # modify that changes nothing
)

ErrorTable = Mapping[str, tuple[int, str]]


def check_table(name: str, table: ErrorTable) -> None:
    """Raise ValueError naming the reasons a venue's table lacks (all but the optional ones)."""
    optional = {"fok_unfillable", "post_only_would_take"}
    missing = [r for r in REASONS if r not in table and r not in optional]
    unknown = [r for r in table if r not in REASONS]
    if missing or unknown:
        raise ValueError(
            f"error table {name!r}: missing reasons {missing}, unknown reasons {unknown}; "
            f"the kit's reasons are {', '.join(REASONS)}"
        )
