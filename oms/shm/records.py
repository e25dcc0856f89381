"""Record room: the fixed-size numpy record layouts every ring and table carries.

Touches nothing; imported by every process. Three ring record families, each one dtype with a `kind`
tag so one SPSC ring can carry every message of its direction (Numba needs one concrete dtype per ring):

| dtype     | size | carries (kind constants)                                                         |
|-----------|------|----------------------------------------------------------------------------------|
| COMMAND   | 128  | SubmitOrder, ModifyOrder, CancelOrder, CancelAll, SetRiskLimit, SetTradingState,  |
|           |      | SetLeverage, SetMarginMode                                                        |
| EVENT     | 128  | OrderSubmitted, OrderAccepted, OrderRejected, OrderFilled, OrderCanceled,         |
|           |      | OrderModified, OrderExpired, OrderTriggered, CancelRejected, ModifyRejected,      |
|           |      | RiskLimitChanged, TradingStateChanged, LeverageChanged, MarginModeChanged,        |
|           |      | PositionReport                                                                    |
| MARKET    |  64  | MarketDataDelta, MarketDataTrade, MarketDataBBO, MarketDataMark                   |
| BBO       |  64  | (not a ring record) one row per instrument of the seqlock BBO table (table.py)    |

The message names (SubmitOrder, OrderFilled, ...) are the same words as the proto messages and NATS
actions (STYLE.md); `KIND_NAMES` maps each kind to its name.

Units: prices are int64 instrument ticks, quantities int64 instrument lots (conversion to/from decimal
strings happens once, at the venue edge, with the instrument registry). Fees are int64 in 1e-8 units of
the fee asset (`FEE_SCALE`). Times are int64 ns since the Unix epoch. Ids (venue, market, instrument,
account) are small ints from the instrument registry / config. `client_order_id` is the OMS-wide 64-bit
order id; its venue wire form is derived from it at the edge.

Futures controls (a venue's per-instrument settings): SetLeverage carries the leverage x100 in
`param_value`; SetMarginMode the mode (MARGIN_CROSS / MARGIN_ISOLATED) in `param_id`. The connector's
answer (LeverageChanged / MarginModeChanged, `ref_seq` = the command's seq) and its unsolicited
PositionReport (read at start and after each reconnect) carry the venue's view of the instrument:
`status` 1 = applied / reported, 0 = refused (`reason` = the venue's error code); `cum_qty` = leverage
x100, `order_type` = margin mode, `price` = liquidation price in ticks (0 = none), `qty` = position in
lots (signed), `fee` = the position's margin in FEE_SCALE units of the quote asset.

Layouts are checked at import (`check_layout` raises LayoutError, never a stripped assert): itemsize,
field offsets (no implicit padding), whole 64-byte lines.
"""

from __future__ import annotations

import hashlib

import numpy as np

LAYOUT_VERSION = 1
FEE_SCALE = 100_000_000

# ---- enums (plain ints so njit code can use them as constants) ----------------------------------
SIDE_BUY = 1
SIDE_SELL = -1

ORD_LIMIT = 1
ORD_MARKET = 2
ORD_STOP_MARKET = 3
ORD_STOP_LIMIT = 4
ORD_TAKE_PROFIT_MARKET = 5
ORD_TAKE_PROFIT_LIMIT = 6
ORD_TRAILING_STOP_MARKET = 7

TIF_GTC = 1
TIF_IOC = 2
TIF_FOK = 3
TIF_GTX = 4  # post-only

# COMMAND.flags / EVENT.flags bits
FLAG_REDUCE_ONLY = 1
FLAG_POST_ONLY = 2
FLAG_CLOSE_POSITION = 4
FLAG_EMULATED = 8  # conditional order emulated by the engine (venue lacks it natively)
FLAG_REPLAY = 16  # event replayed by reconciliation, not live
FLAG_LAST_IN_BATCH = 32

# COMMAND.contingency
CONT_NONE = 0
CONT_OCO = 1  # ref_id links the two legs
CONT_BRACKET_ENTRY = 2
CONT_BRACKET_CHILD = 3  # ref_id = the entry's client_order_id

# ---- kinds ---------------------------------------------------------------------------------------
SUBMIT_ORDER = 1
MODIFY_ORDER = 2
CANCEL_ORDER = 3
CANCEL_ALL = 4
SET_RISK_LIMIT = 5
SET_TRADING_STATE = 6
SET_LEVERAGE = 7
SET_MARGIN_MODE = 8

