"""Connector room: reconnect backoff with full jitter (AWS architecture blog's "full jitter").

Touches nothing; `Backoff.next()` returns the seconds to wait before the next attempt.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass(slots=True)
class Backoff:
    """Exponential backoff with full jitter: sleep = uniform(0, min(cap, base * 2**attempt)).

    `reset()` after a success. A seeded `rng` makes it deterministic in tests.
    """

    base: float = 0.1
    cap: float = 30.0
    rng: random.Random = field(default_factory=random.Random)
    attempt: int = 0

    def __post_init__(self) -> None:
        if self.base <= 0 or self.cap < self.base:
            raise ValueError(f"backoff needs 0 < base <= cap, got base={self.base} cap={self.cap}")

    def next(self) -> float:
        ceiling = min(self.cap, self.base * (2 ** min(self.attempt, 32)))
        self.attempt += 1
        return self.rng.uniform(0.0, ceiling)

    def reset(self) -> None:
        self.attempt = 0
