"""Monitor room: latency bookkeeping per (stage, exchange): Prometheus buckets plus HDR quantiles.

Touches nothing outside its objects. Each key keeps
- cumulative bucket counts over fixed bounds fine enough (1-1.5-2-3-5-7 per decade, 1 µs .. 10 s) for
  `histogram_quantile()` to resolve p99/p99.9 in Grafana, and
- two rotating HDR histograms (hdrhistogram, 3 significant digits, 1 ns .. 60 s) so p50/p99/p99.9/max
  gauges cover the last one to two `window_s` windows exactly, not bucket-interpolated,
- the samples of the current anomaly window (bounded) for the anomaly detector.
"""

from __future__ import annotations

import bisect
import time
from dataclasses import dataclass, field

from hdrh.histogram import HdrHistogram

_STEPS = (1.0, 1.5, 2.0, 3.0, 5.0, 7.0)
BUCKETS_S: tuple[float, ...] = (
    *(round(m * 10.0**e, 12) for e in range(-6, 1) for m in _STEPS if m * 10.0**e <= 10.0),
    10.0,
)
_BUCKETS_NS = [b * 1e9 for b in BUCKETS_S]
HDR_MAX_NS = 60_000_000_000
WINDOW_SAMPLE_CAP = 50_000


def _hdr() -> HdrHistogram:
    return HdrHistogram(1, HDR_MAX_NS, 3)


@dataclass
class LatencySeries:
    window_s: float
    counts: list[int] = field(default_factory=lambda: [0] * (len(BUCKETS_S) + 1))  # last = +Inf
    sum_ns: int = 0
    total: int = 0
    cur: HdrHistogram = field(default_factory=_hdr)
    prev: HdrHistogram = field(default_factory=_hdr)
    rolled_at: float | None = None  # monotonic time of the last window roll
    window_samples: list[int] = field(default_factory=list)

    def record(self, values_ns: list[int], now: float | None = None) -> None:
        self._maybe_roll(time.monotonic() if now is None else now)
        for v in values_ns:
            v = max(1, min(int(v), HDR_MAX_NS))
            self.counts[bisect.bisect_left(_BUCKETS_NS, v)] += 1
            self.sum_ns += v
            self.total += 1
            self.cur.record_value(v)
            if len(self.window_samples) < WINDOW_SAMPLE_CAP:
                self.window_samples.append(v)

    def _maybe_roll(self, now: float) -> None:
        if self.rolled_at is None:
            self.rolled_at = now
        elif now - self.rolled_at >= self.window_s:
            self.prev, self.cur = self.cur, self.prev
            self.cur.reset()
            if now - self.rolled_at >= 2 * self.window_s:
                self.prev.reset()  # nothing arrived for a whole window: old data is stale
            self.rolled_at = now

    def quantiles_ns(self, now: float | None = None) -> dict[str, int] | None:
        """p50/p99/p99.9/max over the recent windows, or None when there is no recent sample."""
        self._maybe_roll(time.monotonic() if now is None else now)
        merged = _hdr()
        merged.add(self.prev)
        merged.add(self.cur)
        if merged.get_total_count() == 0:
            return None
        return {
            "p50": merged.get_value_at_percentile(50.0),
            "p99": merged.get_value_at_percentile(99.0),
            "p99.9": merged.get_value_at_percentile(99.9),
            "max": merged.get_max_value(),
            "count": merged.get_total_count(),
        }

    def take_window(self) -> list[int]:
        """The samples recorded since the previous call (for one anomaly observation)."""
        out, self.window_samples = self.window_samples, []
        return out

    def cumulative_buckets(self) -> list[tuple[str, int]]:
        acc = 0
        out: list[tuple[str, int]] = []
        for bound, c in zip((*BUCKETS_S, float("inf")), self.counts, strict=True):
            acc += c
            out.append(("+Inf" if bound == float("inf") else repr(bound), acc))
        return out
