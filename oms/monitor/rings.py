"""Monitor room: reads ring depths from shared memory (read-only observer of oms.shm rings).

Touches /dev/shm segments only through `oms.shm.ring.Ring.attach(...).depth()/.capacity/
.producer_alive()`, never consuming or publishing. A ring that does not exist yet (its producer has
not started) or an oms.shm without `Ring` is reported as absent with the reason, never as depth 0.
"""

from __future__ import annotations

import contextlib
import importlib
from dataclasses import dataclass
from typing import Any

import numpy as np

from oms.shm import names
from oms.shm.records import COMMAND, EVENT, MARKET


@dataclass
class RingStatus:
    name: str
    present: bool
    depth: int = 0
    capacity: int = 0
    producer_alive: bool = False
    full_count: int = 0  # publishes the ring refused because it was full (the ring's own counter)
    note: str = ""


def stack_rings(prefix: str, venues: list[str]) -> list[tuple[str, np.dtype]]:
    """Every ring of the stack (oms/shm/names.py) for the given prefix and venues."""
    out: list[tuple[str, np.dtype]] = [
        (names.gateway_commands(prefix), COMMAND),
        (names.bridge_commands(prefix), COMMAND),
        (names.engine_events_to_gateway(prefix), EVENT),
        (names.engine_events_to_bridge(prefix), EVENT),
        (names.market_data_to_engine(prefix), MARKET),
    ]
    for v in venues:
        out += [
            (names.engine_commands_to_venue(v, prefix), COMMAND),
            (names.venue_exec_events(v, prefix), EVENT),
            (names.venue_market_data(v, prefix), MARKET),
        ]
    return out


class RingWatcher:
    def __init__(self, rings: list[tuple[str, np.dtype]]) -> None:
        self.rings = rings
        self._attached: dict[str, Any] = {}

    @staticmethod
    def _ring_class() -> Any | None:
        try:
            return importlib.import_module("oms.shm.ring").Ring
        except (ImportError, AttributeError):
            return None

    def poll(self) -> list[RingStatus]:
        ring_cls = self._ring_class()
        out: list[RingStatus] = []
        for name, dt in self.rings:
            if ring_cls is None:
                out.append(RingStatus(name, False, note="oms.shm.ring.Ring not available"))
                continue
            ring = self._attached.get(name)
            if ring is None:
                try:
                    ring = ring_cls.attach(name, dt, allow_stale=True, timeout=0.0)
                except Exception as e:
                    missing = type(e).__name__ in ("SegmentNotFound", "FileNotFoundError")
                    note = "not created (its creator has not started)" if missing else f"attach failed: {e}"
                    out.append(RingStatus(name, False, note=note))
                    continue
                self._attached[name] = ring
            try:
                alive = bool(ring.producer_alive())
                full = int(ring.full_count()) if hasattr(ring, "full_count") else 0
                out.append(RingStatus(name, True, int(ring.depth()), int(ring.capacity), alive, full))
                if not alive:  # the producer may recreate the segment when it restarts: re-attach
                    self._attached.pop(name, None)
                    ring.close()
            except Exception as e:
                self._attached.pop(name, None)
                out.append(RingStatus(name, False, note=f"read failed: {e}"))
        return out

    def close(self) -> None:
        for ring in self._attached.values():
            with contextlib.suppress(Exception):
                ring.close()
        self._attached.clear()
