"""Engine room: order state machine, pre-trade risk, conditional orders, positions/PnL (njit kernels).

Touches only `oms/engine/__pycache__`: numba's on-disk cache of a function is keyed on its own source
file, so a kernel that calls a kernel in another module keeps the callee's old machine code after that
module changes. On import we hash every kernel source; when the hash differs from the one recorded
with the cache, the engine's cached kernels are dropped (they recompile once, ~1 minute).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

_HERE = Path(__file__).resolve().parent
_KERNELS = (
    "book",
    "positions",
    "risk",
    "control",
    "conditional",
    "orders",
    "venue",
    "replay",
    "kernels",
    "loop",
    "state",
    "constants",
)


def _sync_numba_cache() -> None:
    h = hashlib.sha256()
    for name in _KERNELS:
        try:
            h.update((_HERE / f"{name}.py").read_bytes())
        except OSError:
            return
    digest = h.hexdigest()
    cache = _HERE / "__pycache__"
    stamp = cache / "kernels.sha256"
    try:
        if stamp.read_text() == digest:
            return
    except OSError:
        pass
    try:
        cache.mkdir(exist_ok=True)
        for f in cache.glob("*.nb[ic]"):
            f.unlink(missing_ok=True)
        stamp.write_text(digest)
    except OSError:  # read-only install: numba then compiles in memory each time
        pass


_sync_numba_cache()
