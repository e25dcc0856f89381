"""Engine room: order state machine, pre-trade risk, conditional orders, positions/PnL (njit kernels).

Touches nothing on import. The Numba cache guard that drops the engine's cached kernels when any
kernel source they inline changes (theirs, the rings', the record layouts') is oms/shm/jitcache.py,
run when oms.shm is first imported (every engine kernel imports it).
"""

from __future__ import annotations

import oms.shm  # noqa: F401  (runs the cache guard before any kernel module is imported)
