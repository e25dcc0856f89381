"""Engine room: the named integer constants of the order state machine, risk and conditional orders.

Touches nothing. Every status, transition, reject reason, risk-limit id, trading state and venue
capability bit is a plain int (so njit kernels use them as compile-time constants) with a name table
(so the Python face, the logs and the docs speak words). EVENT.status carries a status, EVENT.reason a
reason (risk rejects are positive ids below 1000; venue codes from connectors are passed through as-is,
offset by VENUE_REASON_BASE when they are positive).
"""

from __future__ import annotations

# ---- order status (EVENT.status, ORDER.status) ---------------------------------------------------
ST_NONE = 0  # slot free / order unknown
ST_PENDING_NEW = 1  # sent to the venue, no ack yet
ST_ACCEPTED = 2  # working at the venue
ST_PARTIALLY_FILLED = 3
ST_FILLED = 4  # terminal
ST_PENDING_CANCEL = 5  # cancel sent, no answer yet
ST_CANCELED = 6  # terminal
ST_PENDING_REPLACE = 7  # modify sent, no answer yet
ST_REJECTED = 8  # terminal
ST_EXPIRED = 9  # terminal
ST_EMULATED = 10  # conditional order held by the engine until its trigger fires
ST_HELD = 11  # bracket child waiting for its entry to fill

STATUS_NAMES: dict[int, str] = {
    ST_NONE: "None",
    ST_PENDING_NEW: "PendingNew",
    ST_ACCEPTED: "Accepted",
    ST_PARTIALLY_FILLED: "PartiallyFilled",
    ST_FILLED: "Filled",
    ST_PENDING_CANCEL: "PendingCancel",
    ST_CANCELED: "Canceled",
    ST_PENDING_REPLACE: "PendingReplace",
    ST_REJECTED: "Rejected",
    ST_EXPIRED: "Expired",
    ST_EMULATED: "Emulated",
    ST_HELD: "Held",
}
TERMINAL = frozenset({ST_FILLED, ST_CANCELED, ST_REJECTED, ST_EXPIRED})

# ---- transitions (each state change is one named transition; counted in the transition table) ----
TR_SUBMIT = 1  # None -> PendingNew
TR_EMULATE = 2  # None -> Emulated
TR_HOLD = 3  # None -> Held
TR_REJECT_RISK = 4  # None -> Rejected (pre-trade risk)
TR_ACCEPT = 5  # PendingNew -> Accepted
TR_PARTIAL_FILL = 6  # working -> PartiallyFilled
TR_FILL = 7  # working -> Filled
TR_CANCEL_REQUEST = 8  # working -> PendingCancel
TR_CANCELED = 9  # PendingCancel/working/Emulated/Held -> Canceled
TR_CANCEL_REJECTED = 10  # PendingCancel -> previous working status
TR_REPLACE_REQUEST = 11  # working -> PendingReplace
TR_MODIFIED = 12  # PendingReplace -> Accepted/PartiallyFilled (new price/qty), or local modify of Emulated
TR_MODIFY_REJECTED = 13  # PendingReplace -> previous working status
TR_REJECTED = 14  # PendingNew -> Rejected (venue)
TR_EXPIRED = 15  # working/Emulated -> Expired
TR_TRIGGERED = 16  # Emulated -> PendingNew (child order released to the venue)
TR_ACTIVATE = 17  # Held -> Emulated / PendingNew (bracket entry filled)
TR_LATE_FILL = 18  # fill applied to an order already Canceled/Expired (venue race)

TRANSITION_NAMES: dict[int, str] = {
    TR_SUBMIT: "Submit",
    TR_EMULATE: "Emulate",
    TR_HOLD: "Hold",
    TR_REJECT_RISK: "RejectRisk",
    TR_ACCEPT: "Accept",
    TR_PARTIAL_FILL: "PartialFill",
    TR_FILL: "Fill",
    TR_CANCEL_REQUEST: "CancelRequest",
    TR_CANCELED: "Canceled",
    TR_CANCEL_REJECTED: "CancelRejected",
    TR_REPLACE_REQUEST: "ReplaceRequest",
    TR_MODIFIED: "Modified",
    TR_MODIFY_REJECTED: "ModifyRejected",
    TR_REJECTED: "Rejected",
    TR_EXPIRED: "Expired",
    TR_TRIGGERED: "Triggered",
    TR_ACTIVATE: "Activate",
    TR_LATE_FILL: "LateFill",
}
N_TRANSITIONS = 32

