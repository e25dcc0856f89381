"""Venues room (binance): Binance error codes → meaning (see oms/venues/errors.py). Spot and USD-M share
the numbering. Table only; no logic.
"""

from __future__ import annotations

from oms.venues.interface import ErrorTable

R, T, U, UM, CLOCK = "rejected", "transient", "unknown", "unknown_if_mutating", "clock"

CODES: dict[str, tuple[str, str]] = {
    "-1000": (UM, "UNKNOWN: an unknown error occurred while processing the request"),
    "-1001": (UM, "DISCONNECTED: internal error; unable to process the request"),
    "-1002": (R, "UNAUTHORIZED"),
    "-1003": (T, "TOO_MANY_REQUESTS: weight limit or IP ban"),
    "-1006": (U, "UNEXPECTED_RESP: execution status unknown"),
    "-1007": (U, "TIMEOUT: execution status unknown"),
    "-1008": (T, "SERVER_BUSY: request rejected, retry later"),
    "-1013": (R, "INVALID_MESSAGE / filter failure"),
    "-1014": (R, "UNKNOWN_ORDER_COMPOSITION"),
    "-1015": (T, "TOO_MANY_ORDERS: order rate limit"),
    "-1016": (T, "SERVICE_SHUTTING_DOWN"),
    "-1020": (R, "UNSUPPORTED_OPERATION"),
    "-1021": (CLOCK, "INVALID_TIMESTAMP: resync the clock and retry"),
    "-1022": (R, "INVALID_SIGNATURE"),
    "-1100": (R, "ILLEGAL_CHARS"),
    "-1101": (R, "TOO_MANY_PARAMETERS"),
    "-1102": (R, "MANDATORY_PARAM_EMPTY_OR_MALFORMED"),
    "-1103": (R, "UNKNOWN_PARAM"),
    "-1104": (R, "UNREAD_PARAMETERS"),
    "-1105": (R, "PARAM_EMPTY"),
    "-1106": (R, "PARAM_NOT_REQUIRED"),
    "-1111": (R, "BAD_PRECISION"),
    "-1114": (R, "TIF_NOT_REQUIRED"),
    "-1115": (R, "INVALID_TIF"),
    "-1116": (R, "INVALID_ORDER_TYPE"),
    "-1117": (R, "INVALID_SIDE"),
    "-1121": (R, "BAD_SYMBOL"),
    "-1122": (R, "INVALID_SYMBOLSTATUS"),
    "-1125": (R, "INVALID_LISTEN_KEY"),
    "-1130": (R, "INVALID_PARAMETER (batch data)"),
    "-1131": (R, "BAD_RECV_WINDOW"),
    "-1145": (R, "INVALID_CANCEL_RESTRICTIONS"),
    "-2010": (R, "NEW_ORDER_REJECTED"),
    "-2011": (R, "CANCEL_REJECTED"),
    "-2013": (R, "NO_SUCH_ORDER"),
    "-2014": (R, "BAD_API_KEY_FMT"),
    "-2015": (R, "REJECTED_MBX_KEY: key, IP or permission"),
    "-2019": (R, "MARGIN_NOT_SUFFICIEN"),
    "-2021": (R, "ORDER_WOULD_IMMEDIATELY_TRIGGER / cancelReplace partially failed"),
    "-2022": (R, "REDUCE_ONLY_REJECT / cancelReplace failed"),
    "-2035": (R, "user data subscription already active"),
    "-2036": (R, "user data subscription not active"),
    "-2038": (R, "amend: quantity not reducible"),
    "-4000": (R, "INVALID_ORDER_STATUS"),
    "-4003": (R, "QTY_LESS_THAN_ZERO"),
    "-4004": (R, "QTY_LESS_THAN_MIN_QTY"),
    "-4005": (R, "QTY_GREATER_THAN_MAX_QTY"),
    "-4006": (R, "STOP_PRICE_LESS_THAN_ZERO / invalid position side"),
    "-4013": (R, "PRICE_LESS_THAN_MIN_PRICE"),
    "-4014": (R, "PRICE_NOT_INCREASED_BY_TICK_SIZE"),
    "-4015": (R, "INVALID_CL_ORD_ID_LEN / duplicate"),
    "-4016": (R, "PRICE_HIGHTER_THAN_MULTIPLIER_UP"),
    "-4024": (R, "PRICE_LOWER_THAN_MULTIPLIER_DOWN"),
    "-4028": (R, "INVALID_LEVERAGE"),
    "-4045": (R, "REACH_MAX_STOP_ORDER_LIMIT"),
    "-4046": (R, "NO_NEED_TO_CHANGE_MARGIN_TYPE"),
    "-4047": (R, "MARGIN_TYPE_CANNOT_BE_CHANGED_IF_THERE_EXISTS_OPEN_ORDERS"),
    "-4048": (R, "MARGIN_TYPE_CANNOT_BE_CHANGED_IF_THERE_EXISTS_POSITION"),
    "-4059": (R, "NO_NEED_TO_CHANGE_POSITION_SIDE"),
    "-4061": (R, "POSITION_SIDE_NOT_MATCH"),
    "-4120": (R, "order type needs the algo order endpoint"),
    "-4164": (R, "MIN_NOTIONAL"),
    "-5021": (R, "FOK_ORDER_REJECT"),
    "-5022": (R, "GTX_ORDER_REJECT (post-only would take)"),
    "-5027": (R, "NO_NEED_TO_MODIFY"),
}

# -2010 carries many matching-engine messages; all are final rejections except the ones listed here
MESSAGES: dict[str, tuple[tuple[str, str], ...]] = {
    "-2010": (("Market is closed", T), ("Too many requests", T)),
}

ERRORS = ErrorTable("binance", CODES, MESSAGES)
