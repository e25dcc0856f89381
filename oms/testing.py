"""Testing room: small helpers every room's tests (and the services room) may import.

Touches nothing but the clock. `eventually()` is the one sanctioned way to wait: it polls a predicate
until it holds or a deadline passes, so a test never hides a race behind a bare sleep.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class NotYet(AssertionError):
    """Raised by `eventually` when the predicate did not hold before the deadline."""


def eventually(
    predicate: Callable[[], T],
    timeout: float = 5.0,
    *,
    interval: float = 0.005,
    max_interval: float = 0.1,
    message: str | Callable[[], str] = "",
    stop_on: tuple[type[BaseException], ...] = (),
) -> T:
    """Poll `predicate` until it returns a truthy value, and return that value.

    The poll interval starts at `interval` and doubles up to `max_interval`, so fast conditions are
    seen within milliseconds and slow ones do not burn a core. Exceptions raised by the predicate count
    as "not yet" (except those in `stop_on`, which propagate at once); the last one is chained to the
    `NotYet` raised at the deadline.
    """
    deadline = time.monotonic() + timeout
    delay = interval
    last_exc: BaseException | None = None
    while True:
        try:
            value = predicate()
            if value:
                return value
            last_exc = None
        except stop_on:
            raise
        except Exception as e:  # the condition may raise until it holds (e.g. connection refused)
            last_exc = e
        now = time.monotonic()
        if now >= deadline:
            text = message() if callable(message) else message
            detail = f"; last error: {last_exc!r}" if last_exc is not None else ""
            what = f": {text}" if text else ""
            raise NotYet(f"condition not met within {timeout:.1f}s{what}{detail}") from last_exc
        time.sleep(min(delay, max(0.0, deadline - now)))
        delay = min(delay * 2, max_interval)


async def eventually_async(
    predicate: Callable[[], object],
    timeout: float = 5.0,
    *,
    interval: float = 0.005,
    max_interval: float = 0.1,
    message: str = "",
) -> object:
    """`eventually` for asyncio code: `predicate` may be sync or return an awaitable."""
    import asyncio
    import inspect

    deadline = time.monotonic() + timeout
    delay = interval
    last_exc: BaseException | None = None
    while True:
        try:
            value = predicate()
            if inspect.isawaitable(value):
                value = await value
            if value:
                return value
            last_exc = None
        except Exception as e:
            last_exc = e
        now = time.monotonic()
        if now >= deadline:
            detail = f"; last error: {last_exc!r}" if last_exc is not None else ""
            what = f": {message}" if message else ""
            raise NotYet(f"condition not met within {timeout:.1f}s{what}{detail}")
        await asyncio.sleep(min(delay, max(0.0, deadline - now)))
        delay = min(delay * 2, max_interval)
