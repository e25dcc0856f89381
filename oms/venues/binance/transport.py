"""Venues room (binance): the REST edge — python-binance's `AsyncClient`, as the user chose, behind the
runtime's gate (oms/conn/rest.py owns budget, clock and error policy; this only speaks the wire).

Touches the Binance REST API (spot `/api`, USD-M `/fapi`) of the configured base URLs and the secret it
is given (never logged). `op` is a python-binance coroutine name (or `batch_orders`, signed here over the
exact body sent: python-binance's async batch call puts every parameter in both query and body, which
the venue answers with -1101, and signs unencoded JSON). Credentials come from `creds()` → (version,
key, secret): a new version makes the next request use a new client; the old one is closed once
requests in flight had time to finish. Errors: an error answer → `VenueHttpError`, a refused connection
→ `ConnectFailed`, anything else after sending propagates (the runtime treats it as a lost answer).
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import aiohttp
from binance import AsyncClient
from binance.exceptions import BinanceAPIException, BinanceRequestException

from oms import log
from oms.venues.binance.auth import hmac_signature
from oms.venues.interface import ConnectFailed, VenueHttpError

_log = log.get(__name__)

Creds = Callable[[], tuple[int, str, str]]


class LostAnswer(Exception):
    """python-binance could not read the answer (the request may have taken effect)."""


def make_client(api_key: str, secret: str, endpoints: dict[str, str]) -> AsyncClient:
    """An AsyncClient aimed at the configured endpoints (must be called on the running loop)."""
    c = AsyncClient(api_key or None, secret or None)
    c.API_URL = endpoints.get("spot", "").rstrip("/") + "/api"
    c.FUTURES_URL = endpoints.get("usdm", "").rstrip("/") + "/fapi"
    return c


class BinanceTransport:
    def __init__(self, creds: Creds, endpoints: dict[str, str], recv_window_ms: int, timeout_s: float = 5.0):
        self._creds = creds
        self.endpoints = endpoints
        self.recv_window_ms = recv_window_ms
        self.timeout_s = timeout_s
        self._client: AsyncClient | None = None
        self._version = -1
        self._api_key = ""
        self._retired: list[tuple[float, AsyncClient]] = []
        self.client_swaps = 0
        self._headers: dict[str, str] = {}

    def client(self) -> AsyncClient:
        version, key, secret = self._creds()
        if self._client is None or version != self._version:
            if self._client is not None:
                self._retired.append((time.monotonic(), self._client))
                self.client_swaps += 1
                _log.info("REST client switched to key version %d", version)
            self._client = make_client(key, secret, self.endpoints)
            # python-binance stamps its own recvWindow (10 s by default) over any parameter
            self._client.REQUEST_RECVWINDOW = self.recv_window_ms
            self._version, self._api_key = version, key
        return self._client

    def key_id(self) -> str:
        self.client()
        return self._api_key or "public"

    def last_headers(self) -> dict[str, str]:
        return self._headers

    async def server_time_ms(self, market: str) -> float:
        res = await self.invoke(market, "get_server_time" if market == "spot" else "futures_time", {}, 0.0)
        return float(res["serverTime"])

    async def invoke(self, market: str, op: str, params: dict[str, Any], clock_offset_ms: float) -> Any:
        client = self.client()
        client.timestamp_offset = clock_offset_ms
        self._headers = {}
        try:
            if op == "batch_orders":
                res = await self._batch(client, params)
            else:
                res = await getattr(client, op)(**params)
        except BinanceAPIException as e:
            headers = {k.lower(): v for k, v in (getattr(e.response, "headers", None) or {}).items()}
            raise VenueHttpError(e.status_code, e.code, e.message, headers) from None
        except aiohttp.ClientConnectorError as e:
            raise ConnectFailed(str(e)) from e
        except BinanceRequestException as e:
            raise LostAnswer(str(e)) from e
        resp = client.response
        if resp is not None:
            self._headers = {k.lower(): v for k, v in resp.headers.items()}
        if self._retired:
            await self._close_retired()
        return res

    async def _batch(self, client: AsyncClient, params: dict[str, Any]) -> Any:
        p = dict(params)
        p["batchOrders"] = json.dumps(p["batchOrders"], separators=(",", ":"))
        p["timestamp"] = int(time.time() * 1000 + client.timestamp_offset)
        body = urlencode(p)
        secret = self._creds()[2]
        sig = hmac_signature(secret, body)  # the docs' known-answer vector checks this (conformance)
        async with client.session.post(
            client.FUTURES_URL + "/v1/batchOrders",
            data=f"{body}&signature={sig}",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        ) as resp:
            client.response = resp
            return await client._handle_response(resp)

    async def _close_retired(self, force: bool = False) -> None:
        now = time.monotonic()
        keep = []
        for t, c in self._retired:
            if force or now - t > 2 * self.timeout_s:
                with contextlib.suppress(Exception):
                    await c.close_connection()
            else:
                keep.append((t, c))
        self._retired = keep

    async def close(self) -> None:
        await self._close_retired(force=True)
        if self._client is not None:
            with contextlib.suppress(Exception):
                await self._client.close_connection()
            self._client = None