# ---- reject / drop reasons (EVENT.reason) --------------------------------------------------------
R_NONE = 0
R_INVALID_ORDER = 1  # qty <= 0, price <= 0 on a priced order, bad side/type, client_order_id 0
R_UNKNOWN_INSTRUMENT = 2
R_UNKNOWN_ACCOUNT = 3
R_DUPLICATE_CLIENT_ORDER_ID = 4
R_MAX_ORDER_QTY = 5
R_MAX_ORDER_NOTIONAL = 6
R_MAX_POSITION_INSTRUMENT = 7
R_MAX_POSITION_ACCOUNT = 8
R_MAX_LEVERAGE = 9
R_PRICE_DEVIATION = 10
R_NO_REFERENCE_PRICE = 11
R_RATE_ACCOUNT = 12
R_RATE_VENUE = 13
R_VENUE_EXPOSURE = 14
R_TRADING_HALTED = 15
R_REDUCE_ONLY_STATE = 16  # trading state REDUCING and the order would not reduce risk
R_ORDER_TABLE_FULL = 17
R_UNKNOWN_ORDER = 18
R_ORDER_NOT_OPEN = 19
R_ALREADY_PENDING = 20  # cancel/modify while a cancel/modify is in flight
R_DUPLICATE_FILL = 21
R_OVERFILL = 22
R_DAILY_LOSS = 23  # canceled by the loss limit / kill switch
R_OCO_PEER_DONE = 24  # canceled because the other OCO leg filled/triggered/was canceled
R_PARENT_DONE = 25  # bracket child canceled because the entry ended without a fill
R_UNKNOWN_LIMIT = 26
R_BAD_TRADING_STATE = 27
R_LATE_EVENT = 28  # venue event for an order already past that state (kept for audit)
R_EXPIRED_LOCAL = 29  # emulated order reached its expire_ns
R_KILL_SWITCH = 30  # canceled because trading state went HALTED
R_INSUFFICIENT_MARGIN = 31  # initial margin at the venue-confirmed leverage would exceed equity
R_ADOPTED = 32  # an order the venue reported (reconciliation) that the engine did not know: taken over
VENUE_REASON_BASE = 1000

REASON_NAMES: dict[int, str] = {
    R_NONE: "none",
    R_INVALID_ORDER: "invalid_order",
    R_UNKNOWN_INSTRUMENT: "unknown_instrument",
    R_UNKNOWN_ACCOUNT: "unknown_account",
    R_DUPLICATE_CLIENT_ORDER_ID: "duplicate_client_order_id",
    R_MAX_ORDER_QTY: "risk.max_order_qty",
    R_MAX_ORDER_NOTIONAL: "risk.max_order_notional",
    R_MAX_POSITION_INSTRUMENT: "risk.max_position_instrument",
    R_MAX_POSITION_ACCOUNT: "risk.max_position_account",
    R_MAX_LEVERAGE: "risk.max_leverage",
    R_PRICE_DEVIATION: "risk.price_deviation",
    R_NO_REFERENCE_PRICE: "risk.no_reference_price",
    R_RATE_ACCOUNT: "risk.order_rate_account",
    R_RATE_VENUE: "risk.order_rate_venue",
    R_VENUE_EXPOSURE: "risk.venue_exposure",
    R_TRADING_HALTED: "risk.trading_halted",
    R_REDUCE_ONLY_STATE: "risk.reducing_only",
    R_ORDER_TABLE_FULL: "order_table_full",
    R_UNKNOWN_ORDER: "unknown_order",
    R_ORDER_NOT_OPEN: "order_not_open",
    R_ALREADY_PENDING: "already_pending",
    R_DUPLICATE_FILL: "duplicate_fill",
    R_OVERFILL: "overfill",
    R_DAILY_LOSS: "risk.daily_loss",
    R_OCO_PEER_DONE: "oco_peer_done",
    R_PARENT_DONE: "bracket_parent_done",
    R_UNKNOWN_LIMIT: "unknown_risk_limit",
    R_BAD_TRADING_STATE: "bad_trading_state",
    R_LATE_EVENT: "late_event",
    R_EXPIRED_LOCAL: "expired_local",
    R_KILL_SWITCH: "kill_switch",
    R_INSUFFICIENT_MARGIN: "risk.insufficient_margin",
    R_ADOPTED: "adopted_from_venue",
}


def reason_name(code: int) -> str:
    if code >= VENUE_REASON_BASE:
        return f"venue.{code - VENUE_REASON_BASE}"
    if code < 0:
        return f"venue.{code}"
    return REASON_NAMES.get(code, f"reason.{code}")


# ---- trading state (per account) -----------------------------------------------------------------
TS_ACTIVE = 0
TS_REDUCING = 1  # only risk-reducing orders pass
TS_HALTED = 2  # kill switch: every open order canceled, every new order rejected
TRADING_STATE_NAMES: dict[int, str] = {TS_ACTIVE: "ACTIVE", TS_REDUCING: "REDUCING", TS_HALTED: "HALTED"}

