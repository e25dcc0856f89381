"""Engine room: the engine's whole state as numpy arrays (one NamedTuple the njit kernels take).

Touches nothing but its own arrays. Layout:

| field     | dtype / shape                         | indexed by                                      |
|-----------|---------------------------------------|-------------------------------------------------|
| orders    | ORDER[capacity]                       | slot (found through the hash index)             |
| index     | u8[2^k >= 2*capacity, 2] (key, slot)  | open-addressing index client_order_id -> slot   |
| free      | i8[capacity] stack of free slots      | meta[M_FREE_TOP]                                |
| termq     | i8[2^k >= capacity] FIFO of terminal slots| reused oldest-first when no free slot is left   |
| trades    | u8[2, T, 2] (key, client_order_id)    | trade-id dedup set, two generations             |
| pos       | POSITION[n_accounts+1, n_instr+1]     | account id, instrument id (0 = wildcard, unused)|
| inst      | INSTRUMENT[n_instr+1]                 | instrument id                                   |
| acct      | ACCOUNT[n_accounts+1]                 | account id                                      |
| ven       | VENUE[16]                             | venue id (oms.ids)                              |
| limits    | i8[N_LIMITS, rows]                    | limit id, scope row (account/instrument/venue)  |
| evq/cmdq  | EVENT[K] / COMMAND[K]                 | staging of this iteration's output              |
| meta      | i8[64]                                | M_* scalars below                               |
| trans     | i8[N_TRANSITIONS]                     | count of each named transition                  |
| journal_* | in-process ring of EVENT              | copy of every event for the engine's disk log   |

Ids: accounts and instruments start at 1 (0 is the wildcard of CancelAll); venue ids from oms.ids.
Money: notional, PnL, fees, equity are int64 in 1e-8 quote units (records.FEE_SCALE). An instrument's
`mult/div` turn price_ticks*qty_lots into that unit exactly (floor), see oms/engine/instruments.py.

All record dtypes are `align=True` (numba generates plain aligned loads/stores for them; an unaligned
record array costs several times more per field access). They are checked at import (LayoutError).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from oms.engine import constants as C
from oms.shm import records as R

ORDER = np.dtype(
    [
        ("client_order_id", "<u8"),
        ("venue_order_id", "<u8"),
        ("ref_id", "<u8"),  # OCO peer / bracket entry as sent
        ("peer", "<u8"),  # OCO peer (both directions), bracket sibling
        ("kid_a", "<u8"),  # bracket entry: its children
        ("kid_b", "<u8"),
        ("price", "<i8"),
        ("qty", "<i8"),
        ("cum_qty", "<i8"),
        ("leaves", "<i8"),
        ("trigger_price", "<i8"),
        ("trail", "<i8"),
        ("trail_ref", "<i8"),  # best price seen by an emulated trailing stop
        ("new_price", "<i8"),  # pending modify
        ("new_qty", "<i8"),
        ("fill_cost", "<i8"),  # sum(px*qty) of fills (avg price = fill_cost / cum_qty)
        ("fee", "<i8"),
        ("risk_px", "<i8"),  # price used for this order's open notional
        ("open_notional", "<i8"),  # counted in account/venue open notional
        ("ts_created", "<i8"),
        ("ts_updated", "<i8"),
        ("expire_ns", "<i8"),
        ("seq", "<u8"),  # COMMAND.seq of the submit (gateway correlation)
        ("account", "<u4"),
        ("instrument", "<u4"),
        ("source", "<u4"),
        ("emu_next", "<i4"),  # per-instrument list of emulated orders
        ("emu_prev", "<i4"),
        ("venue", "<u2"),
        ("market", "<u2"),
        ("flags", "<u2"),
        ("side", "i1"),
        ("order_type", "u1"),
        ("tif", "u1"),
        ("status", "u1"),
        ("prev_status", "u1"),
        ("contingency", "u1"),
        ("native", "u1"),  # 1 = the venue handles the conditional order itself
        ("send_type", "u1"),  # order type sent to the venue when triggered
        ("pad", "u1", (4,)),
    ],
    align=True,
)

POSITION = np.dtype(
    [
        ("qty", "<i8"),  # signed lots
        ("cost", "<i8"),  # |qty| * avg entry, tick*lots
        ("realised", "<i8"),  # 1e-8 quote
        ("fees", "<i8"),
        ("unrealised", "<i8"),
        ("notional", "<i8"),  # |qty| at reference price, 1e-8 quote
        ("open_buy", "<i8"),  # leaves of open buy orders, lots
        ("open_sell", "<i8"),
        ("bought", "<i8"),  # sum of buy fills, lots
        ("sold", "<i8"),
        ("n_fills", "<i8"),
    ],
    align=True,
)

INSTRUMENT = np.dtype(
    [
        ("mult", "<i8"),  # notional_e8 = price*qty*mult // div
        ("div", "<i8"),
        ("bid", "<i8"),
        ("ask", "<i8"),
        ("last", "<i8"),
        ("mark", "<i8"),
        ("ts", "<i8"),
        ("base_asset", "<u4"),
        ("quote_asset", "<u4"),
        ("emu_head", "<i4"),
        ("venue", "<u2"),
        ("market", "<u2"),
        ("active", "u1"),
        ("pad", "u1", (7,)),
    ],
    align=True,
)

ACCOUNT = np.dtype(
    [
        ("realised", "<i8"),  # today, 1e-8 quote
        ("fees", "<i8"),
        ("unrealised", "<i8"),
        ("pos_notional", "<i8"),  # gross |position| notional
        ("open_notional", "<i8"),  # notional of open orders
        ("tokens", "<i8"),  # order-rate token bucket, tokens * 1e9
        ("token_ns", "<i8"),
        ("state", "<i8"),  # TS_*
        ("active", "<i8"),
    ],
    align=True,
)

VENUE = np.dtype(
    [
        ("pos_notional", "<i8"),
        ("open_notional", "<i8"),
        ("tokens", "<i8"),
        ("token_ns", "<i8"),
        ("caps", "<i8"),  # CAP_* bits
        ("out", "<i8"),  # index of this venue's output ring in the loop (-1 = none)
    ],
    align=True,
)

for _dt in (ORDER, POSITION, INSTRUMENT, ACCOUNT, VENUE):
    if not (_dt.isalignedstruct and _dt.itemsize % 8 == 0):
        raise R.LayoutError(f"engine record {_dt} must be align=True and a multiple of 8 bytes")

# ---- meta slots: the one table of the engine's scalar state (meta[slot]) -------------------------------
# Every slot of `meta` is named here and nowhere else (kernels, the loop, the service and the reports
# read these names); META_SLOTS lists them by slot and is checked at import (no two names share a slot).
M_NEV = 0  # events staged in evq
M_NCMD = 1  # commands staged in cmdq
M_EVSEQ = 2  # global event sequence (EVENT.seq)
M_FREE_TOP = 3
M_TQ_HEAD = 4  # terminal FIFO read index
M_TQ_TAIL = 5
M_NOW = 6  # ns, set by the caller before each step
M_DAY = 7  # UTC day number of the current loss window
M_DUP_FILLS = 8
M_UNKNOWN = 9  # venue events for unknown orders
M_LATE = 10  # late / out-of-order venue events
M_BATCH_MARK = 11  # cmdq index when the current input batch began (-1 = none)
M_REPLAY = 12  # 1 while replaying: no venue commands are produced
M_TGEN = 13  # current trade-dedup generation (0/1)
M_TCOUNT = 14  # trades in the current generation
M_OVERFILL = 15
M_CMD_COUNT = 16  # commands processed
M_MD_COUNT = 17
M_EXEC_COUNT = 18
M_REJECTS = 19
M_TRIGGERS = 20
M_CA_ACTIVE = 21  # a cancel-all is in progress (cursor below)
M_CA_CURSOR = 22
M_CA_ACCOUNT = 23
M_CA_VENUE = 24
M_CA_INSTRUMENT = 25
M_CA_REASON = 26
M_CA_SEQ = 27
M_LOSS_CHECKS = 28
M_STOP = 29  # the loop stops when this is non-zero
M_ITER = 30
M_IDLE = 31
M_OPEN = 32  # non-terminal orders
M_SCAN = 33  # instrument whose emulated orders must be scanned before the handler returns
M_CA_COUNT = 34  # orders the current cancel-all acted on
# the loop's own counters (oms/engine/loop.py)
M_GW_DROPS = 40  # events the full gateway ring did not take (the gateway resyncs by query)
M_NO_ROUTE = 41  # commands for a venue without an output ring
M_BUSY = 42  # loop iterations that found work
M_BLOCKED = 43  # waits on a full blocking output ring
M_ADOPTED = 35  # orders taken over from reconciliation reports (venue knew them, the engine did not)
M_PAUSE = 36  # the loop returns at the top of its next iteration (the main thread swaps what it reads)
M_SIZE = 64

META_SLOTS: dict[int, str] = {}
for _name, _slot in list(globals().items()):
    if _name.startswith("M_") and _name != "M_SIZE" and isinstance(_slot, int):
        if _slot in META_SLOTS or not 0 <= _slot < M_SIZE:
            raise ImportError(
                f"engine meta slot {_name} = {_slot} collides with {META_SLOTS.get(_slot)} or is outside "
                f"[0, {M_SIZE}): give it a free slot in oms/engine/state.py"
            )
        META_SLOTS[_slot] = _name
del _name, _slot


class EngineState(NamedTuple):
    orders: np.ndarray
    index: np.ndarray  # [:, 0] client_order_id (0 = empty), [:, 1] slot: one cache line per probe
    free: np.ndarray
    termq: np.ndarray
    trades: np.ndarray
    pos: np.ndarray
    inst: np.ndarray
    acct: np.ndarray
    ven: np.ndarray
    limits: np.ndarray
    evq: np.ndarray
    cmdq: np.ndarray
    meta: np.ndarray
    trans: np.ndarray
    clock: np.ndarray  # i8[2] scratch for clock_gettime
    journal_c: np.ndarray  # in-process SPSC ring (oms.shm.ring protocol) of every event, for the disk log
    journal_b: np.ndarray  # EVENT[journal capacity]; length 1 = no journal


def _pow2(n: int) -> int:
    p = 1
    while p < n:
        p <<= 1
    return p


def allocate(
    *,
    capacity: int = 1 << 16,
    n_accounts: int = 8,
    n_instruments: int = 64,
    trade_capacity: int = 1 << 16,
    staging: int = 1 << 14,
    journal: int = 0,
) -> EngineState:
    """Fresh, empty state. `capacity` orders (live + remembered terminal ones for idempotency)."""
    if capacity < 2 or n_accounts < 1 or n_instruments < 1 or staging < 64:
        raise ValueError(
            f"engine state sizes must be positive (capacity={capacity}, n_accounts={n_accounts}, "
            f"n_instruments={n_instruments}, staging={staging})"
        )
    from oms.shm import ring as RG

    isize = _pow2(2 * capacity)
    jcap = _pow2(journal) if journal > 1 else 1
    journal_c = np.zeros(RG.MASK + 8, np.uint64)
    journal_c[RG.CAPACITY] = jcap
    journal_c[RG.MASK] = jcap - 1
    tsize = _pow2(2 * trade_capacity)
    rows = max(n_accounts, n_instruments, 15) + 1
    limits = np.zeros((C.N_LIMITS, rows), np.int64)
    for lid in (
        C.L_MAX_ORDER_QTY,
        C.L_MAX_ORDER_NOTIONAL,
        C.L_MAX_POSITION_QTY,
        C.L_MAX_POSITION_NOTIONAL,
        C.L_MAX_VENUE_EXPOSURE,
        C.L_DAILY_LOSS_REDUCE,
        C.L_DAILY_LOSS_HALT,
        C.L_EQUITY,
    ):
        limits[lid, :] = C.NO_LIMIT
    limits[C.L_MAX_LEVERAGE_X100, :] = 0  # 0 = off
    limits[C.L_LEVERAGE_X100, :] = 100
    meta = np.zeros(M_SIZE, np.int64)
    meta[M_FREE_TOP] = capacity
    meta[M_BATCH_MARK] = -1
    inst = np.zeros(n_instruments + 1, INSTRUMENT)
    inst["emu_head"] = -1
    inst["mult"] = 1
    inst["div"] = 1
    ven = np.zeros(16, VENUE)
    ven["out"] = -1
    orders = np.zeros(capacity, ORDER)
    orders["emu_next"] = -1
    orders["emu_prev"] = -1
    return EngineState(
        orders=orders,
        index=np.zeros((isize, 2), np.uint64),
        free=np.arange(capacity - 1, -1, -1, dtype=np.int64),
        termq=np.zeros(_pow2(capacity), np.int64),
        trades=np.zeros((2, tsize, 2), np.uint64),
        pos=np.zeros((n_accounts + 1, n_instruments + 1), POSITION),
        inst=inst,
        acct=np.zeros(n_accounts + 1, ACCOUNT),
        ven=ven,
        limits=limits,
        evq=np.zeros(staging, R.EVENT),
        cmdq=np.zeros(staging, R.COMMAND),
        meta=meta,
        trans=np.zeros(C.N_TRANSITIONS, np.int64),
        clock=np.zeros(2, np.int64),
        journal_c=journal_c,
        journal_b=np.zeros(jcap, R.EVENT),
    )


def copy_state(s: EngineState) -> EngineState:
    return EngineState(*(a.copy() for a in s))