ORDER_SUBMITTED = 20
ORDER_ACCEPTED = 21
ORDER_REJECTED = 22
ORDER_FILLED = 23
ORDER_CANCELED = 24
ORDER_MODIFIED = 25
ORDER_EXPIRED = 26
ORDER_TRIGGERED = 27
CANCEL_REJECTED = 28
MODIFY_REJECTED = 29
RISK_LIMIT_CHANGED = 30
TRADING_STATE_CHANGED = 31
LEVERAGE_CHANGED = 32
MARGIN_MODE_CHANGED = 33
POSITION_REPORT = 34
FUTURES_REPORTS = (LEVERAGE_CHANGED, MARGIN_MODE_CHANGED, POSITION_REPORT)

# margin modes (SetMarginMode.param_id, futures reports' order_type)
MARGIN_CROSS = 1
MARGIN_ISOLATED = 2
MARGIN_MODE_NAMES: dict[int, str] = {MARGIN_CROSS: "cross", MARGIN_ISOLATED: "isolated"}

MD_DELTA = 40
MD_TRADE = 41
MD_BBO = 42
MD_MARK = 43

# MARKET.flags bits
MD_FLAG_CLEAR = 1  # clear this instrument's book before applying (snapshot start)
MD_FLAG_LAST = 2  # last record of an atomic update (book consistent after it)

LIQ_MAKER = 1
LIQ_TAKER = 2

KIND_NAMES: dict[int, str] = {
    SUBMIT_ORDER: "SubmitOrder",
    MODIFY_ORDER: "ModifyOrder",
    CANCEL_ORDER: "CancelOrder",
    CANCEL_ALL: "CancelAll",
    SET_RISK_LIMIT: "SetRiskLimit",
    SET_TRADING_STATE: "SetTradingState",
    SET_LEVERAGE: "SetLeverage",
    SET_MARGIN_MODE: "SetMarginMode",
    ORDER_SUBMITTED: "OrderSubmitted",
    ORDER_ACCEPTED: "OrderAccepted",
    ORDER_REJECTED: "OrderRejected",
    ORDER_FILLED: "OrderFilled",
    ORDER_CANCELED: "OrderCanceled",
    ORDER_MODIFIED: "OrderModified",
    ORDER_EXPIRED: "OrderExpired",
    ORDER_TRIGGERED: "OrderTriggered",
    CANCEL_REJECTED: "CancelRejected",
    MODIFY_REJECTED: "ModifyRejected",
    RISK_LIMIT_CHANGED: "RiskLimitChanged",
    TRADING_STATE_CHANGED: "TradingStateChanged",
    LEVERAGE_CHANGED: "LeverageChanged",
    MARGIN_MODE_CHANGED: "MarginModeChanged",
    POSITION_REPORT: "PositionReport",
    MD_DELTA: "MarketDataDelta",
    MD_TRADE: "MarketDataTrade",
    MD_BBO: "MarketDataBBO",
    MD_MARK: "MarketDataMark",
}

# ---- layouts -------------------------------------------------------------------------------------
COMMAND = np.dtype(
    [
        ("kind", "<u2"),  # 0
        ("flags", "<u2"),  # 2
        ("venue", "<u2"),  # 4
        ("market", "<u2"),  # 6
        ("account", "<u4"),  # 8
        ("instrument", "<u4"),  # 12
        ("client_order_id", "<u8"),  # 16 OMS order id
        ("ref_id", "<u8"),  # 24 target order (modify/cancel) or link (OCO leg, bracket entry)
        ("price", "<i8"),  # 32 ticks (limit price)
        ("qty", "<i8"),  # 40 lots
        ("trigger_price", "<i8"),  # 48 ticks (stop/take-profit trigger, trailing activation)
        ("trail", "<i8"),  # 56 trailing offset in ticks
        ("ts_ns", "<i8"),  # 64 creation time
        ("seq", "<u8"),  # 72 source sequence (gateway request id), echoed in events
        ("side", "i1"),  # 80 SIDE_BUY / SIDE_SELL
        ("order_type", "u1"),  # 81 ORD_*
        ("tif", "u1"),  # 82 TIF_*
        ("contingency", "u1"),  # 83 CONT_*
        ("source", "<u4"),  # 84 which producer (gateway, bridge, engine-emulator...)
        ("expire_ns", "<i8"),  # 88 good-till time, 0 = none
        ("param_id", "<u4"),  # 96 SetRiskLimit: limit id; SetTradingState: new state
        ("param_scope", "<u4"),  # 100 SetRiskLimit: account/venue/instrument the limit applies to
        ("param_value", "<i8"),  # 104
        ("reserved", "<i8", (2,)),  # 112
    ],
    align=True,
)

