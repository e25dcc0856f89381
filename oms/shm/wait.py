"""Wait room: how a polling loop waits for its ring, from njit code or Python, without hogging a core.

Touches only the calling thread's scheduling (pause / sched_yield / nanosleep via libc). Two strategies:

- pure spin (`cpu_pause` every poll): lowest latency, for a process that owns its core
  (`oms.pinning.owns_core()`: pinned to one core on a machine with cores to spare);
- spin → yield → sleep: `spin` idle polls with `pause`, then `yields` polls with `sched_yield`, then
  sleeps that start at `sleep_min_us` and double up to `sleep_max_us`. A 2-core laptop stays usable;
  the price is wake-up latency once the loop has gone to sleep (bounded by `sleep_max_us` + timer slack).

State is a small int64 array so njit loops own it without Python objects:
`backoff_idle(state)` after an empty poll (it waits one step), `backoff_reset(state)` after work.
`Backoff` is the Python face (`.idle()`, `.reset()`, `.state` to hand to njit).
The libc calls are emitted as external symbol references by Numba intrinsics (not ctypes pointers),
so functions using them stay `cache=True`-cacheable.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

from oms import pinning
from oms.errors import ConfigError
from oms.shm.atomics import cpu_pause

CLOCK_MONOTONIC = 1

# state words
S_COUNT, S_SPIN, S_YIELDS, S_SLEEP_MIN, S_SLEEP_MAX, S_SLEEP_CUR, S_PURE = 0, 1, 2, 3, 4, 5, 6
STATE_WORDS = 8

STEP_SPIN = 0
STEP_YIELD = 1
STEP_SLEEP = 2


@intrinsic
def monotonic_ns(typingctx):  # type: ignore[no-untyped-def]
    """CLOCK_MONOTONIC in ns (system-wide on Linux, so comparable across processes); njit only."""

    def codegen(context, builder, sig, args):  # type: ignore[no-untyped-def]
        i64 = ir.IntType(64)
        ts_t = ir.LiteralStructType([i64, i64])
        fnty = ir.FunctionType(ir.IntType(32), [ir.IntType(32), ts_t.as_pointer()])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "clock_gettime")
        ts = cgutils.alloca_once(builder, ts_t)
        builder.call(fn, [ir.Constant(ir.IntType(32), CLOCK_MONOTONIC), ts])
        sec = builder.load(builder.gep(ts, [ir.Constant(ir.IntType(32), 0), ir.Constant(ir.IntType(32), 0)]))
        nsec = builder.load(builder.gep(ts, [ir.Constant(ir.IntType(32), 0), ir.Constant(ir.IntType(32), 1)]))
        return builder.add(builder.mul(sec, ir.Constant(i64, 1_000_000_000)), nsec)

    return types.int64(), codegen


@intrinsic
def sched_yield(typingctx):  # type: ignore[no-untyped-def]
    """Give the core to another runnable thread (libc sched_yield); njit only."""

    def codegen(context, builder, sig, args):  # type: ignore[no-untyped-def]
        fnty = ir.FunctionType(ir.IntType(32), [])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "sched_yield")
        builder.call(fn, [])
        return context.get_dummy_value()

    return types.void(), codegen


@intrinsic
def sleep_us(typingctx, us):  # type: ignore[no-untyped-def]
    """Sleep at least `us` microseconds (libc usleep); njit only."""
    if not isinstance(us, types.Integer):
        raise TypeError(f"sleep_us takes an integer, got {us}")

    def codegen(context, builder, sig, args):  # type: ignore[no-untyped-def]
        fnty = ir.FunctionType(ir.IntType(32), [ir.IntType(32)])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "usleep")
        v = context.cast(builder, args[0], sig.args[0], types.uint32)
        builder.call(fn, [v])
        return context.get_dummy_value()

    return types.void(us), codegen


@njit(cache=True)
def backoff_step(state: np.ndarray) -> int:
    """Advance the idle counter and say what to do next (STEP_SPIN / STEP_YIELD / STEP_SLEEP)."""
    c = state[S_COUNT]
    state[S_COUNT] = c + 1
    if state[S_PURE] != 0 or c < state[S_SPIN]:
        return STEP_SPIN
    if c < state[S_SPIN] + state[S_YIELDS]:
        return STEP_YIELD
    return STEP_SLEEP


@njit(cache=True)
def backoff_idle(state: np.ndarray) -> None:
    """One idle wait: pause, yield or sleep depending on how long the loop has been idle."""
    step = backoff_step(state)
    if step == STEP_SPIN:
        cpu_pause()
    elif step == STEP_YIELD:
        sched_yield()
    else:
        cur = state[S_SLEEP_CUR]
        if cur < state[S_SLEEP_MIN]:
            cur = state[S_SLEEP_MIN]
        sleep_us(cur)
        state[S_SLEEP_CUR] = min(cur * 2, state[S_SLEEP_MAX])


@njit(cache=True)
def backoff_reset(state: np.ndarray) -> None:
    """Work was found: the next idle wait starts with spinning again."""
    state[S_COUNT] = 0
    state[S_SLEEP_CUR] = state[S_SLEEP_MIN]


@dataclass(frozen=True, slots=True)
class BackoffConfig:
    spin: int = 2_000  # idle polls with `pause` (~ tens of µs)
    yields: int = 200  # then polls with sched_yield
    sleep_min_us: int = 50
    sleep_max_us: int = 1_000
    pure_spin: bool | None = None  # None = decide with oms.pinning.owns_core()

    def validate(self) -> None:
        for key in ("spin", "yields", "sleep_min_us", "sleep_max_us"):
            v = getattr(self, key)
            if not isinstance(v, int) or v < 0:
                raise ConfigError(f"backoff {key}={v!r} must be an integer >= 0")
        if self.sleep_max_us < self.sleep_min_us or self.sleep_max_us > 1_000_000:
            raise ConfigError(
                f"backoff sleep_max_us={self.sleep_max_us} must be >= sleep_min_us "
                f"({self.sleep_min_us}) and <= 1000000"
            )


class Backoff:
    """spin → yield → sleep (or pure spin on an owned core). `.state` goes into njit loops."""

    def __init__(self, config: BackoffConfig | None = None) -> None:
        cfg = config or BackoffConfig()
        cfg.validate()
        pure = pinning.owns_core() if cfg.pure_spin is None else cfg.pure_spin
        if os.environ.get("OMS_NO_SPIN", "") == "1":
            pure = False
        self.config = cfg
        self.pure_spin = bool(pure)
        self.state = np.zeros(STATE_WORDS, np.int64)
        self.state[S_SPIN] = cfg.spin
        self.state[S_YIELDS] = cfg.yields
        self.state[S_SLEEP_MIN] = max(1, cfg.sleep_min_us)
        self.state[S_SLEEP_MAX] = max(1, cfg.sleep_max_us)
        self.state[S_SLEEP_CUR] = self.state[S_SLEEP_MIN]
        self.state[S_PURE] = 1 if self.pure_spin else 0

    def idle(self) -> None:
        backoff_idle(self.state)

    def reset(self) -> None:
        backoff_reset(self.state)

    @property
    def idle_count(self) -> int:
        return int(self.state[S_COUNT])


@njit(cache=True)
def now_ns() -> int:
    """CLOCK_MONOTONIC ns callable from Python too (same clock as time.monotonic_ns())."""
    return monotonic_ns()
