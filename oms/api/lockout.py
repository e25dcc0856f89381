"""Gateway room (oms/api): TOTP lockout book-keeping — wrong codes in a row lock a token for a while.

Touches nothing (memory only; a gateway restart forgets it). `failed()` counts a wrong or replayed code
and, at `max_failures` in a row, locks the token for `lock_s`, doubled at each further lock (capped at
a day) and returns the lock's length; a right code (`succeeded()`) ends the run of failures but not the
lock count, so a token guessed at again is locked longer each time. The authenticator turns this into
refusals, audit records and alerts (oms/api/auth.py).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

MAX_LOCK_S = 86400.0


@dataclass(slots=True)
class Lockout:
    """TOTP failures of one token: consecutive wrong codes, how many locks so far, locked until."""

    failures: int = 0
    locks: int = 0
    until: float = 0.0  # time.monotonic()


class LockoutBook:
    def __init__(self, max_failures: int = 5, lock_s: float = 60.0) -> None:
        self.max_failures = max_failures
        self.lock_s = lock_s
        self.tokens: dict[str, Lockout] = {}

    def locked_for(self, token_id: str) -> float:
        """Seconds the token stays locked (0.0 when it is not locked)."""
        lo = self.tokens.get(token_id)
        return 0.0 if lo is None else max(0.0, lo.until - time.monotonic())

    def failed(self, token_id: str) -> tuple[float, int]:
        """Count one wrong code: (lock length in s, lock number) when this failure locks, else (0, 0)."""
        lo = self.tokens.setdefault(token_id, Lockout())
        lo.failures += 1
        if lo.failures < self.max_failures:
            return 0.0, 0
        lo.failures = 0
        lo.locks += 1
        secs = min(self.lock_s * (2 ** min(lo.locks - 1, 20)), MAX_LOCK_S)
        lo.until = time.monotonic() + secs
        return secs, lo.locks

    def succeeded(self, token_id: str) -> None:
        lo = self.tokens.get(token_id)
        if lo is not None:
            lo.failures = 0
