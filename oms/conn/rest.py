"""Connector room: the REST gate — every request of a connector through the shared rate budget, the venue
clock and the venue's error table. Venue-neutral: the adapter's `Transport` speaks the wire.

Touches the venue only through the adapter's transport, and the per-key rate budget in /dev/shm
(oms/conn/ratelimit.py). One `VenueRest` per connector process; `call()` is the only way the runtime
and the adapter talk REST, so every request:

- waits for the budget shared by every process using the same API key (weight and order counts), and
  folds the answer's usage headers (the adapter's `Limit.header`s) back in;
- is stamped with the venue clock (`VenueClock` offset, `recvWindow`); an error the venue's table calls
  "clock" invalidates the clock, resyncs and retries once — a second one straight after a sync is a
  Rejected, never a loop;
- on 429/418 blocks every process until Retry-After, then retries (at most `max_429_retries`), one
  request at a time probing until one succeeds;
- maps the outcome through the venue's error table (`oms.venues.errors.classify`): a code the table
  calls "unknown" is `OutcomeUnknown` whatever its HTTP status; otherwise 5xx / timeout / an answer lost
  after sending → `OutcomeUnknown`, a connection refused before sending → `Transient`, other 4xx →
  `Rejected` with the venue's code.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from oms import log
from oms.conn.clock import VenueClock
from oms.conn.ratelimit import RateBudget
from oms.errors import OmsError, OutcomeUnknown, Rejected, Transient
from oms.venues.errors import classify, meaning_of
from oms.venues.interface import ConnectFailed, Limit, Transport, VenueAdapter, VenueHttpError

_log = log.get(__name__)


@dataclass(slots=True)
class RestStats:
    requests: int = 0
    errors: int = 0
    outcome_unknown: int = 0
    throttled_waits: int = 0
    order_rate_rejects: int = 0  # orders refused because the budget would hold them > max_order_wait_s
    http_429: int = 0
    http_418: int = 0
    resync_1021: int = 0  # clock resyncs forced by an error the venue's table calls "clock"
    clock_syncs: int = 0
    client_swaps: int = 0
    last_error: str = ""


def limits_from_config(rate_limits: list[Any], header: Callable[[str, int], str]) -> tuple[Limit, ...]:
    """Budget limits from an exchange file's [[rate_limits]] (request_weight and orders kinds);
    `header(kind, interval_s)` is the adapter's name for the answer header that reports the limit."""
    out = []
    for rl in rate_limits:
        secs = int(rl.interval_s)
        kind = {"request_weight": "weight", "orders": "orders"}.get(rl.kind)
        if kind:
            out.append(Limit(kind, secs * 1000, int(rl.limit), header(kind, secs)))
    return tuple(out)


