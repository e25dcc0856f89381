"""Simulator kit room: the venue rate limiter — request weight per IP and order counts per account in
fixed windows, answered the way exchanges do: over the limit a 429 with Retry-After, a request before
Retry-After has passed earns an IP ban (Binance's 418), and a ban can also be forced (the `ban` fault).

Touches nothing. Counting is venue-neutral; the answers are the venue's: it passes a `RateErrors` that
builds its own errors (code, message, status, headers) from what the limiter measured.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from oms.venues.sim.kit.errors import SimError


@dataclass(frozen=True)
class Window:
    """A fixed window: `name` as the venue spells it in headers (e.g. "10S"), length and limit."""

    name: str
    span_ms: int
    limit: int


class RateErrors(Protocol):
    def banned(self, ip: str, until_ms: int, retry_s: int) -> SimError: ...

    def too_much_weight(self, ip: str, window: Window, retry_s: int) -> SimError: ...

    def too_many_orders(self, window: Window, retry_s: int, counts: dict[str, int]) -> SimError: ...


class RateLimiter:
    """Weight per IP in `weight_window`, orders per account in each of `order_windows`."""

    def __init__(
        self,
        weight_window: Window,
        order_windows: list[Window],
        errors: RateErrors,
        ban_seconds: int = 120,
        retry_after_cap: int = 60,
    ) -> None:
        self.weight_window = weight_window
        self.order_windows = order_windows
        self.errors = errors
        self.ban_seconds = ban_seconds
        self.retry_after_cap = retry_after_cap
        self.weight: dict[tuple[str, int], int] = {}
        self.orders: dict[tuple[int, str, int], int] = {}
        self.warned_until: dict[str, int] = {}
        self.banned_until: dict[str, int] = {}

    def ban(self, ip: str, now: int, seconds: int) -> None:
        """Ban `ip` from now for `seconds` (what a venue does to a client that ignores 429s)."""
        self.banned_until[ip] = now + seconds * 1000
        self.warned_until.pop(ip, None)

    def _ban_check(self, ip: str, now: int) -> None:
        until = self.banned_until.get(ip, 0)
        if now < until:
            raise self.errors.banned(ip, until, max(1, (until - now + 999) // 1000))

    def charge(self, ip: str, weight: int, now: int) -> int:
        """Add a request's weight; raises the venue's 429 / ban. Returns the window's used weight."""
        self._ban_check(ip, now)
        if now < self.warned_until.get(ip, 0):
            self.ban(ip, now, self.ban_seconds)
            self._ban_check(ip, now)
        w = self.weight_window
        slot = now // w.span_ms
        if (ip, slot) not in self.weight:  # a new window: forget the old ones
            self.weight = {k: v for k, v in self.weight.items() if k[1] >= slot - 1}
        used = self.weight.get((ip, slot), 0) + weight
        self.weight[(ip, slot)] = used
        if used > w.limit:
            retry = min(self.retry_after_cap, max(1, ((slot + 1) * w.span_ms - now + 999) // 1000))
            self.warned_until[ip] = now + retry * 1000
            raise self.errors.too_much_weight(ip, w, retry)
        return used

    def used_weight(self, ip: str, now: int) -> int:
        return self.weight.get((ip, now // self.weight_window.span_ms), 0)

    def order(self, uid: int, now: int) -> dict[str, int]:
        """Count one new order for account `uid`; returns the count per window, raises when over."""
        counts: dict[str, int] = {}
        spans = {w.name: w.span_ms for w in self.order_windows}
        for w in self.order_windows:
            k = (uid, w.name, now // w.span_ms)
            if k not in self.orders and len(self.orders) > 10_000:
                longest = max(spans.values())
                self.orders = {
                    kk: v for kk, v in self.orders.items() if kk[2] * spans[kk[1]] >= now - longest
                }
            n = self.orders.get(k, 0) + 1
            self.orders[k] = n
            counts[w.name] = n
            if n > w.limit:
                retry = max(1, ((now // w.span_ms + 1) * w.span_ms - now + 999) // 1000)
                raise self.errors.too_many_orders(w, min(retry, self.retry_after_cap), counts)
        return counts
