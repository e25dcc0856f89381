"""Pinning room: maps the configured core plan onto the cores this machine really has.

Touches only the calling process's CPU affinity (psutil / os.sched_setaffinity). Never crashes on a
small machine: a plan that asks for cores that do not exist gets one clear warning and a best-effort
mapping (round-robin over the cores we may use). `owns_core()` tells busy loops whether they may spin
(they own a core nobody else was mapped to) or must back off (spin → yield → sleep).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import psutil

from oms import log

_log = log.get(__name__)
_warned: set[tuple[int, ...]] = set()


@dataclass(frozen=True, slots=True)
class Placement:
    program: str
    wanted: int | None
    core: int | None  # the core actually used, None = not pinned
    exclusive: bool  # True when no other planned program was mapped to the same core
    note: str = ""


def available_cores() -> list[int]:
    """Cores this process may run on (respects cgroups/taskset), sorted."""
    try:
        return sorted(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - non-Linux
        return list(range(psutil.cpu_count() or 1))


def plan(core_map: dict[str, int | None], cores: list[int] | None = None) -> dict[str, Placement]:
    """Resolve a program→core plan against the real cores.

    Programs whose core exists keep it; the rest are spread round-robin over the available cores,
    with one warning naming each program that moved. `exclusive` is True only when a program is the
    sole occupant of its core *and* the machine has a core left over for everything else.
    """
    avail = cores if cores is not None else available_cores()
    if not avail:
        avail = [0]
    out: dict[str, Placement] = {}
    moved: list[str] = []
    rr = 0
    for prog, want in core_map.items():
        if want is None:
            out[prog] = Placement(prog, None, None, False, "unpinned")
            continue
        if want in avail:
            out[prog] = Placement(prog, want, want, False)
        else:
            core = avail[rr % len(avail)]
            rr += 1
            moved.append(f"{prog}: core {want} -> {core}")
            out[prog] = Placement(prog, want, core, False, f"core {want} missing, using {core}")
    counts: dict[int, int] = {}
    for p in out.values():
        if p.core is not None:
            counts[p.core] = counts.get(p.core, 0) + 1
    used = set(counts)
    spare = len(set(avail) - used) > 0
    for prog, p in out.items():
        if p.core is not None and counts[p.core] == 1 and spare:
            out[prog] = Placement(p.program, p.wanted, p.core, True, p.note)
    if moved:
        key = tuple(avail)
        if key not in _warned:
            _warned.add(key)
            _log.warning(
                "core plan asks for cores this machine lacks (available: %s); best-effort mapping, "
                "busy loops will back off instead of spinning: %s",
                ",".join(map(str, avail)),
                "; ".join(moved),
            )
    return out


def pin_self(core: int | None) -> bool:
    """Pin the calling process to `core`; False (with a warning) if the OS refuses. None = leave it."""
    if core is None:
        return False
    try:
        os.sched_setaffinity(0, {core})
        return True
    except (OSError, ValueError) as e:
        _log.warning("could not pin to core %s (%s); running unpinned", core, e)
        return False


def owns_core() -> bool:
    """True when this process is pinned to exactly one core and the machine has others to spare.

    Busy-spin wait strategies use this to decide between spinning and backing off.
    """
    try:
        aff = os.sched_getaffinity(0)
    except AttributeError:  # pragma: no cover
        return False
    total = psutil.cpu_count() or 1
    return len(aff) == 1 and total > 2 and os.environ.get("OMS_NO_SPIN", "") != "1"
