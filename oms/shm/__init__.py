"""Shm room (see DESIGN.md and docs/shm.md): rings, tables, records, atomics for njit code.

Importing it first runs the Numba cache guard (oms/shm/jitcache.py): every compiled kernel imports
oms.shm, so no kernel can load machine code compiled against an older ring, record layout or kernel.
"""

from oms.shm import jitcache as _jitcache

_jitcache.guard()
