"""Connector room: the venue health state (UP / DEGRADED / DOWN) the monitor and router read.

Touches nothing but its own fields; the connector reports facts (REST ok/error, WS connected or not,
book in sync or not) and listeners get a callback on every state change.

- DOWN: the user data stream or REST is unusable (orders cannot be confirmed).
- DEGRADED: usable with a handicap — market data out of sync, recent REST errors, or rate budget low.
- UP: everything fine.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable
from dataclasses import dataclass, field


class Health(enum.IntEnum):
    DOWN = 0
    DEGRADED = 1
    UP = 2


@dataclass(slots=True)
class HealthState:
    venue: str
    rest_ok: bool = False
    user_stream_ok: bool = False
    market_data_ok: bool = False
    budget_low: bool = False
    recent_errors: int = 0
    error_threshold: int = 3
    reconnects: int = 0
    state: Health = Health.DOWN
    since: float = field(default_factory=time.time)
    reason: str = "starting"
    listeners: list[Callable[[HealthState], None]] = field(default_factory=list)

    def evaluate(self) -> Health:
        if not self.rest_ok or not self.user_stream_ok:
            new, why = Health.DOWN, ("REST unreachable" if not self.rest_ok else "user data stream down")
        elif not self.market_data_ok or self.budget_low or self.recent_errors >= self.error_threshold:
            why = (
                "market data out of sync"
                if not self.market_data_ok
                else "rate budget low"
                if self.budget_low
                else f"{self.recent_errors} recent REST errors"
            )
            new = Health.DEGRADED
        else:
            new, why = Health.UP, "ok"
        if new != self.state or why != self.reason:
            changed = new != self.state
            self.state, self.reason = new, why
            if changed:
                self.since = time.time()
            for cb in list(self.listeners):
                cb(self)
        return self.state

    def update(self, **facts: bool | int) -> Health:
        for k, v in facts.items():
            if not hasattr(self, k) or k in ("state", "since", "reason", "listeners", "venue"):
                raise AttributeError(f"unknown health fact {k!r}")
            setattr(self, k, v)
        return self.evaluate()

    def as_dict(self) -> dict[str, object]:
        return {
            "venue": self.venue,
            "state": self.state.name,
            "reason": self.reason,
            "since": self.since,
            "reconnects": self.reconnects,
            "rest_ok": self.rest_ok,
            "user_stream_ok": self.user_stream_ok,
            "market_data_ok": self.market_data_ok,
        }
