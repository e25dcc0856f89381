"""Gateway room (oms/api): OCO and bracket requests checked and turned into linked COMMAND rows.

Touches nothing (pure functions over the request and the `Resolver`). Each leg is checked by
`validation.submit` (field paths like `oco[0].second.price`), then the legs are checked against each
other and linked the way the engine's conditional-order emulator reads them (oms/engine/conditional.py):

| request       | rows, in ring order                                                               |
|---------------|-----------------------------------------------------------------------------------|
| SubmitOco     | first (contingency OCO), second (contingency OCO, ref_id = first's id)            |
| SubmitBracket | entry (BRACKET_ENTRY), stop_loss / take_profit (BRACKET_CHILD, ref_id = entry's id) |

The rows of one request are written to the engine ring in one publish, so the engine links them in the
same loop iteration that accepts the first. A bracket's exits inherit account, venue, market and symbol
from the entry when left empty, and the entry's quantity when their quantity is empty; the engine sizes
them to what the entry filled when it ends.
"""

from __future__ import annotations

from typing import Any

from oms.api import validation
from oms.api.gen.oms.v1 import types_pb2 as pb
from oms.api.status import invalid
from oms.shm import records as r

COID, REF_ID, CONTINGENCY = 6, 7, 17  # COMMAND row indexes (validation._row field order)
ACCOUNT, INSTRUMENT, QTY, SIDE, OTYPE = 4, 5, 9, 14, 15
_STOPS = {r.ORD_STOP_MARKET, r.ORD_STOP_LIMIT}
_TAKES = {r.ORD_LIMIT, r.ORD_TAKE_PROFIT_MARKET, r.ORD_TAKE_PROFIT_LIMIT}


def _same_instrument(a: list[Any], b: list[Any], path: str, what: str) -> None:
    if a[ACCOUNT] != b[ACCOUNT]:
        raise invalid(f"{path}account", f"{what} must be on the same account ({a[ACCOUNT]} vs {b[ACCOUNT]})")
    if a[INSTRUMENT] != b[INSTRUMENT]:
        raise invalid(f"{path}symbol", f"{what} must be on the same venue, market and symbol")


def oco(req: pb.SubmitOco, rs: validation.Resolver, new_coid: Any, path: str = "") -> list[list[Any]]:
    """Two linked rows; raises ApiError naming the first bad field."""
    if not req.HasField("first") or not req.HasField("second"):
        raise invalid(
            f"{path}{'second' if req.HasField('first') else 'first'}", "is required: an OCO has two legs"
        )
    a = validation.submit(req.first, rs, new_coid, f"{path}first.")
    b = validation.submit(req.second, rs, new_coid, f"{path}second.")
    _same_instrument(a, b, f"{path}second.", "both OCO legs")
    if a[COID] == b[COID]:
        raise invalid(f"{path}second.client_order_id", "must differ from the first leg's id")
    a[CONTINGENCY] = r.CONT_OCO
    b[CONTINGENCY], b[REF_ID] = r.CONT_OCO, a[COID]
    return [a, b]


def _exit(entry_req: pb.SubmitOrder, leg: pb.SubmitOrder) -> pb.SubmitOrder:
    """The exit with the entry's account/venue/market/symbol/quantity where it left them empty."""
    out = pb.SubmitOrder()
    out.CopyFrom(leg)
    if not out.account:
        out.account = entry_req.account
    if not out.venue and not out.symbol:
        out.venue, out.market, out.symbol = entry_req.venue, entry_req.market, entry_req.symbol
    if not out.quantity:
        out.quantity = entry_req.quantity
    return out


def bracket(req: pb.SubmitBracket, rs: validation.Resolver, new_coid: Any, path: str = "") -> list[list[Any]]:
    """Entry row then its exits' rows; raises ApiError naming the first bad field."""
    if not req.HasField("entry"):
        raise invalid(f"{path}entry", "is required: a bracket needs its entry order")
    if not req.HasField("stop_loss") and not req.HasField("take_profit"):
        raise invalid(f"{path}stop_loss", "give a stop_loss and/or a take_profit")
    entry = validation.submit(req.entry, rs, new_coid, f"{path}entry.")
    if entry[OTYPE] not in (r.ORD_LIMIT, r.ORD_MARKET):
        raise invalid(f"{path}entry.order_type", "a bracket entry is a LIMIT or MARKET order")
    entry[CONTINGENCY] = r.CONT_BRACKET_ENTRY
    rows = [entry]
    for name, allowed, hint in (
        ("stop_loss", _STOPS, "STOP_MARKET or STOP_LIMIT"),
        ("take_profit", _TAKES, "LIMIT, TAKE_PROFIT_MARKET or TAKE_PROFIT_LIMIT"),
    ):
        if not req.HasField(name):
            continue
        p = f"{path}{name}."
        row = validation.submit(_exit(req.entry, getattr(req, name)), rs, new_coid, p)
        _same_instrument(entry, row, p, "a bracket's exits and its entry")
        if row[OTYPE] not in allowed:
            raise invalid(f"{p}order_type", f"a bracket {name} is {hint}")
        if row[SIDE] != -entry[SIDE]:
            raise invalid(f"{p}side", "an exit is on the other side of the entry")
        if row[QTY] > entry[QTY]:
            raise invalid(
                f"{p}quantity", "must not exceed the entry's quantity (leave it empty to follow it)"
            )
        if row[COID] in (x[COID] for x in rows):
            raise invalid(f"{p}client_order_id", "must differ from the other orders of the bracket")
        row[CONTINGENCY], row[REF_ID] = r.CONT_BRACKET_CHILD, entry[COID]
        rows.append(row)
    return rows
