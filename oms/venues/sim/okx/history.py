"""OKX simulator room: history endpoints for reconciliation — `trade/orders-history` (finished orders)
and `trade/fills` (the account's executions), newest first, paged OKX's way (`after` = older than this
id, `before` = newer than this id, `limit` ≤ 100, default 100).

Touches nothing outside this simulator.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from oms.venues.sim.kit.matching import MarketCore
from oms.venues.sim.okx import rules
from oms.venues.sim.okx.rest import Req
from oms.venues.sim.okx.rules import param_error

T = TypeVar("T")


def _page(req: Req, rows: Iterable[T], id_of: Callable[[T], int]) -> list[T]:
    def num(name: str) -> int | None:
        v = req.get(name)
        if v is None:
            return None
        try:
            return int(v)
        except (TypeError, ValueError):
            raise param_error(name, "an id") from None

    limit = num("limit") or 100
    if not 1 <= limit <= 100:
        raise param_error("limit", "1..100")
    after, before = num("after"), num("before")
    picked = sorted(rows, key=id_of, reverse=True)
    picked = [
        r for r in picked if (after is None or id_of(r) < after) and (before is None or id_of(r) > before)
    ]
    return picked[:limit]


def _cores(req: Req, required: bool) -> list[MarketCore]:
    kind = req.need("instType") if required else req.get("instType")
    if kind is not None and kind not in req.cores:
        raise param_error("instType", "SPOT or SWAP")
    return [c for m, c in req.cores.items() if kind in (None, m)]


def orders_history(req: Req) -> list[dict[str, Any]]:
    rows = []
    for core in _cores(req, required=True):
        inst = req.get("instId")
        rows += [
            o
            for o in core.orders.values()
            if o.account is req.account and not o.is_open and inst in (None, o.spec.symbol)
        ]
    state = req.get("state")
    rows = [o for o in rows if state in (None, rules.state(o))]
    leverage = req.cores["SWAP"].default_leverage
    return [rules.order_row(o, req.ct(o.spec), leverage) for o in _page(req, rows, lambda o: o.order_id)]


def fills(req: Req) -> list[dict[str, Any]]:
    rows: list[tuple[MarketCore, Any]] = []
    inst, oid = req.get("instId"), req.get("ordId")
    for core in _cores(req, required=False):
        rows += [
            (core, f)
            for f in core.fills.get(req.account.uid, ())
            if inst in (None, f.symbol) and oid in (None, str(f.order_id))
        ]
    out = []
    for core, f in _page(req, rows, lambda cf: cf[1].trade_id * 2 + (1 if cf[1].maker else 0)):
        spec = core.specs[f.symbol]
        o = core.orders.get(f.order_id)
        out.append(
            {
                "instType": core.market,
                "instId": f.symbol,
                "tradeId": str(f.trade_id),
                "ordId": str(f.order_id),
                "clOrdId": o.client_id if o is not None else "",
                "billId": str(f.trade_id * 2 + (1 if f.maker else 0)),
                "tag": "",
                "fillPx": rules.px(spec, f.price),
                "fillSz": rules.contracts(spec, req.ct(spec), f.lots),
                "side": "buy" if f.side > 0 else "sell",
                "posSide": "net",
                "execType": "M" if f.maker else "T",
                "feeCcy": f.fee_asset,
                "fee": "-" + rules.dec(f.fee, 8) if f.fee else "0",
                "fillPnl": rules.dec(f.realized_pnl, 8),
                "ts": str(f.time),
                "fillTime": str(f.time),
            }
        )
    return out
