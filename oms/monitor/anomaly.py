"""Monitor room: spike detection against a rolling baseline (EWMA mean + EWMA absolute deviation).

Touches nothing. One `Detector` per (exchange, metric). Each window gives one observation x:
- baseline m ← m + α(x − m), spread d ← d + α(|x − m| − d) (an exponentially weighted MAD);
- after `warmup` observations, x is a spike when x > m + k·max(d, floor), floor = max(rel_floor·m,
  abs_floor) so a perfectly flat baseline does not alert on noise;
- a spike does not move the baseline (a long incident keeps alerting after each cooldown instead of
  becoming the new normal), and alerts for one key are at most one per `cooldown_s`.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Anomaly:
    exchange: str
    metric: str
    value: float
    baseline: float
    spread: float
    threshold: float

    def text(self, unit: str = "") -> str:
        return (
            f"OMS anomaly on {self.exchange}: {self.metric} = {self.value:.6g}{unit} "
            f"(baseline {self.baseline:.6g}{unit}, threshold {self.threshold:.6g}{unit})"
        )


@dataclass
class Detector:
    exchange: str
    metric: str
    alpha: float = 0.1
    k: float = 6.0
    warmup: int = 10
    cooldown_s: float = 60.0
    rel_floor: float = 0.05
    abs_floor: float = 0.0
    n: int = 0
    mean: float = 0.0
    dev: float = 0.0
    last_alert: float = float("-inf")

    def threshold(self) -> float:
        floor = max(self.rel_floor * abs(self.mean), self.abs_floor)
        return self.mean + self.k * max(self.dev, floor)

    def observe(self, x: float, now: float) -> Anomaly | None:
        if self.n >= self.warmup and x > self.threshold():
            if now - self.last_alert < self.cooldown_s:
                return None
            self.last_alert = now
            return Anomaly(self.exchange, self.metric, x, self.mean, self.dev, self.threshold())
        if self.n == 0:
            self.mean = x
        else:
            self.dev += self.alpha * (abs(x - self.mean) - self.dev)
            self.mean += self.alpha * (x - self.mean)
        self.n += 1
        return None
