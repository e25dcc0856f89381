"""Gateway room (oms/api): futures controls — SetLeverage / SetMarginMode requests → COMMAND rows, and the
venue's answer (LeverageChanged / MarginModeChanged, relayed by the engine) → `FuturesSettingAck`, or an
error that names the venue's error (e.g. MARGIN_TYPE_CANNOT_BE_CHANGED_IF_THERE_EXISTS_POSITION).

Touches nothing shared: pure functions the Admin servicer calls. Venue error names come from the venue's
error table (oms/venues/errors.py); the engine's own refusals are named by oms.engine.constants.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import grpc

from oms.api import validation
from oms.api.gen.oms.v1 import gateway_pb2 as gw
from oms.api.gen.oms.v1 import types_pb2 as pb
from oms.api.instruments import _fmt
from oms.api.state import E_CUM, E_FEE, E_KIND, E_OTYPE, E_PRICE, E_QTY, E_REASON, E_STATUS
from oms.api.status import ApiError, invalid
from oms.engine import constants as ec
from oms.shm import records as r
from oms.venues import errors as venue_errors

MAX_LEVERAGE = 1000
MODES = {pb.MARGIN_MODE_CROSS: r.MARGIN_CROSS, pb.MARGIN_MODE_ISOLATED: r.MARGIN_ISOLATED}
MODE_PB = {v: k for k, v in MODES.items()}


def _resolve(req: Any, rs: validation.Resolver) -> validation.Resolved:
    validation.account(req.account, "account")
    validation.text(req.reason, "reason", max_len=256)
    validation.text(req.symbol, "symbol", required=True)
    res = rs.resolve(req.venue, req.market, req.symbol, "")
    if res.market == "spot":
        raise invalid(
            "market", f"{res.venue} spot {res.inst.symbol} has no leverage or margin mode; give a futures one"
        )
    return res


def leverage_row(req: gw.SetLeverage, rs: validation.Resolver) -> tuple[list[Any], validation.Resolved]:
    res = _resolve(req, rs)
    if not 1 <= req.leverage <= MAX_LEVERAGE:
        raise invalid("leverage", f"{req.leverage} is not a leverage; give a whole number 1..{MAX_LEVERAGE}")
    row = validation._row(
        r.SET_LEVERAGE, 0, res.venue_id, res.market_id, req.account, int(res.inst.id),
        param_value=req.leverage * 100,
    )  # fmt: skip
    return row, res


def margin_mode_row(req: gw.SetMarginMode, rs: validation.Resolver) -> tuple[list[Any], validation.Resolved]:
    res = _resolve(req, rs)
    mode = MODES.get(req.margin_mode)
    if mode is None:
        raise invalid("margin_mode", f"{req.margin_mode} is not a margin mode; use CROSS or ISOLATED")
    row = validation._row(
        r.SET_MARGIN_MODE, 0, res.venue_id, res.market_id, req.account, int(res.inst.id), param_id=mode
    )
    return row, res


def refusal(e: tuple, res: validation.Resolved, what: str) -> ApiError:
    """The error for an answer with status 0: the venue's error by name, or the engine's reason."""
    code = int(e[E_REASON])
    where = f"{what} on {res.venue} {res.market} {res.inst.symbol}"
    if code < 0:
        name = venue_errors.code_name(res.venue, code)
        return ApiError(
            grpc.StatusCode.FAILED_PRECONDITION, f"{res.venue} refused {where}: {name} ({res.venue} {code})"
        )
    return ApiError(grpc.StatusCode.FAILED_PRECONDITION, f"engine refused {where}: {ec.reason_name(code)}")


def answer(e: tuple, res: validation.Resolved, seq: int, what: str) -> gw.FuturesSettingAck:
    if int(e[E_STATUS]) != 1:
        raise refusal(e, res, what)
    p = res.prec
    return gw.FuturesSettingAck(
        command_seq=seq,
        kind=int(e[E_KIND]),
        venue=res.venue,
        market=res.market,
        symbol=res.inst.symbol,
        leverage=int(e[E_CUM]) // 100,
        margin_mode=MODE_PB.get(int(e[E_OTYPE]), pb.MARGIN_MODE_UNSPECIFIED),
        liquidation_price=p.price(int(e[E_PRICE])) if e[E_PRICE] else "",
        position=p.qty(int(e[E_QTY])),
        margin=_fmt(Decimal(int(e[E_FEE])) / r.FEE_SCALE),
    )