EVENT = np.dtype(
    [
        ("kind", "<u2"),  # 0
        ("flags", "<u2"),  # 2
        ("venue", "<u2"),  # 4
        ("market", "<u2"),  # 6
        ("account", "<u4"),  # 8
        ("instrument", "<u4"),  # 12
        ("client_order_id", "<u8"),  # 16
        ("venue_order_id", "<u8"),  # 24
        ("price", "<i8"),  # 32 order price, or last fill price (ORDER_FILLED), ticks
        ("qty", "<i8"),  # 40 order qty, or last fill qty (ORDER_FILLED), lots
        ("cum_qty", "<i8"),  # 48 filled so far, lots
        ("leaves_qty", "<i8"),  # 56 still working, lots
        ("fee", "<i8"),  # 64 fee of this fill in FEE_SCALE units of fee_asset (negative = rebate)
        ("trade_id", "<u8"),  # 72 venue trade id (dedup key for fills)
        ("ts_venue_ns", "<i8"),  # 80 venue's transaction time
        ("ts_ns", "<i8"),  # 88 local time the event was produced
        ("seq", "<u8"),  # 96 producer's event sequence (engine: global event number)
        ("reason", "<i4"),  # 104 reject/cancel reason: venue code or risk reason id
        ("side", "i1"),  # 108
        ("liquidity", "u1"),  # 109 LIQ_MAKER / LIQ_TAKER
        ("order_type", "u1"),  # 110
        ("status", "u1"),  # 111 order state after this event (engine's state machine)
        ("fee_asset", "<u4"),  # 112 asset id
        ("source", "<u4"),  # 116
        ("ref_seq", "<u8"),  # 120 the COMMAND.seq this event answers (gateway correlation)
    ],
    align=True,
)

MARKET = np.dtype(
    [
        ("kind", "u1"),  # 0
        ("side", "i1"),  # 1 delta/trade side (trade: aggressor)
        ("flags", "<u2"),  # 2 MD_FLAG_*
        ("instrument", "<u4"),  # 4
        ("price", "<i8"),  # 8 delta/trade price; BBO: bid price (ticks)
        ("qty", "<i8"),  # 16 delta/trade qty (absolute level qty, 0 removes); BBO: bid qty (lots)
        ("ask_price", "<i8"),  # 24 BBO only
        ("ask_qty", "<i8"),  # 32 BBO only
        ("seq", "<u8"),  # 40 venue update id / trade id
        ("ts_venue_ns", "<i8"),  # 48
        ("ts_ns", "<i8"),  # 56 local receive time
    ],
    align=True,
)


# BBO snapshot table row (oms/shm/table.py): one cache line per instrument, row index = instrument id.
# `seq` is the row's seqlock word (odd while the writer is mid-update; seq // 2 = updates so far).
BBO = np.dtype(
    [
        ("seq", "<u8"),  # 0 seqlock
        ("bid_px", "<i8"),  # 8 ticks
        ("bid_qty", "<i8"),  # 16 lots
        ("ask_px", "<i8"),  # 24 ticks
        ("ask_qty", "<i8"),  # 32 lots
        ("mark_px", "<i8"),  # 40 ticks (0 = none, e.g. spot)
        ("ts_ns", "<i8"),  # 48 time of the venue update this row reflects
        ("instrument", "<u4"),  # 56
        ("reserved", "<u4"),  # 60
    ],
    align=True,
)


def dtype_hash(dt: np.dtype) -> int:
    """A stable 64-bit hash of a dtype's layout (names, formats, offsets, itemsize) for segment headers."""
    desc = repr((dt.descr, dt.itemsize, LAYOUT_VERSION)).encode()
    return int.from_bytes(hashlib.blake2b(desc, digest_size=8).digest(), "little")


class LayoutError(ImportError):
    """A record dtype is not the layout every process and compiled kernel relies on (raised at import,
    also under `python -O`, which strips asserts)."""


def check_layout(dt: np.dtype, size: int, name: str = "") -> None:
    """Raise LayoutError unless dt is `size` bytes, fields back to back (no implicit or trailing padding)
    and, for cache-line records, a multiple of 64 bytes."""
    what = name or str(dt)
    if dt.itemsize != size:
        raise LayoutError(f"record {what}: itemsize {dt.itemsize} != {size}; fix its field list")
    end = 0
    for field in dt.names or ():
        fdt, off = dt.fields[field][:2]
        if off != end:
            raise LayoutError(
                f"record {what}: implicit padding before field {field!r} (offset {off}, expected {end}); "
                "reorder or pad the fields explicitly"
            )
        end = off + fdt.itemsize
    if end != size:
        raise LayoutError(f"record {what}: trailing padding (fields end at {end}, itemsize {size})")
    if size % 64:
        raise LayoutError(f"record {what}: {size} bytes is not a whole number of 64-byte cache lines")


for _name, _dt, _size in (
    ("COMMAND", COMMAND, 128),
    ("EVENT", EVENT, 128),
    ("MARKET", MARKET, 64),
    ("BBO", BBO, 64),
):
    check_layout(_dt, _size, _name)


def new(dt: np.dtype, n: int = 1) -> np.ndarray:
    """A zeroed array of `n` records (the only allocation records need; reuse it in loops)."""
    return np.zeros(n, dtype=dt)
