"""Simulator kit room: fault injection switches (latency, 5xx, dropped WS, depth gaps, stale data,
clock skew, maintenance, IP ban, private stream dropped mid-fill), settable from Python
(`sim.faults.set(...)`) or `POST /_sim/faults`.

Touches nothing outside the simulator. Random choices use the simulator's seeded RNG, so a run with
the same seed and the same requests sees the same faults.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any


@dataclass
class Faults:
    latency_ms: int = 0  # added to every REST answer
    error_5xx: int = 0  # the next N REST requests answer `error_status`
    error_5xx_rate: float = 0.0  # probability that any REST request answers `error_status`
    error_status: int = 503
    execute_before_5xx: bool = False  # order requests take effect, then the answer is lost (outcome unknown)
    depth_gap: int = 0  # the next N depth-diff events are never sent (a sequence gap)
    stale_ms: int = 0  # depth / ticker REST answers come from a snapshot up to this old
    clock_skew_ms: int = 0  # server clock offset (affects /time and the recvWindow check)
    maintenance: bool = False  # symbols BREAK, orders "Market is closed.", WS refused
    ws_drop_rate: float = 0.0  # probability per WS frame that the connection is dropped
    ban_seconds: int = 0  # the next REST request bans its IP for this long (answered the venue's way)
    drop_user_ws_after: int = 0  # after this many more private (user-data) frames, private sockets drop
    rng: random.Random = field(default_factory=lambda: random.Random(0), repr=False)
    _on_change: list[Callable[[Faults], None]] = field(default_factory=list, repr=False)
    _drop_hook: Callable[[], int] | None = field(default=None, repr=False)

    @classmethod
    def names(cls) -> list[str]:
        return [f.name for f in fields(cls) if not f.name.startswith("_") and f.name != "rng"]

    def set(self, **changes: Any) -> None:
        """Change switches by name; an unknown name or a wrong type is a ValueError naming it."""
        valid = self.names()
        for k, v in changes.items():
            if k not in valid:
                raise ValueError(f"unknown fault {k!r}; valid faults: {', '.join(valid)}")
            cur = getattr(self, k)
            if isinstance(cur, bool):
                if not isinstance(v, bool):
                    raise ValueError(f"fault {k!r} must be true or false, got {v!r}")
            elif isinstance(cur, int):
                if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                    raise ValueError(f"fault {k!r} must be a non-negative integer, got {v!r}")
            elif isinstance(cur, float):
                if isinstance(v, bool) or not isinstance(v, int | float) or not 0 <= v <= 1:
                    raise ValueError(f"fault {k!r} must be a probability in [0, 1], got {v!r}")
                v = float(v)
            setattr(self, k, v)
        for cb in self._on_change:
            cb(self)

    def clear(self) -> None:
        self.set(
            latency_ms=0,
            error_5xx=0,
            error_5xx_rate=0.0,
            error_status=503,
            execute_before_5xx=False,
            depth_gap=0,
            stale_ms=0,
            clock_skew_ms=0,
            maintenance=False,
            ws_drop_rate=0.0,
            ban_seconds=0,
            drop_user_ws_after=0,
        )

    def drop_ws(self) -> int:
        """Close every open WebSocket connection now; returns how many were closed."""
        return self._drop_hook() if self._drop_hook else 0

    def take_5xx(self) -> bool:
        if self.error_5xx > 0:
            self.error_5xx -= 1
            return True
        return self.error_5xx_rate > 0 and self.rng.random() < self.error_5xx_rate

    def take_user_frame(self) -> bool:
        """Count one private frame sent; True when it was the last before the private sockets drop
        (`drop_user_ws_after`: drop the user stream in the middle of a fill sequence)."""
        if self.drop_user_ws_after <= 0:
            return False
        self.drop_user_ws_after -= 1
        return self.drop_user_ws_after == 0

    def take_ban(self) -> int:
        """Seconds of ban to impose on the next request (once), or 0."""
        n, self.ban_seconds = self.ban_seconds, 0
        return n

    def take_depth_gap(self) -> bool:
        if self.depth_gap > 0:
            self.depth_gap -= 1
            return True
        return False

    def as_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.names()}
