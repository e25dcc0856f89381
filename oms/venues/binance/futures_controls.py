"""Venues room (binance): USD-M futures controls — set leverage (`POST /fapi/v1/leverage`), set the margin
type (`POST /fapi/v1/marginType`), and read back the venue's view of each symbol (`GET /fapi/v2/positionRisk`:
leverage, margin type, liquidation price, position, margin) — as small self-contained functions.

Touches the venue only through the `call` it is given (the connector's `VenueRest.call`: rate budget,
clock, signing, error mapping into Rejected / Transient / OutcomeUnknown with the venue's code) and the
`emit` it is given (the exec ring). Pure parts (`parse_position_risk`, `report_record`) are separate so a
test can feed them recorded payloads. Every answer is the venue's: after a change the symbol is read back
and that reading is what is reported, never the requested number.

A command is answered with one EVENT of the matching kind (LeverageChanged / MarginModeChanged, layout in
oms/shm/records.py): status 1 and the venue's settings, or status 0 with the venue's error code in
`reason` (e.g. -4048 MARGIN_TYPE_CANNOT_BE_CHANGED_IF_THERE_EXISTS_POSITION). `report_all` sends one
PositionReport per served USD-M instrument; the connector calls it at start and after every reconnect of
the USD-M user data stream; `on_config_update` sends one when the stream says the leverage changed
(ACCOUNT_CONFIG_UPDATE).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

import numpy as np

from oms import ids, log
from oms.errors import OmsError, OutcomeUnknown, Transient
from oms.shm import records as R

_log = log.get(__name__)
MARKET = "usdm"
VENUE_ID = ids.VENUES["binance"]
MARGIN_WIRE = {R.MARGIN_CROSS: "CROSSED", R.MARGIN_ISOLATED: "ISOLATED"}
_MARGIN_FROM_WIRE = {"cross": R.MARGIN_CROSS, "crossed": R.MARGIN_CROSS, "isolated": R.MARGIN_ISOLATED}
NO_NEED_TO_CHANGE_MARGIN_TYPE = -4046  # the venue is already in the asked mode: the state is as asked
NOT_FUTURES = -1020  # UNSUPPORTED_OPERATION: leverage / margin type on an instrument that is not USD-M
LOST_ANSWER = -1007  # TIMEOUT: sent, answer lost, and the read-back does not show the change

Call = Callable[..., Awaitable[Any]]
Emit = Callable[[np.ndarray], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class PositionSettings:
    """The venue's view of one symbol (one-way mode; hedge-mode legs are summed)."""

    symbol: str
    leverage: int
    margin_mode: int  # R.MARGIN_CROSS / R.MARGIN_ISOLATED
    liquidation_price: Decimal  # 0 = none (no position)
    position: Decimal  # signed base quantity
    margin: Decimal  # isolated: the isolated margin; cross: |notional| / leverage (quote asset)


def _dec(v: object) -> Decimal:
    try:
        return Decimal(str(v or "0"))
    except InvalidOperation:
        return Decimal(0)


def parse_position_risk(rows: list[dict[str, Any]]) -> dict[str, PositionSettings]:
    """`GET /fapi/v2/positionRisk` rows → settings per symbol (pure)."""
    out: dict[str, PositionSettings] = {}
    for r in rows:
        sym = str(r.get("symbol", ""))
        if not sym:
            continue
        lev = int(_dec(r.get("leverage")))
        mode = _MARGIN_FROM_WIRE.get(str(r.get("marginType", "cross")).lower(), R.MARGIN_CROSS)
        amt = _dec(r.get("positionAmt"))
        notional = abs(_dec(r.get("notional")))
        if mode == R.MARGIN_ISOLATED:
            margin = _dec(r.get("isolatedMargin"))
        else:
            margin = notional / lev if lev > 0 else Decimal(0)
        liq = _dec(r.get("liquidationPrice"))
        prev = out.get(sym)
        if prev is not None:  # hedge mode: LONG and SHORT legs share leverage and margin type
            amt += prev.position
            margin += prev.margin
            liq = liq or prev.liquidation_price
        out[sym] = PositionSettings(sym, lev, mode, liq, amt, margin)
    return out


def report_record(
    kind: int,
    inst: Any,
    st: PositionSettings | None,
    *,
    account: int,
    ref_seq: int,
    status: int,
    reason: int = 0,
    seq: int = 0,
) -> np.ndarray:
    """One EVENT (LeverageChanged / MarginModeChanged / PositionReport) for `inst` (pure)."""
    rec = np.zeros(1, R.EVENT)
    e = rec[0]
    e["kind"] = kind
    e["venue"] = VENUE_ID
    e["market"] = ids.MARKETS.get(getattr(inst, "market", MARKET), 0)
    e["account"] = account
    e["instrument"] = int(getattr(inst, "id", 0))
    e["status"] = status
    e["reason"] = reason
    e["ref_seq"] = ref_seq
    e["seq"] = seq
    e["source"] = VENUE_ID
    e["ts_ns"] = time.time_ns()
    if st is not None:
        e["cum_qty"] = st.leverage * 100
        e["order_type"] = st.margin_mode
        e["price"] = int((st.liquidation_price / inst.tick_size).to_integral_value())
        e["qty"] = int((st.position / inst.lot_size).to_integral_value())
        e["fee"] = int((st.margin * R.FEE_SCALE).to_integral_value())
    return rec


