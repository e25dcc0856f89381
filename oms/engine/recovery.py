"""Engine room: after a restart, send what the log says was sent but the connector's ring never got.

Touches the EngineState (after replay) and the engine's command rings to the connectors (producer
side). The loop commits a batch's events to the write-ahead log before it pushes the batch's commands
(oms/engine/loop.py flush), so a crash between the two leaves orders PENDING_NEW (or PENDING_CANCEL /
PENDING_REPLACE) whose command no connector ever saw. Only the last batch can be in that state: its
commands would be the newest records of the ring. So for the newest log events (at most one staging
buffer, and no more than a ring's capacity) whose order is still pending, the ring's newest records are
searched for the command; a command not there is pushed now. Commands the ring has are never repeated.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from oms import log
from oms.engine import book as B
from oms.engine import constants as C
from oms.engine import state as S
from oms.shm import records as R
from oms.shm import ring as RG
from oms.shm.ring import Ring

_log = log.get(__name__)

# log event kind -> (the order status it must still have, the command it implied)
_PENDING = {
    R.ORDER_SUBMITTED: (C.ST_PENDING_NEW, R.SUBMIT_ORDER),
    R.ORDER_TRIGGERED: (C.ST_PENDING_NEW, R.SUBMIT_ORDER),
    R.CANCEL_ORDER: (C.ST_PENDING_CANCEL, R.CANCEL_ORDER),
    R.MODIFY_ORDER: (C.ST_PENDING_REPLACE, R.MODIFY_ORDER),
}


@njit(cache=True, _nrt=False)
def _stage(s, kind, slot):
    s.meta[S.M_REPLAY] = 0
    return B.cmd_order(s, kind, s.orders[slot], C.SOURCE_ENGINE)


@njit(cache=True, _nrt=False)
def _lookup(s, account, coid):
    return B.idx_lookup(s, account, coid)


def _wire(account: int, coid: int) -> int:
    """book.wire_id: the id the connector ring carries for (account, coid)."""
    return ((account - 1) << C.COID_BITS) | coid


def _ring_has(ring: Ring, window: int) -> set[tuple[int, int]]:
    """(kind, client order id) of the ring's newest `window` records (read or not)."""
    head = int(ring.ctrl[RG.HEAD])
    lo = max(0, head - min(window, len(ring.buf)))
    mask = len(ring.buf) - 1
    idx = np.arange(lo, head, dtype=np.int64) & mask
    recs = ring.buf[idx]
    return set(zip(recs["kind"].tolist(), recs["client_order_id"].tolist(), strict=True))


def resend_unsent(s: S.EngineState, events: np.ndarray, rings: dict[int, Ring]) -> int:
    """Push the commands of the log's last batch that their ring lacks; returns how many.
    `rings` maps a venue id to its command ring (the engine's out rings)."""
    if not len(events) or not rings:
        return 0
    cap = min(len(r.buf) for r in rings.values())
    tail = events[-min(len(s.evq), cap) :]
    have = {v: _ring_has(r, len(tail)) for v, r in rings.items()}
    sent = 0
    done: set[tuple[int, int]] = set()
    for e in tail[::-1]:  # newest first: the order's latest pending step is the one to check
        pend = _PENDING.get(int(e["kind"]))
        coid, acct = int(e["client_order_id"]), int(e["account"])
        if pend is None or coid == 0 or acct <= 0 or (pend[1], acct, coid) in done:
            continue
        done.add((pend[1], acct, coid))
        slot = int(_lookup(s, np.int64(acct), np.uint64(coid)))
        if slot < 0:
            continue
        o = s.orders[slot]
        ring = rings.get(int(o["venue"]))
        if ring is None or int(o["status"]) != pend[0]:
            continue
        if (pend[1], _wire(acct, coid)) in have[int(o["venue"])]:
            continue
        s.meta[S.M_NCMD] = 0
        if _stage(s, pend[1], slot) < 0:
            continue
        if not ring.publish(s.cmdq[0]):
            _log.error(
                "command ring full at restart: %s for order %d not re-sent", R.KIND_NAMES[pend[1]], coid
            )
            continue
        sent += 1
        _log.warning(
            "restart: %s for order %d was logged but never reached the connector; sent now",
            R.KIND_NAMES[pend[1]],
            coid,
        )
    s.meta[S.M_NCMD] = 0
    return sent
