"""Backtest room: latency models for the three legs of a backtest (strategy→engine, engine→venue,
venue→engine).

Touches nothing but the files named in an `empirical:` spec. Every model draws int ns from its own
seeded numpy Generator, so a run is reproducible. Specs (command line `--latency LEG=SPEC`):

| spec                         | model                                                          |
|------------------------------|----------------------------------------------------------------|
| `const:250us`                | always 250 µs                                                  |
| `normal:1ms,200us`           | mean, std; clipped at 0                                        |
| `lognormal:1ms,0.5`          | median, sigma of the log                                       |
| `empirical:FILE`             | one duration a line, or an HDR histogram (`.hdr`, hdrh base64) |
| `empirical:1ms,2ms,5ms`      | samples listed inline                                          |

Durations take a unit suffix: ns, us, ms, s (bare numbers are ns).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from oms.errors import ConfigError

LEGS = ("strategy", "to_venue", "from_venue")
_UNITS = {"ns": 1, "us": 1_000, "ms": 1_000_000, "s": 1_000_000_000}
_DUR = re.compile(r"^\s*([0-9]*\.?[0-9]+)\s*(ns|us|ms|s)?\s*$")


class LatencyModel(Protocol):
    spec: str

    def sample(self) -> int: ...


def parse_duration(text: str, where: str = "latency") -> int:
    m = _DUR.match(text)
    if not m:
        raise ConfigError(f"{where}: {text!r} is not a duration; write e.g. 250us, 1.5ms, 2s or 800 (ns)")
    return round(float(m.group(1)) * _UNITS[m.group(2) or "ns"])


@dataclass(slots=True)
class Constant:
    ns: int
    spec: str = ""

    def sample(self) -> int:
        return self.ns


@dataclass(slots=True)
class Normal:
    mean_ns: int
    std_ns: int
    seed: int = 0
    spec: str = ""
    rng: np.random.Generator = field(init=False)

    def __post_init__(self) -> None:
        self.rng = np.random.default_rng(self.seed)

    def sample(self) -> int:
        return max(0, int(self.rng.normal(self.mean_ns, self.std_ns)))


@dataclass(slots=True)
class LogNormal:
    median_ns: int
    sigma: float
    seed: int = 0
    spec: str = ""
    rng: np.random.Generator = field(init=False)

    def __post_init__(self) -> None:
        self.rng = np.random.default_rng(self.seed)

    def sample(self) -> int:
        return int(self.median_ns * float(np.exp(self.rng.normal(0.0, self.sigma))))


@dataclass(slots=True)
class Empirical:
    """Draws from observed samples with their weights (an HDR histogram's buckets, or raw samples)."""

    values: np.ndarray  # int64 ns
    weights: np.ndarray  # float64, same length
    seed: int = 0
    spec: str = ""
    rng: np.random.Generator = field(init=False)
    _cum: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        if len(self.values) == 0 or self.weights.sum() <= 0:
            raise ConfigError(f"latency {self.spec or 'empirical'}: no samples; give at least one value")
        if (self.values < 0).any():
            raise ConfigError(f"latency {self.spec or 'empirical'}: negative latency samples")
        self.rng = np.random.default_rng(self.seed)
        self._cum = np.cumsum(self.weights / self.weights.sum())

    def sample(self) -> int:
        i = int(np.searchsorted(self._cum, self.rng.random(), side="right"))
        return int(self.values[min(i, len(self.values) - 1)])

    @classmethod
    def from_samples(cls, samples: list[int], seed: int = 0, spec: str = "") -> Empirical:
        v = np.asarray(samples, np.int64)
        return cls(v, np.ones(len(v)), seed, spec)

    @classmethod
    def from_hdr(cls, encoded: str | bytes, seed: int = 0, spec: str = "") -> Empirical:
        from hdrh.histogram import HdrHistogram

        try:
            h = HdrHistogram.decode(encoded)
        except Exception as e:  # hdrh raises a mix of types on bad input
            raise ConfigError(
                f"latency {spec}: not an encoded HDR histogram ({type(e).__name__}: {e})"
            ) from None
        vals, wts = [], []
        for item in h.get_recorded_iterator():
            vals.append(item.value_iterated_to)
            wts.append(item.count_at_value_iterated_to)
        return cls(np.asarray(vals, np.int64), np.asarray(wts, np.float64), seed, spec)


def parse(spec: str, seed: int = 0) -> LatencyModel:
    """One model from a spec string (see the module docstring)."""
    kind, _, arg = spec.partition(":")
    kind = kind.strip().lower()
    where = f"latency {spec!r}"
    args = [a for a in arg.split(",") if a.strip()]
    if kind == "const" and len(args) == 1:
        return Constant(parse_duration(args[0], where), spec)
    if kind == "normal" and len(args) == 2:
        return Normal(parse_duration(args[0], where), parse_duration(args[1], where), seed, spec)
    if kind == "lognormal" and len(args) == 2:
        try:
            sigma = float(args[1])
        except ValueError:
            raise ConfigError(f"{where}: sigma {args[1]!r} must be a number, e.g. 0.5") from None
        return LogNormal(parse_duration(args[0], where), sigma, seed, spec)
    if kind == "empirical" and args:
        if len(args) == 1 and not _DUR.match(args[0]):
            return _from_file(Path(args[0].strip()), seed, spec)
        return Empirical.from_samples([parse_duration(a, where) for a in args], seed, spec)
    raise ConfigError(
        f"{where}: unknown or malformed; use const:250us, normal:MEAN,STD, lognormal:MEDIAN,SIGMA, "
        "empirical:FILE or empirical:1ms,2ms,..."
    )


def _from_file(p: Path, seed: int, spec: str) -> Empirical:
    try:
        text = p.read_text()
    except OSError as e:
        raise ConfigError(f"latency {spec!r}: cannot read {p} ({e.strerror})") from None
    if p.suffix == ".hdr":
        return Empirical.from_hdr(text.strip(), seed, spec)
    samples = []
    for n, line in enumerate(text.splitlines(), 1):
        if line.strip() and not line.lstrip().startswith("#"):
            samples.append(parse_duration(line, f"latency file {p} line {n}"))
    return Empirical.from_samples(samples, seed, spec)


def parse_legs(items: list[str], seed: int = 0) -> dict[str, LatencyModel]:
    """`LEG=SPEC` items (LEG in strategy, to_venue, from_venue, all) → one model per leg (default 0)."""
    specs = dict.fromkeys(LEGS, "const:0")
    for item in items:
        leg, eq, spec = item.partition("=")
        leg = leg.strip()
        if not eq or (leg not in LEGS and leg != "all"):
            raise ConfigError(f"--latency {item!r}: write LEG=SPEC with LEG one of {', '.join(LEGS)}, all")
        for k in LEGS if leg == "all" else (leg,):
            specs[k] = spec
    # each leg gets its own stream (seed + leg index) so adding latency on one leg moves no other
    return {leg: parse(specs[leg], seed * 1000 + i) for i, leg in enumerate(LEGS)}
