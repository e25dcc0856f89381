"""Gateway room (oms/api): token buckets per API token (requests and orders share one) and per peer address.

Touches nothing. `take(n)` returns 0.0 when n tokens were available (and takes them), otherwise the
seconds until they will be — the caller answers RESOURCE_EXHAUSTED with that as RetryInfo and takes
nothing, so a refused request does not drain the bucket further.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field


@dataclass(slots=True)
class TokenBucket:
    rate: float  # tokens per second
    burst: float  # bucket size
    tokens: float = -1.0
    last: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        if self.tokens < 0:
            self.tokens = self.burst

    def take(self, n: float = 1.0, now: float | None = None) -> float:
        now = time.monotonic() if now is None else now
        elapsed = now - self.last
        if elapsed > 0:
            self.tokens = min(self.burst, self.tokens + elapsed * self.rate)
            self.last = now
        if n <= self.tokens:
            self.tokens -= n
            return 0.0
        if n > self.burst:
            return float("inf")
        return (n - self.tokens) / self.rate


class Limiter:
    """One bucket per token id; a changed rate/burst in the token file replaces the bucket."""

    def __init__(self, max_keys: int = 0) -> None:
        self._buckets: dict[str, TokenBucket] = {}
        self.max_keys = max_keys  # > 0: forget the oldest buckets beyond this many (per-peer buckets)

    def take(self, token_id: str, rate: float, burst: float, n: float = 1.0) -> float:
        b = self._buckets.get(token_id)
        if b is None or b.rate != rate or b.burst != burst:
            b = self._buckets[token_id] = TokenBucket(rate, burst)
            if self.max_keys and len(self._buckets) > self.max_keys:
                del self._buckets[next(iter(self._buckets))]
        return b.take(n)
