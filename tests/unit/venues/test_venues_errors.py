"""Venue error answers → OmsError meanings, through each venue's table."""

from __future__ import annotations

import pytest

from oms.errors import OutcomeUnknown, Rejected, Transient
from oms.venues.errors import classify


@pytest.mark.parametrize(
    ("venue", "status", "code", "msg", "mutating", "kind"),
    [
        ("binance", 400, -1121, "Invalid symbol.", True, Rejected),
        ("binance", 400, -1013, "Filter failure: LOT_SIZE", True, Rejected),
        ("binance", 400, -1021, "Timestamp for this request is outside of the recvWindow.", True, Transient),
        ("binance", 400, -1022, "Signature for this request is not valid.", True, Rejected),
        ("binance", 401, -2015, "Invalid API-key, IP, or permissions for action.", True, Rejected),
        ("binance", 400, -2010, "Account has insufficient balance for requested action.", True, Rejected),
        ("binance", 400, -2010, "Market is closed.", True, Transient),
        ("binance", 429, -1003, "Too many requests", True, Transient),
        ("binance", 418, -1003, "IP banned until 1", False, Transient),
        ("binance", 503, None, "Service Unavailable", True, OutcomeUnknown),
        ("binance", 503, None, "Service Unavailable", False, Transient),
        ("binance", 400, -1007, "Timeout waiting for response from backend server.", True, OutcomeUnknown),
        ("binance", 400, -99999, "something new", True, Rejected),
        ("bybit", 200, 10002, "invalid request, please check your server timestamp", True, Transient),
        ("bybit", 200, 110007, "insufficient balance", True, Rejected),
        ("bybit", 200, 10016, "server error", True, OutcomeUnknown),
        ("okx", 200, "51001", "Instrument ID does not exist", True, Rejected),
        ("okx", 429, "50011", "Rate limit reached", True, Transient),
        ("okx", 200, "50004", "Endpoint request timeout", False, OutcomeUnknown),
        ("upbit", 400, "under_min_total_bid", "minimum total", True, Rejected),
        ("upbit", 401, "nonce_used", "nonce reused", True, Transient),
    ],
)
def test_classify(venue: str, status: int, code: object, msg: str, mutating: bool, kind: type) -> None:
    err = classify(venue, status, code, msg, mutating=mutating, retry_after=3.0)
    assert type(err) is kind
    assert err.venue == venue
    assert msg.split()[0] in str(err)


def test_retry_after_carried() -> None:
    err = classify("binance", 429, -1003, "Too many requests", retry_after=17.0)
    assert isinstance(err, Transient) and err.retry_after == 17.0


def test_unknown_venue() -> None:
    with pytest.raises(Rejected, match="no error table for venue 'kraken'"):
        classify("kraken", 400, 1, "x")
