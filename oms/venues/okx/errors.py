"""Venues room (okx): OKX v5 `code` / per-item `sCode` → meaning (see oms/venues/errors.py). Table only."""

from __future__ import annotations

R, T, U, UM = "rejected", "transient", "unknown", "unknown_if_mutating"

CODES: dict[str, tuple[str, str]] = {
    "1": (R, "operation failed (see per-item sCode)"),
    "2": (R, "batch partially succeeded (see per-item sCode)"),
    "50001": (T, "service temporarily unavailable"),
    "50004": (U, "endpoint request timeout; outcome unknown"),
    "50011": (T, "rate limit reached"),
    "50013": (T, "system busy"),
    "50102": (T, "timestamp request expired (clock)"),
    "50111": (R, "invalid OK-ACCESS-KEY"),
    "50113": (R, "invalid signature"),
    "51000": (R, "parameter error"),
    "51001": (R, "instrument ID does not exist"),
    "51008": (R, "insufficient balance"),
    "51011": (R, "duplicate order ID"),
    "51020": (R, "order amount below minimum"),
    "51121": (R, "order quantity must be a multiple of the lot size"),
    "51400": (R, "cancellation failed: order does not exist or already done"),
    "51503": (R, "amend failed"),
    "51603": (R, "order does not exist"),
}
