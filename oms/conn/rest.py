"""Connector room: the REST edge — python-binance `AsyncClient` behind the shared rate budget and clock.

Touches the Binance REST API (spot `/api`, USD-M `/fapi`) through python-binance and the per-key rate
budget in /dev/shm (oms/conn/ratelimit.py). One `VenueRest` per connector process; `call()` is the only
way any other module of the connector talks REST, so every request:

- waits for the budget shared by every process using the same API key (weight and order counts), and
  folds the answer's `X-MBX-USED-WEIGHT-*` / `X-MBX-ORDER-COUNT-*` headers back in;
- is stamped with the venue clock (`VenueClock` offset, `recvWindow`); a -1021 invalidates the clock,
  resyncs and retries once — a second -1021 straight after a sync is a Rejected, never a loop;
- on 429/418 blocks every process until Retry-After, then retries (at most `max_429_retries`);
- maps the outcome to the error taxonomy: 4xx venue error → `Rejected` (code = the venue code),
  5xx / timeout / connection lost after the request may have left → `OutcomeUnknown`, a refused
  connection before sending → `Transient`.

Credentials come from a `ClientHolder` (oms/secrets) when given: a new key version makes the next
request use a new AsyncClient, the old one is closed after in-flight requests had time to finish.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import aiohttp
from binance import AsyncClient
from binance.exceptions import BinanceAPIException, BinanceRequestException

from oms import log
from oms.conn.clock import VenueClock
from oms.conn.ratelimit import Limit, RateBudget, limits_from_exchange_info
from oms.errors import OutcomeUnknown, Rejected, Transient

_log = log.get(__name__)
MARKETS = ("spot", "usdm")


@dataclass(frozen=True, slots=True)
class Endpoints:
    spot_rest: str  # e.g. https://api.binance.com (python-binance adds /api)
    usdm_rest: str  # e.g. https://fapi.binance.com (python-binance adds /fapi)


@dataclass(slots=True)
class RestStats:
    requests: int = 0
    errors: int = 0
    outcome_unknown: int = 0
    throttled_waits: int = 0
    http_429: int = 0
    http_418: int = 0
    resync_1021: int = 0
    clock_syncs: int = 0
    client_swaps: int = 0
    last_error: str = ""


def limits_from_config(rate_limits: list[Any]) -> tuple[Limit, ...]:
    """Budget limits from an exchange file's [[rate_limits]] (request_weight and orders kinds)."""
    out = []
    for rl in rate_limits:
        secs = int(rl.interval_s)
        unit, n = (
            ("d", secs // 86400)
            if secs % 86400 == 0
            else ("h", secs // 3600)
            if secs % 3600 == 0
            else ("m", secs // 60)
            if secs % 60 == 0
            else ("s", secs)
        )
        if rl.kind == "request_weight":
            out.append(Limit("weight", secs * 1000, int(rl.limit), f"x-mbx-used-weight-{n}{unit}"))
        elif rl.kind == "orders":
            out.append(Limit("orders", secs * 1000, int(rl.limit), f"x-mbx-order-count-{n}{unit}"))
    return tuple(out)


def make_client(api_key: str, secret: str, ep: Endpoints) -> AsyncClient:
    """An AsyncClient aimed at the configured endpoints (must be called on the running loop)."""
    c = AsyncClient(api_key or None, secret or None)
    c.API_URL = ep.spot_rest.rstrip("/") + "/api"
    c.FUTURES_URL = ep.usdm_rest.rstrip("/") + "/fapi"
    return c


class VenueRest:
    """The connector's REST edge for both Binance markets of one API key."""

    def __init__(
        self,
        creds: Callable[[], tuple[int, str, str]],
        endpoints: Endpoints,
        *,
        recv_window_ms: int = 5000,
        timeout_s: float = 5.0,
        max_inflight: int = 256,
        rate_safety: float = 0.9,
        max_429_retries: int = 5,
    ) -> None:
        self._creds = creds  # () -> (version, api_key, secret)
        self.endpoints = endpoints
        self.recv_window_ms = recv_window_ms
        self.timeout_s = timeout_s
        self.rate_safety = rate_safety
        self.max_429_retries = max_429_retries
        self.clocks = {m: VenueClock() for m in MARKETS}
        self.budgets: dict[str, RateBudget] = {}
        self.stats = RestStats()
        self._sem = asyncio.Semaphore(max_inflight)
        self._client: AsyncClient | None = None
        self._version = -1
        self._api_key = ""
        self._retired: list[tuple[float, AsyncClient]] = []
        self._sync_lock = {m: asyncio.Lock() for m in MARKETS}
        self.inflight = 0
        self.error_times: deque[float] = deque(maxlen=256)
        self._cautious: dict[str, bool] = {}
        self._probe = {m: asyncio.Lock() for m in MARKETS}

    # ---- clients and credentials -----------------------------------------------------------------
    def client(self) -> AsyncClient:
        version, key, secret = self._creds()
        if self._client is None or version != self._version:
            if self._client is not None:
                self._retired.append((time.monotonic(), self._client))
                self.stats.client_swaps += 1
                _log.info("REST client switched to key version %d", version)
            self._client = make_client(key, secret, self.endpoints)
            # python-binance stamps its own recvWindow (10 s by default) over any parameter
            self._client.REQUEST_RECVWINDOW = self.recv_window_ms
            self._version, self._api_key = version, key
        return self._client

    @property
    def api_key(self) -> str:
        self.client()
        return self._api_key

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

    def setup_budget(self, market: str, limits: tuple[Limit, ...]) -> RateBudget:
        key_id = f"binance_{market}:{self.api_key or 'public'}"
        clock = self.clocks[market]
        # windows aligned to the venue's clock, as the venue counts them
        b = RateBudget(key_id, limits, safety=self.rate_safety, clock_ms=clock.now_ms)
        old = self.budgets.get(market)
        self.budgets[market] = b
        if old is not None:
            old.close()
        return b

    async def load_limits(self, market: str, fallback: tuple[Limit, ...]) -> tuple[Limit, ...]:
        """The venue's own rateLimits from exchangeInfo; the exchange file's when that fails."""
        try:
            info = await self.call(
                market,
                "get_exchange_info" if market == "spot" else "futures_exchange_info",
                weight=20 if market == "spot" else 1,
                signed=False,
            )
            lim = limits_from_exchange_info(info.get("rateLimits", []))
            if lim:
                return lim
        except (Rejected, Transient, OutcomeUnknown) as e:
            _log.warning("%s exchangeInfo failed (%s); using the exchange file's rate limits", market, e)
        return fallback

    async def close(self) -> None:
        await self._close_retired(force=True)
        if self._client is not None:
            with contextlib.suppress(Exception):
                await self._client.close_connection()
            self._client = None
        for b in self.budgets.values():
            b.close()

    def recent_errors(self, window_s: float = 30.0) -> int:
        """REST errors (venue errors, timeouts, lost answers) in the last `window_s` seconds."""
        cut = time.monotonic() - window_s
        return sum(1 for t in self.error_times if t >= cut)

    # ---- clock -------------------------------------------------------------------------------------
    async def sync_clock(self, market: str, force: bool = False) -> None:
        async with self._sync_lock[market]:
            clock = self.clocks[market]
            if not clock.needs_sync and not force:
                return
            best = None
            for _ in range(3):
                t0 = time.time() * 1000
                res = await self._raw(
                    market, "get_server_time" if market == "spot" else "futures_time", {}, 1, 0
                )
                t1 = time.time() * 1000
                s = clock.add_sample(t0, float(res["serverTime"]), t1)
                best = s if best is None or s.rtt_ms < best.rtt_ms else best
            self.stats.clock_syncs += 1
            _log.info(
                "%s clock offset %.1f ms (rtt %.1f ms)", market, clock.offset_ms, best.rtt_ms if best else 0
            )

    # ---- requests ----------------------------------------------------------------------------------
    async def call(
        self,
        market: str,
        method: str,
        *,
        weight: int = 1,
        orders: int = 0,
        signed: bool = True,
        **params: Any,
    ) -> Any:
        """One REST request through budget, clock and error mapping (see module docstring)."""
        if signed and self.clocks[market].needs_sync:
            await self.sync_clock(market)
        retried_1021 = False
        tries_429 = 0
        while True:
            p = dict(params)
            if signed:
                p.setdefault("recvWindow", self.recv_window_ms)
            try:
                return await self._raw(market, method, p, weight, orders)
            except BinanceAPIException as e:
                if e.code == -1021 and not retried_1021:
                    clock = self.clocks[market]
                    if clock.should_retry_after_1021():
                        clock.invalidate()
                        self.stats.resync_1021 += 1
                        retried_1021 = True
                        await self.sync_clock(market)
                        continue
                if e.status_code in (429, 418):
                    tries_429 += 1
                    if tries_429 <= self.max_429_retries:
                        continue  # _raw blocked the shared budget; acquire waits out Retry-After
                    raise Transient(
                        f"{method}: still throttled after {tries_429 - 1} waits ({e.message})",
                        code=str(e.code),
                        venue="binance",
                    ) from None
                raise self._map(method, e) from None

    def _map(self, method: str, e: BinanceAPIException) -> Exception:
        if e.status_code >= 500:
            self.stats.outcome_unknown += 1
            return OutcomeUnknown(
                f"{method}: HTTP {e.status_code} {e.message}", code=str(e.code), venue="binance"
            )
        return Rejected(f"{method}: {e.message}", code=str(e.code), venue="binance")

    def _invoke(self, client: AsyncClient, method: str, params: dict[str, Any]) -> Any:
        if method == "futures_place_batch_order":
            return self._batch(client, params)
        return getattr(client, method)(**params)

    async def _batch(self, client: AsyncClient, params: dict[str, Any]) -> Any:
        """POST /fapi/v1/batchOrders signed over exactly the body sent.

        python-binance's async batch call puts every parameter in both query and body (the venue
        answers -1101 duplicate values), and its signature covers unencoded JSON; this signs the
        url-encoded body it sends, as the venue verifies it."""
        p = dict(params)
        p["batchOrders"] = json.dumps(p["batchOrders"], separators=(",", ":"))
        p["timestamp"] = int(time.time() * 1000 + client.timestamp_offset)
        body = urlencode(p)
        secret = self._creds()[2]
        sig = hmac.new(secret.encode(), body.encode(), hashlib.sha256).hexdigest()
        async with client.session.post(
            client.FUTURES_URL + "/v1/batchOrders",
            data=f"{body}&signature={sig}",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        ) as resp:
            client.response = resp
            return await client._handle_response(resp)

    async def _raw(self, market: str, method: str, params: dict[str, Any], weight: int, orders: int) -> Any:
        budget = self.budgets.get(market)
        if budget is not None:
            while True:
                wait = budget.acquire(weight, orders)
                if wait <= 0:
                    break
                self.stats.throttled_waits += 1
                await asyncio.sleep(min(wait, 1.0))
        if self._cautious.get(market):
            # after a 429 one request at a time probes until one succeeds: requests already in
            # flight when the venue says "slow down" are what turns a 429 into a 418 ban
            async with self._probe[market]:
                return await self._send(market, method, params, budget)
        return await self._send(market, method, params, budget)

    async def _send(self, market: str, method: str, params: dict[str, Any], budget: RateBudget | None) -> Any:
        if budget is not None and self._cautious.get(market):
            while (wait := budget.acquire(0, 0)) > 0:  # the block may have been renewed meanwhile
                await asyncio.sleep(min(wait, 1.0))
        client = self.client()
        client.timestamp_offset = self.clocks[market].offset_ms
        async with self._sem:
            self.inflight += 1
            self.stats.requests += 1
            try:
                res = await asyncio.wait_for(self._invoke(client, method, params), self.timeout_s)
            except BinanceAPIException as e:
                self.stats.errors += 1
                self.error_times.append(time.monotonic())
                self.stats.last_error = f"{method}: {e.status_code} {e.code} {e.message}"
                headers = getattr(e.response, "headers", None) or {}
                if budget is not None:
                    budget.observe(headers)
                    if e.status_code in (429, 418):
                        if e.status_code == 429:
                            self.stats.http_429 += 1
                        else:
                            self.stats.http_418 += 1
                        try:
                            retry = float(headers.get("Retry-After", "1"))
                        except ValueError:
                            retry = 1.0
                        budget.blocked(retry)
                        self._cautious[market] = True
                        _log.warning(
                            "%s %s: HTTP %d, every process holds off %.0fs",
                            market,
                            method,
                            e.status_code,
                            retry,
                        )
                raise
            except TimeoutError as e:
                self.stats.errors += 1
                self.error_times.append(time.monotonic())
                self.stats.outcome_unknown += 1
                self.stats.last_error = f"{method}: timeout"
                raise OutcomeUnknown(
                    f"{method}: no answer within {self.timeout_s}s", code="timeout", venue="binance"
                ) from e
            except aiohttp.ClientConnectorError as e:
                self.stats.errors += 1
                self.error_times.append(time.monotonic())
                self.stats.last_error = f"{method}: {e}"
                raise Transient(f"{method}: cannot connect ({e})", code="connect", venue="binance") from e
            except (aiohttp.ClientError, OSError, BinanceRequestException) as e:
                self.stats.errors += 1
                self.error_times.append(time.monotonic())
                self.stats.outcome_unknown += 1
                self.stats.last_error = f"{method}: {e}"
                raise OutcomeUnknown(f"{method}: answer lost ({e})", code="io", venue="binance") from e
            finally:
                self.inflight -= 1
            self._cautious[market] = False
            resp = client.response
            if budget is not None and resp is not None:
                budget.observe(resp.headers)
            if self._retired:
                await self._close_retired()
            return res
