"""Connector room: tracks the venue's clock offset so signed requests land inside recvWindow.

Touches nothing; the connector feeds it (t_send, server_time, t_recv) samples from `GET /time` and
reads `now_ms()` when it stamps a request. The offset estimate is the NTP midpoint of the sample
with the smallest round trip among the last `window` samples (a slow answer says little about the
offset). A -1021 answer calls `invalidate()`: the next request must resync first, and a second
-1021 right after a fresh sync is not retried in a loop (`should_retry_after_1021`).
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field


@dataclass(slots=True)
class ClockSample:
    rtt_ms: float
    offset_ms: float
    at: float  # monotonic seconds


@dataclass(slots=True)
class VenueClock:
    window: int = 8
    max_age_s: float = 300.0
    samples: deque[ClockSample] = field(default_factory=deque)
    stale: bool = True
    resyncs_after_1021: int = 0
    _last_1021_sync_at: float = -1.0

    def add_sample(self, t_send_ms: float, server_ms: float, t_recv_ms: float) -> ClockSample:
        if t_recv_ms < t_send_ms:
            raise ValueError(f"clock sample receive time {t_recv_ms} is before send time {t_send_ms}")
        rtt = t_recv_ms - t_send_ms
        s = ClockSample(rtt, server_ms - (t_send_ms + t_recv_ms) / 2.0, time.monotonic())
        self.samples.append(s)
        while len(self.samples) > self.window:
            self.samples.popleft()
        self.stale = False
        return s

    @property
    def offset_ms(self) -> float:
        """Best estimate of venue_time - local_time (0 before the first sample)."""
        if not self.samples:
            return 0.0
        return min(self.samples, key=lambda s: s.rtt_ms).offset_ms

    @property
    def needs_sync(self) -> bool:
        if self.stale or not self.samples:
            return True
        return time.monotonic() - self.samples[-1].at > self.max_age_s

    def now_ms(self) -> int:
        """Local wall clock corrected to the venue's clock, in ms."""
        return int(time.time() * 1000 + self.offset_ms)

    def invalidate(self) -> None:
        """A -1021 (timestamp outside recvWindow) arrived: force a resync before the next request."""
        self.stale = True
        self.samples.clear()

    def should_retry_after_1021(self) -> bool:
        """True once per fresh sync: a second -1021 straight after a resync means the problem is not
        our offset (e.g. recvWindow too small for the link), so the order is rejected, not looped."""
        last = self.samples[-1].at if self.samples else -1.0
        if last > self._last_1021_sync_at:
            self._last_1021_sync_at = last
            self.resyncs_after_1021 += 1
            return True
        return False
