"""Venues room (upbit): Upbit `error.name` → meaning (see oms/venues/errors.py). Table only."""

from __future__ import annotations

R, T, U, UM = "rejected", "transient", "unknown", "unknown_if_mutating"

CODES: dict[str, tuple[str, str]] = {
    "insufficient_funds_bid": (R, "insufficient KRW for the bid"),
    "insufficient_funds_ask": (R, "insufficient coin for the ask"),
    "under_min_total_bid": (R, "order total below the minimum"),
    "under_min_total_ask": (R, "order total below the minimum"),
    "invalid_price_bid": (R, "price not on the KRW tick grid"),
    "invalid_price_ask": (R, "price not on the KRW tick grid"),
    "validation_error": (R, "request validation failed"),
    "jwt_verification": (R, "JWT signature verification failed"),
    "nonce_used": (T, "nonce reused: retry with a fresh nonce"),
    "invalid_access_key": (R, "unknown access key"),
    "no_authorization_ip": (R, "IP not allowed for this key"),
    "order_not_found": (R, "order not found"),
    "too_many_requests": (T, "rate limited"),
}