async def read_settings(call: Call, symbol: str | None = None) -> dict[str, PositionSettings]:
    """The venue's settings for one symbol, or every symbol."""
    params: dict[str, Any] = {"version": 2}
    if symbol:
        params["symbol"] = symbol
    rows = await call(MARKET, "futures_position_information", weight=5, **params)
    return parse_position_risk(rows if isinstance(rows, list) else [rows])


async def set_leverage(call: Call, symbol: str, leverage: int) -> PositionSettings:
    """Set the symbol's leverage; returns the venue's settings read back after the change."""
    await call(MARKET, "futures_change_leverage", weight=1, symbol=symbol, leverage=int(leverage))
    return (await read_settings(call, symbol))[symbol]


async def set_margin_mode(call: Call, symbol: str, mode: int) -> PositionSettings:
    """Set the symbol's margin type (cross / isolated); returns the venue's settings read back."""
    try:
        wire = MARGIN_WIRE[mode]
        await call(MARKET, "futures_change_margin_type", weight=1, symbol=symbol, marginType=wire)
    except OmsError as e:
        if _code(e) != NO_NEED_TO_CHANGE_MARGIN_TYPE:
            raise
    return (await read_settings(call, symbol))[symbol]


def _code(e: Exception) -> int:
    try:
        return int(getattr(e, "code", None) or -1000)
    except ValueError:
        return -1000


async def handle(c: np.void, call: Call, instruments: Any, emit: Emit) -> None:
    """Apply one SetLeverage / SetMarginMode COMMAND at the venue and emit the venue's answer."""
    kind = int(c["kind"])
    ev_kind = R.LEVERAGE_CHANGED if kind == R.SET_LEVERAGE else R.MARGIN_MODE_CHANGED
    inst = instruments.get(int(c["instrument"]))
    account, ref_seq = int(c["account"]), int(c["seq"])
    if inst is None or inst.market != MARKET:
        _log.info("%s for instrument %d refused: not a USD-M instrument", R.KIND_NAMES[kind], c["instrument"])
        fake = inst or _Unknown(int(c["instrument"]))
        refusal = report_record(
            ev_kind, fake, None, account=account, ref_seq=ref_seq, status=0, reason=NOT_FUTURES
        )
        await emit(refusal)
        return
    want_lev = int(c["param_value"]) // 100
    want_mode = int(c["param_id"])
    try:
        if kind == R.SET_LEVERAGE:
            st = await set_leverage(call, inst.symbol, want_lev)
        else:
            st = await set_margin_mode(call, inst.symbol, want_mode)
        status, reason = 1, 0
    except (OutcomeUnknown, Transient) as e:
        # the change may or may not have happened: the venue's current state decides
        try:
            st = (await read_settings(call, inst.symbol))[inst.symbol]
        except (OmsError, KeyError):
            st = None
        if st is None:
            done = False
        elif kind == R.SET_LEVERAGE:
            done = st.leverage == want_lev
        else:
            done = st.margin_mode == want_mode
        status, reason = (1, 0) if done else (0, _code(e) if isinstance(e, Transient) else LOST_ANSWER)
    except OmsError as e:
        st, status, reason = None, 0, _code(e)
        _log.info("%s %s refused by the venue: %s", R.KIND_NAMES[kind], inst.symbol, e)
    await emit(
        report_record(ev_kind, inst, st, account=account, ref_seq=ref_seq, status=status, reason=reason)
    )


async def on_config_update(ac: dict[str, Any], call: Call, instruments: Any, emit: Emit) -> None:
    """`ACCOUNT_CONFIG_UPDATE` on the user data stream (leverage changed, by us or elsewhere: web UI,
    another tool): read the symbol back and send a PositionReport, so the engine follows the venue."""
    inst = instruments.find(MARKET, str(ac.get("s", "")))
    if inst is None:
        return
    try:
        st = (await read_settings(call, inst.symbol)).get(inst.symbol)
    except OmsError as e:
        _log.warning(
            "%s: leverage change reported, read-back failed (%s); next reconnect reads it", inst.symbol, e
        )
        return
    if st is not None:
        await emit(report_record(R.POSITION_REPORT, inst, st, account=0, ref_seq=0, status=1))


async def report_all(call: Call, instruments: Any, emit: Emit, symbols: set[str] | None = None) -> int:
    """One PositionReport per served USD-M instrument (start, and after every reconnect); returns how many."""
    settings = await read_settings(call)
    n = 0
    for inst in instruments.of_market(MARKET):
        if symbols and inst.symbol not in symbols:
            continue
        st = settings.get(inst.symbol)
        if st is None:
            continue
        await emit(report_record(R.POSITION_REPORT, inst, st, account=0, ref_seq=0, status=1))
        n += 1
    return n


@dataclass(frozen=True, slots=True)
class _Unknown:
    id: int
    market: str = ""