# ---- risk limit ids (SetRiskLimit.param_id; scope says which table row) --------------------------
# scope kinds
SCOPE_ACCOUNT = 1
SCOPE_INSTRUMENT = 2
SCOPE_VENUE = 3
L_MAX_ORDER_QTY = 1  # lots, per instrument
L_MAX_ORDER_NOTIONAL = 2  # 1e-8 quote units, per account
L_MAX_POSITION_QTY = 3  # lots (absolute net position incl. open orders on that side), per instrument
L_MAX_POSITION_NOTIONAL = 4  # 1e-8 quote (gross positions + open orders), per account
L_MAX_LEVERAGE_X100 = 5  # gross notional / equity, x100 (300 = 3x), per account
L_EQUITY = 6  # account equity, 1e-8 quote, per account
L_PRICE_DEVIATION_BPS = 7  # |price - reference| / reference, basis points, per instrument (0 = off)
L_RATE_ACCOUNT = 8  # orders per second (token bucket, burst = rate), per account (0 = off)
L_RATE_VENUE = 9  # orders per second, per venue (0 = off)
L_MAX_VENUE_EXPOSURE = 10  # 1e-8 quote (gross positions + open orders on the venue), per venue
L_DAILY_LOSS_REDUCE = 11  # realised+unrealised-fees loss at which the account goes REDUCING, per account
L_DAILY_LOSS_HALT = 12  # loss at which the account goes HALTED (kill switch), per account
L_LEVERAGE_X100 = 13  # configured instrument leverage (100 = 1x), used until the venue reports one
# the leverage the venue confirmed (x100; 0 = none yet), per instrument. Written only by the connector's
# LeverageChanged / PositionReport events, never by SetRiskLimit (not in LIMIT_NAMES).
L_VENUE_LEVERAGE_X100 = 14
N_LIMITS = 15
NO_LIMIT = 1 << 62  # "unlimited" for max-type limits

LIMIT_NAMES: dict[int, str] = {
    L_MAX_ORDER_QTY: "max_order_qty",
    L_MAX_ORDER_NOTIONAL: "max_order_notional",
    L_MAX_POSITION_QTY: "max_position_qty",
    L_MAX_POSITION_NOTIONAL: "max_position_notional",
    L_MAX_LEVERAGE_X100: "max_leverage_x100",
    L_EQUITY: "equity",
    L_PRICE_DEVIATION_BPS: "price_deviation_bps",
    L_RATE_ACCOUNT: "rate_account_per_s",
    L_RATE_VENUE: "rate_venue_per_s",
    L_MAX_VENUE_EXPOSURE: "max_venue_exposure",
    L_DAILY_LOSS_REDUCE: "daily_loss_reduce",
    L_DAILY_LOSS_HALT: "daily_loss_halt",
    L_LEVERAGE_X100: "leverage_x100",
}
LIMIT_SCOPE: dict[int, int] = {
    L_MAX_ORDER_QTY: SCOPE_INSTRUMENT,
    L_MAX_ORDER_NOTIONAL: SCOPE_ACCOUNT,
    L_MAX_POSITION_QTY: SCOPE_INSTRUMENT,
    L_MAX_POSITION_NOTIONAL: SCOPE_ACCOUNT,
    L_MAX_LEVERAGE_X100: SCOPE_ACCOUNT,
    L_EQUITY: SCOPE_ACCOUNT,
    L_PRICE_DEVIATION_BPS: SCOPE_INSTRUMENT,
    L_RATE_ACCOUNT: SCOPE_ACCOUNT,
    L_RATE_VENUE: SCOPE_VENUE,
    L_MAX_VENUE_EXPOSURE: SCOPE_VENUE,
    L_DAILY_LOSS_REDUCE: SCOPE_ACCOUNT,
    L_DAILY_LOSS_HALT: SCOPE_ACCOUNT,
    L_LEVERAGE_X100: SCOPE_INSTRUMENT,
}
SCOPE_ALL = 0xFFFFFFFF  # SetRiskLimit.param_scope / SetTradingState.param_scope: every row

# ---- venue capability bits (per venue id; the venues room defines them as data) ------------------
CAP_STOP_MARKET = 1
CAP_STOP_LIMIT = 2
CAP_TAKE_PROFIT = 4  # take-profit market and limit
CAP_TRAILING_STOP = 8
CAP_OCO = 16
CAP_MODIFY = 32
CAP_BATCH = 64
CAPABILITY_NAMES: dict[int, str] = {
    CAP_STOP_MARKET: "stop_market",
    CAP_STOP_LIMIT: "stop_limit",
    CAP_TAKE_PROFIT: "take_profit",
    CAP_TRAILING_STOP: "trailing_stop",
    CAP_OCO: "oco",
    CAP_MODIFY: "modify",
    CAP_BATCH: "batch",
}

# ---- engine source id (COMMAND.source / EVENT.source written by the engine) ----------------------
SOURCE_ENGINE = 100
SOURCE_EMULATOR = 101  # child orders released by the conditional-order emulator

# ---- kernel status codes (returned by njit functions to the Python face) -------------------------
K_OK = 0
K_REJECTED = 1
K_IGNORED = 2
K_MORE = 3  # output buffer high-water mark hit; call again to continue (cancel-all cursor)

# Client order ids are unique per account. Connectors and venues see a "wire id" that is unique across
# accounts: ((account - 1) << 48) | client_order_id, so account 1's wire id is its client order id.
COID_BITS = 48
MAX_COID = (1 << COID_BITS) - 1  # largest client_order_id accepted (the gateway refuses larger)
MAX_WIRE_ACCOUNT = 1 << 16  # accounts 1..65536 fit the 16 high bits of a wire id
