"""Venues room (binance): request signing — HMAC-SHA256 (hex) and Ed25519 (base64), REST and WS API.

Touches nothing but the secret it is handed (never logged). Binance signs the exact bytes it receives:
REST payload = query string + form body, no separator; WS API payload = the params sorted by key,
`k=v&...`, without `signature`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlencode


def hmac_signature(secret: str | bytes, payload: str | bytes) -> str:
    key = secret.encode() if isinstance(secret, str) else secret
    data = payload.encode() if isinstance(payload, str) else payload
    return hmac.new(key, data, hashlib.sha256).hexdigest()


def ed25519_signature(private_key: Any, payload: str | bytes) -> str:
    """`private_key`: a cryptography Ed25519PrivateKey (or PEM bytes/str of one)."""
    if isinstance(private_key, str | bytes):
        from cryptography.hazmat.primitives.serialization import load_pem_private_key

        pem = private_key.encode() if isinstance(private_key, str) else private_key
        private_key = load_pem_private_key(pem, password=None)
    data = payload.encode() if isinstance(payload, str) else payload
    return base64.b64encode(private_key.sign(data)).decode()


def signed_query(
    params: Iterable[tuple[str, Any]], secret: str | bytes, timestamp_ms: int, recv_window: int | None = None
) -> str:
    """`k=v&...&timestamp=..&signature=..` for a REST call (params keep their order)."""
    items = [(k, str(v)) for k, v in params if v is not None]
    if recv_window is not None:
        items.append(("recvWindow", str(recv_window)))
    items.append(("timestamp", str(timestamp_ms)))
    query = urlencode(items)
    return f"{query}&signature={hmac_signature(secret, query)}"


def ws_api_params(params: Mapping[str, Any], api_key: str, secret: str | bytes, timestamp_ms: int) -> dict:
    """Params for a signed WS API request: adds apiKey + timestamp, sorts, appends signature."""
    p = {**{k: v for k, v in params.items() if v is not None}, "apiKey": api_key, "timestamp": timestamp_ms}
    ordered = dict(sorted(p.items()))
    ordered["signature"] = hmac_signature(secret, urlencode([(k, str(v)) for k, v in ordered.items()]))
    return ordered
