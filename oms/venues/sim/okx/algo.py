"""OKX simulator room: algo orders (`order-algo` conditional / oco / trigger for stop-loss and
take-profit, `cancel-algos`, `orders-algo-pending`) and cancel-all-after (OKX's dead-man switch).

Touches nothing outside this simulator. Algo legs are the kit's `AlgoOrder`s held by the market core;
the server cancels an OCO's other leg when one fires.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

from oms.venues.sim.kit.errors import SimError
from oms.venues.sim.kit.orders import AlgoOrder, triggered
from oms.venues.sim.okx import rules
from oms.venues.sim.okx.rest import Req, _items, _modes, last_ticks, to_lots, to_ticks
from oms.venues.sim.okx.rules import param_error

# ---------------------------------------------------------------- algo orders (conditional, oco, trigger)
ALGO_TYPES = ("conditional", "oco", "trigger")


def place_algo(req: Req) -> list[dict[str, Any]]:
    core, spec = req.inst()
    _modes(req, core)
    kind = req.need("ordType")
    if kind not in ALGO_TYPES:
        raise param_error("ordType", "conditional, oco or trigger")
    side = {"buy": 1, "sell": -1}.get(req.need("side"))
    if side is None:
        raise param_error("side")
    sz = req.dec("sz")
    if sz is None:
        raise rules.missing("sz")
    lots = to_lots(req, spec, sz)
    last = last_ticks(core, spec)
    legs: list[tuple[int, int, str]] = []  # (trigger ticks, order ticks (0 market), name)
    if kind == "trigger":
        trig, opx = req.dec("triggerPx"), req.dec("orderPx")
        if trig is None or opx is None:
            raise param_error("triggerPx", "triggerPx and orderPx are required")
        legs.append(
            (to_ticks(spec, trig, "triggerPx"), 0 if opx == -1 else to_ticks(spec, opx, "orderPx"), "trigger")
        )
    else:
        for name in ("tp", "sl"):
            trig = req.dec(f"{name}TriggerPx")
            if trig is None:
                continue
            opx = req.dec(f"{name}OrdPx") or Decimal(-1)
            legs.append(
                (to_ticks(spec, trig, f"{name}TriggerPx"), 0 if opx == -1 else to_ticks(spec, opx), name)
            )
        if not legs or (kind == "oco" and len(legs) != 2):
            raise param_error("tpTriggerPx", "conditional needs tp or sl, oco needs both")
    cl = str(req.get("algoClOrdId") or "")
    group: list[AlgoOrder] = []
    for trig, opx, name in legs:
        # a trigger fires on the way to its price; a sell's take-profit on a rise, its stop-loss on a
        # fall, a buy's the other way
        direction = (1 if trig > last else -1) if name == "trigger" else (1 if name == "tp" else -1) * -side
        if triggered(direction, last, trig):
            if name == "sl":
                word = "less" if side < 0 else "greater"
                raise SimError(
                    51280 if side < 0 else 51279, f"SL trigger price must be {word} than the last price.", 200
                )
            if name == "tp":
                word = "greater" if side < 0 else "less"
                raise SimError(
                    51278 if side < 0 else 51277, f"TP trigger price must be {word} than the last price.", 200
                )
        a = AlgoOrder(
            algo_id=core.new_id(),
            client_algo_id=cl,
            account=req.account,
            spec=spec,
            side=side,
            order_type=kind,
            qty=lots,
            price=opx,
            trigger=trig,
            working_type="CONTRACT_PRICE",
            reduce_only=req.get("reduceOnly") in (True, "true"),
            close_position=False,
            tif="GTC",
            time=req.now,
            trigger_dir=direction,
            is_market=opx == 0,
        )
        group.append(a)
    first = group[0]  # the group's algoId on the wire; each leg keeps its own id inside the core
    for a in group:
        core.algos[a.algo_id] = a
    req.svc.algo_groups[first.algo_id] = (core, group, req.get("tdMode"))
    req.svc.push_algo(first.algo_id)
    return [{"algoId": str(first.algo_id), "algoClOrdId": cl, "sCode": "0", "sMsg": ""}]


def algo_row(svc: Any, algo_id: int, group: list[AlgoOrder], td: str) -> dict[str, Any]:
    a = group[0]
    spec, ct = a.spec, svc.ct_val(a.spec)
    states = {
        "NEW": "live",
        "TRIGGERED": "effective",
        "FINISHED": "effective",
        "CANCELED": "canceled",
        "EXPIRED": "canceled",
        "REJECTED": "order_failed",
    }
    st = (
        "live"
        if all(g.status == "NEW" for g in group)
        else next(
            (states[g.status] for g in group if g.status != "NEW" and g.status != "CANCELED"), "canceled"
        )
    )
    row: dict[str, Any] = {
        "instType": spec.market,
        "instId": spec.symbol,
        "algoId": str(algo_id),
        "algoClOrdId": a.client_algo_id,
        "ordType": a.order_type,
        "side": "buy" if a.side > 0 else "sell",
        "posSide": "net",
        "tdMode": td,
        "sz": rules.contracts(spec, ct, a.qty),
        "state": st,
        "cTime": str(a.time),
        "ordId": next((str(g.actual_order_id) for g in group if g.actual_order_id), ""),
        "tpTriggerPx": "",
        "tpOrdPx": "",
        "slTriggerPx": "",
        "slOrdPx": "",
        "triggerPx": "",
        "orderPx": "",
    }
    for g in group:
        opx = "-1" if g.is_market else rules.px(spec, g.price)
        if a.order_type == "trigger":
            row["triggerPx"], row["orderPx"] = rules.px(spec, g.trigger), opx
        else:
            tp = g.trigger_dir == -g.side
            name = "tp" if tp else "sl"
            row[f"{name}TriggerPx"], row[f"{name}OrdPx"] = rules.px(spec, g.trigger), opx
    return row


def algos_pending(req: Req) -> list[dict[str, Any]]:
    kind = req.need("ordType")
    rows = []
    for aid, (_core, group, td) in sorted(req.svc.algo_groups.items(), reverse=True):
        g0 = group[0]
        if g0.account is req.account and g0.order_type == kind and all(g.status == "NEW" for g in group):
            rows.append(algo_row(req.svc, aid, group, td))
    return rows


def cancel_algos(req: Req) -> list[dict[str, Any]]:
    out = []
    for item in _items(req):
        try:
            aid = int(item.get("algoId", 0))
        except (TypeError, ValueError):
            aid = 0
        entry = req.svc.algo_groups.get(aid)
        if (
            entry is None
            or entry[1][0].account is not req.account
            or any(g.status != "NEW" for g in entry[1])
        ):
            out.append(
                {"algoId": str(item.get("algoId", "")), "sCode": "51603", "sMsg": "Order does not exist."}
            )
            continue
        core, group, _ = entry
        for g in group:
            g.status = "CANCELED"
            core.algos.pop(g.algo_id, None)
        req.svc.push_algo(aid)
        out.append({"algoId": str(aid), "sCode": "0", "sMsg": ""})
    return out


# ---------------------------------------------------------------- dead-man switch
def cancel_all_after(req: Req) -> list[dict[str, Any]]:
    """timeOut 0 disarms, 10..120 s arms (each call re-arms); when it runs out every open order of the
    account is cancelled."""
    try:
        t = int(req.need("timeOut"))
    except (TypeError, ValueError):
        raise param_error("timeOut") from None
    if t != 0 and not 10 <= t <= 120:
        raise param_error("timeOut", "0 or 10..120 seconds")
    uid = req.account.uid
    old = req.svc.dead_man.pop(uid, None)
    if old is not None:
        old.cancel()
    trigger = 0
    if t:
        trigger = req.now + t * 1000
        req.svc.dead_man[uid] = asyncio.get_running_loop().call_later(t, req.svc.dead_man_fire, req.account)
    return [{"triggerTime": str(trigger), "tag": "", "ts": str(req.now)}]
