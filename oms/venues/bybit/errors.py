"""Venues room (bybit): Bybit v5 `retCode` → meaning (see oms/venues/errors.py). Table only."""

from __future__ import annotations

R, T, U, UM = "rejected", "transient", "unknown", "unknown_if_mutating"

CODES: dict[str, tuple[str, str]] = {
    "10000": (UM, "server timeout"),
    "10001": (R, "parameter error"),
    "10002": (T, "request time exceeds the time window (clock)"),
    "10003": (R, "invalid API key"),
    "10004": (R, "invalid signature"),
    "10005": (R, "permission denied"),
    "10006": (T, "too many visits (rate limit)"),
    "10010": (R, "unmatched IP"),
    "10016": (UM, "server error"),
    "10018": (T, "exceeded IP rate limit"),
    "110001": (R, "order does not exist"),
    "110007": (R, "insufficient available balance"),
    "110008": (R, "order already completed or cancelled"),
    "110043": (R, "leverage not modified"),
    "170121": (R, "invalid symbol"),
    "170131": (R, "balance insufficient"),
    "170141": (R, "duplicate clientOrderId"),
}
