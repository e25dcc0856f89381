"""Signing known-answer vectors (Binance docs) and Ed25519 round trip against the simulator's verifier."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from oms.venues.binance.auth import ed25519_signature, hmac_signature, signed_query, ws_api_params
from oms.venues.sim.binance.core import SimError
from oms.venues.sim.binance.rest_common import verify_signature
from oms.venues.sim.kit.accounts import Accounts

SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"
PAYLOAD = (
    "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1&recvWindow=5000"
    "&timestamp=1499827319559"
)


def test_hmac_known_answer() -> None:
    assert (
        hmac_signature(SECRET, PAYLOAD) == "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71"
    )


def test_signed_query_matches_vector() -> None:
    q = signed_query(
        [
            ("symbol", "LTCBTC"),
            ("side", "BUY"),
            ("type", "LIMIT"),
            ("timeInForce", "GTC"),
            ("quantity", "1"),
            ("price", "0.1"),
        ],
        SECRET,
        1499827319559,
        recv_window=5000,
    )
    assert q == PAYLOAD + "&signature=c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71"


def test_sim_verifies_query_body_split_and_rejects_tampering() -> None:
    accts = Accounts({}, {})
    key = accts.add_key("k", SECRET, ("SPOT",))
    sig = "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71"
    query, body = "symbol=LTCBTC&side=BUY&type=LIMIT", PAYLOAD[len("symbol=LTCBTC&side=BUY&type=LIMIT") :]
    verify_signature(key, query, body + "&signature=" + sig)  # payload = query + body, no separator
    verify_signature(key, PAYLOAD + "&signature=" + sig.upper(), "")  # hex compared case-insensitively
    with pytest.raises(SimError) as e:
        verify_signature(key, PAYLOAD.replace("0.1", "0.2") + "&signature=" + sig, "")
    assert (e.value.code, e.value.msg) == (-1022, "Signature for this request is not valid.")


def test_ed25519_round_trip_through_sim() -> None:
    priv = Ed25519PrivateKey.generate()
    accts = Accounts({}, {})
    key = accts.add_key("ed", "", ("SPOT",), ed25519_public=priv.public_key())
    sig = ed25519_signature(priv, PAYLOAD)
    from urllib.parse import quote

    verify_signature(key, PAYLOAD + "&signature=" + quote(sig, safe=""), "")
    with pytest.raises(SimError):
        verify_signature(key, PAYLOAD + "x&signature=" + quote(sig, safe=""), "")


def test_ws_api_params_sorted_and_signed() -> None:
    p = ws_api_params({"symbol": "BTCUSDT"}, "key1", "sec", 1700000000000)
    assert list(p) == ["apiKey", "symbol", "timestamp", "signature"]
    assert p["signature"] == hmac_signature("sec", "apiKey=key1&symbol=BTCUSDT&timestamp=1700000000000")
