"""Engine room: batch entry points into the njit kernels (what the Python face and the loop call).

Touches only the EngineState and the record arrays it is given. Each function processes records
[0, n) one by one; when a handler reports K_MORE (a cancel-all or a trigger scan stopped at the
staging high-water mark) it returns the index to resume from with the staging buffers full, so the
caller drains them and calls `resume` / the same function again from that index.
"""

from __future__ import annotations

from numba import njit

from oms.engine import book as B
from oms.engine import constants as C
from oms.engine import control as K
from oms.engine import orders as O
from oms.engine import positions as P
from oms.engine import state as S
from oms.engine import venue as V


@njit(cache=True, _nrt=False)
def tick_clock(s):
    now = B.now_ns(s.clock)
    s.meta[S.M_NOW] = now
    P.roll_day(s, now)
    return now


@njit(cache=True, _nrt=False)
def commands(s, arr, start, n):
    """Process commands arr[start:n]; returns n, or the index after the one that left work pending."""
    for j in range(start, n):
        if O.on_command(s, arr[j]) == C.K_MORE:
            return j + 1
    return n


@njit(cache=True, _nrt=False)
def exec_events(s, arr, start, n):
    for j in range(start, n):
        if V.on_exec(s, arr[j]) == C.K_MORE:
            return j + 1
    return n


@njit(cache=True, _nrt=False)
def market(s, arr, start, n):
    """Market records; K_MORE from a trigger scan means: drain and call again from the same index."""
    for j in range(start, n):
        if V.on_market(s, arr[j]) == C.K_MORE:
            return j
    return n


@njit(cache=True, _nrt=False)
def resume(s):
    """Continue a pending cancel-all; K_MORE while there is more."""
    return K.cancel_all_step(s)
