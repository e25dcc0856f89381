"""Connector room: a request-weight / order-count budget shared by every process using one API key.

Touches one small file in /dev/shm per API key (`oms.rl.<sha256(key)[:16]>`, never the key itself),
mmap'ed and guarded by `fcntl.flock` (released by the kernel if a holder dies, unlike a semaphore).

Each limit is a fixed window aligned like the venue's (`now_ms // interval_ms`), as venues count
them. Before a request the caller reserves its weight (`acquire`); after it, the venue's usage headers
(named by the adapter, `Limit.header`) are authoritative and raise the count if the
venue counted more (other processes, other hosts behind the same IP). A `safety` fraction keeps
headroom for answers still in flight. A 429/418 blocks every process until its Retry-After, so load
earns a 429 at worst, never the 418 ban that follows ignored 429s.

Layout (int64 words): [0] magic, [1] blocked_until_ms, [2] n_limits, [3] 429s seen, then per limit
4 words: interval_ms, limit, window_id, used.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import mmap
import os
import time
from collections.abc import Iterator, Mapping

import numpy as np

from oms.venues.interface import Limit

_MAGIC = 0x4F4D535F524C3031  # "OMS_RL01"
_HDR = 4
_PER = 4
MAX_LIMITS = 8


class RateBudget:
    """The shared budget for one API key on one venue market.

    `acquire(weight, orders)` returns 0.0 when the request may go now (and reserves it), or the
    seconds to wait. `observe(headers)` folds the venue's counters in; `blocked(retry_after)` is
    called on 429/418.
    """

    def __init__(
        self,
        key_id: str,
        limits: tuple[Limit, ...],
        *,
        safety: float = 0.9,
        directory: str = "/dev/shm",
        clock_ms=None,
    ) -> None:
        if not 0 < safety <= 1:
            raise ValueError(f"rate budget safety must be in (0, 1], got {safety}")
        if not limits or len(limits) > MAX_LIMITS:
            raise ValueError(f"rate budget needs 1..{MAX_LIMITS} limits, got {len(limits)}")
        self.limits = limits
        self.safety = safety
        self._now = clock_ms or (lambda: int(time.time() * 1000))
        digest = hashlib.sha256(key_id.encode()).hexdigest()[:16]
        self.path = os.path.join(directory, f"oms.rl.{digest}")
        size = 8 * (_HDR + _PER * MAX_LIMITS)
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        with self._locked():
            if os.fstat(self._fd).st_size < size:
                os.ftruncate(self._fd, size)
            self._mm = mmap.mmap(self._fd, size)
            self._w = np.frombuffer(self._mm, dtype=np.int64)
            if self._w[0] != _MAGIC or self._w[2] != len(limits):
                self._w[:] = 0
                self._w[0] = _MAGIC
                self._w[2] = len(limits)
            for i, lim in enumerate(limits):
                b = _HDR + _PER * i
                self._w[b] = lim.interval_ms
                self._w[b + 1] = lim.limit

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def _roll(self, i: int, now: int) -> int:
        b = _HDR + _PER * i
        wid = now // int(self._w[b])
        if self._w[b + 2] != wid:
            self._w[b + 2] = wid
            self._w[b + 3] = 0
        return b

    def acquire(self, weight: int = 1, orders: int = 0) -> float:
        now = self._now()
        with self._locked():
            if self._w[1] > now:
                return (int(self._w[1]) - now) / 1000.0
            wait_ms = 0
            for i, lim in enumerate(self.limits):
                cost = weight if lim.kind == "weight" else orders
                if cost == 0:
                    continue
                b = self._roll(i, now)
                if self._w[b + 3] + cost > int(lim.limit * self.safety):
                    wait_ms = max(wait_ms, (int(self._w[b + 2]) + 1) * lim.interval_ms - now)
            if wait_ms:
                return wait_ms / 1000.0
            for i, lim in enumerate(self.limits):
                cost = weight if lim.kind == "weight" else orders
                if cost:
                    self._w[_HDR + _PER * i + 3] += cost
            return 0.0

    def observe(self, headers: Mapping[str, str]) -> None:
        """Fold the venue's own counters in (they count what other processes/hosts spent too)."""
        lower = {k.lower(): v for k, v in headers.items()}
        now = self._now()
        with self._locked():
            for i, lim in enumerate(self.limits):
                v = lower.get(lim.header)
                if v is None:
                    continue
                try:
                    used = int(v)
                except ValueError:
                    continue
                b = self._roll(i, now)
                if used > self._w[b + 3]:
                    self._w[b + 3] = used

    def blocked(self, retry_after_s: float) -> None:
        """A 429/418 arrived: every process holds off until Retry-After has passed."""
        until = self._now() + int(max(retry_after_s, 1.0) * 1000)
        with self._locked():
            self._w[3] += 1
            if until > self._w[1]:
                self._w[1] = until

    def snapshot(self) -> dict[str, object]:
        """Used/limit per window and the block state, for metrics."""
        now = self._now()
        with self._locked():
            rows = []
            for i, lim in enumerate(self.limits):
                b = self._roll(i, now)
                rows.append(
                    {
                        "kind": lim.kind,
                        "interval_ms": lim.interval_ms,
                        "limit": lim.limit,
                        "used": int(self._w[b + 3]),
                    }
                )
            return {
                "blocked_for_s": max(0, int(self._w[1]) - now) / 1000.0,
                "throttled": int(self._w[3]),
                "limits": rows,
            }

    def headroom(self) -> float:
        """Smallest remaining fraction over all limits (1.0 = untouched, 0.0 = exhausted)."""
        snap = self.snapshot()
        return min(1.0 - r["used"] / r["limit"] for r in snap["limits"])  # type: ignore[index,operator]

    def close(self) -> None:
        del self._w
        self._mm.close()
        os.close(self._fd)

    def unlink(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)