class VenueRest:
    """The connector's REST gate for every market of one venue and API key."""

    def __init__(
        self,
        adapter: VenueAdapter,
        transport: Transport,
        markets: tuple[str, ...],
        *,
        recv_window_ms: int = 5000,
        timeout_s: float = 5.0,
        max_inflight: int = 256,
        rate_safety: float = 0.9,
        max_429_retries: int = 5,
        max_order_wait_s: float = 2.0,
    ) -> None:
        self.adapter = adapter
        self.max_order_wait_s = max_order_wait_s  # an order never waits longer for the rate budget
        self.venue = adapter.name
        self.transport = transport
        self.recv_window_ms = recv_window_ms
        self.timeout_s = timeout_s
        self.rate_safety = rate_safety
        self.max_429_retries = max_429_retries
        self.clocks = {m: VenueClock() for m in markets}
        self.budgets: dict[str, RateBudget] = {}
        self.stats = RestStats()
        self._sem = asyncio.Semaphore(max_inflight)
        self._sync_lock = {m: asyncio.Lock() for m in markets}
        self.inflight = 0
        self.error_times: deque[float] = deque(maxlen=256)
        self._cautious: dict[str, bool] = {}
        self._probe = {m: asyncio.Lock() for m in markets}

    @property
    def api_key(self) -> str:
        return self.transport.key_id()

    def setup_budget(self, market: str, limits: tuple[Limit, ...]) -> RateBudget:
        key_id = f"{self.venue}_{market}:{self.transport.key_id()}"
        clock = self.clocks[market]
        # windows aligned to the venue's clock, as the venue counts them
        b = RateBudget(key_id, limits, safety=self.rate_safety, clock_ms=clock.now_ms)
        old = self.budgets.get(market)
        self.budgets[market] = b
        if old is not None:
            old.close()
        return b

    async def load_limits(self, market: str, fallback: tuple[Limit, ...]) -> tuple[Limit, ...]:
        """The venue's own limits (read by the adapter); the exchange file's when that fails."""
        try:
            lim = await self.adapter.instrument_provider.rate_limits(self, market)
            if lim:
                return lim
        except OmsError as e:
            _log.warning("%s rate limits unavailable (%s); using the exchange file's", market, e)
        return fallback

    async def close(self) -> None:
        await self.transport.close()
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
                try:
                    server = await self._guard(market, "server_time", self.transport.server_time_ms(market))
                except VenueHttpError as e:
                    raise classify(self.adapter.errors, e.status, e.code, e.message, mutating=False) from None
                t1 = time.time() * 1000
                s = clock.add_sample(t0, server, t1)
                best = s if best is None or s.rtt_ms < best.rtt_ms else best
            self.stats.clock_syncs += 1
            _log.info(
                "%s clock offset %.1f ms (rtt %.1f ms)", market, clock.offset_ms, best.rtt_ms if best else 0
            )

    # ---- requests ----------------------------------------------------------------------------------
    async def call(
        self,
        market: str,
        op: str,
        *,
        weight: int = 1,
        orders: int = 0,
        signed: bool = True,
        mutating: bool | None = None,
        **params: Any,
    ) -> Any:
        """One REST request through budget, clock and error mapping (see module docstring)."""
        mut = orders > 0 if mutating is None else mutating
        if signed and self.clocks[market].needs_sync:
            await self.sync_clock(market)
        retried_clock = False
        tries_429 = 0
        while True:
            p = dict(params)
            if signed:
                p.setdefault("recvWindow", self.recv_window_ms)
            try:
                return await self._raw(market, op, p, weight, orders)
            except VenueHttpError as e:
                if e.status in (429, 418):
                    tries_429 += 1
                    if tries_429 <= self.max_429_retries:
                        continue  # _send blocked the shared budget; acquire waits out Retry-After
                    raise Transient(
                        f"{op}: still throttled after {tries_429 - 1} waits ({e.message})",
                        code=str(e.code),
                        venue=self.venue,
                    ) from None
                if meaning_of(self.adapter.errors, e.code, e.message) == "clock" and not retried_clock:
                    clock = self.clocks[market]
                    if clock.should_retry_after_1021():
                        clock.invalidate()
                        self.stats.resync_1021 += 1
                        retried_clock = True
                        await self.sync_clock(market)
                        continue
                    err = Rejected(
                        f"{op}: {e.message} (right after a clock sync)", code=str(e.code), venue=self.venue
                    )
                    raise err from None
                err = classify(self.adapter.errors, e.status, e.code, f"{op}: {e.message}", mutating=mut)
                if isinstance(err, OutcomeUnknown):
                    self.stats.outcome_unknown += 1
                raise err from None

    async def _raw(self, market: str, op: str, params: dict[str, Any], weight: int, orders: int) -> Any:
        budget = self.budgets.get(market)
        if budget is not None:
            waited = 0.0
            while True:
                wait = budget.acquire(weight, orders)
                if wait <= 0:
                    break
                if orders and waited + wait > self.max_order_wait_s:
                    # backpressure: never an unbounded queue behind the venue's order rate
                    self.stats.order_rate_rejects += 1
                    raise Transient(
                        f"{op}: the venue's order rate budget ({market}) is used up for {wait:.2f}s more "
                        f"(waited {waited:.2f}s, bound max_order_wait_s = {self.max_order_wait_s:g}s); "
                        "order not sent: slow down or retry later",
                        code="-1003",
                        venue=self.venue,
                        retry_after=wait,
                    )
                self.stats.throttled_waits += 1
                step = min(wait, 1.0)
                waited += step
                await asyncio.sleep(step)
        if self._cautious.get(market):
            # after a 429 one request at a time probes until one succeeds: requests already in
            # flight when the venue says "slow down" are what turns a 429 into a 418 ban
            async with self._probe[market]:
                return await self._send(market, op, params, budget)
        return await self._send(market, op, params, budget)

    async def _send(self, market: str, op: str, params: dict[str, Any], budget: RateBudget | None) -> Any:
        if budget is not None and self._cautious.get(market):
            while (wait := budget.acquire(0, 0)) > 0:  # the block may have been renewed meanwhile
                await asyncio.sleep(min(wait, 1.0))
        offset = self.clocks[market].offset_ms
        async with self._sem:
            res = await self._guard(market, op, self.transport.invoke(market, op, params, offset), budget)
        self._cautious[market] = False
        if budget is not None:
            budget.observe(self.transport.last_headers())
        return res

    async def _guard(self, market: str, op: str, coro: Any, budget: RateBudget | None = None) -> Any:
        """Run one transport coroutine with the timeout; count and map what goes wrong."""
        self.inflight += 1
        self.stats.requests += 1
        try:
            return await asyncio.wait_for(coro, self.timeout_s)
        except VenueHttpError as e:
            self._error(f"{op}: {e.status} {e.code} {e.message}")
            if budget is not None:
                budget.observe(e.headers)
                if e.status in (429, 418):
                    self._throttled(market, op, e, budget)
            raise
        except TimeoutError as e:
            self._error(f"{op}: timeout")
            self.stats.outcome_unknown += 1
            raise OutcomeUnknown(
                f"{op}: no answer within {self.timeout_s}s", code="timeout", venue=self.venue
            ) from e
        except ConnectFailed as e:
            self._error(f"{op}: {e}")
            raise Transient(f"{op}: cannot connect ({e})", code="connect", venue=self.venue) from e
        except (OmsError, asyncio.CancelledError):
            raise
        except Exception as e:
            self._error(f"{op}: {e}")
            self.stats.outcome_unknown += 1
            raise OutcomeUnknown(f"{op}: answer lost ({e})", code="io", venue=self.venue) from e
        finally:
            self.inflight -= 1
            self.stats.client_swaps = int(getattr(self.transport, "client_swaps", 0))

    def _error(self, text: str) -> None:
        self.stats.errors += 1
        self.error_times.append(time.monotonic())
        self.stats.last_error = text

    def _throttled(self, market: str, op: str, e: VenueHttpError, budget: RateBudget) -> None:
        if e.status == 429:
            self.stats.http_429 += 1
        else:
            self.stats.http_418 += 1
        try:
            retry = float(e.headers.get("retry-after", "1"))
        except ValueError:
            retry = 1.0
        budget.blocked(retry)
        self._cautious[market] = True
        _log.warning("%s %s: HTTP %d, every process holds off %.0fs", market, op, e.status, retry)
