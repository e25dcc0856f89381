"""OKX simulator room: account endpoints — balance (one unified view of the spot holdings and the
swap wallet), SWAP positions in contracts, set / get leverage.

Touches nothing outside this simulator.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from oms.venues.sim.kit.accounts import Account
from oms.venues.sim.kit.errors import SimError
from oms.venues.sim.kit.matching import MarketCore
from oms.venues.sim.kit.spec import SymbolSpec
from oms.venues.sim.okx import rules
from oms.venues.sim.okx.rest import Req, last_ticks
from oms.venues.sim.okx.rules import param_error

ZERO = Decimal(0)


# ---------------------------------------------------------------- account
def balance(req: Req) -> list[dict[str, Any]]:
    a = req.account
    swap = req.cores["SWAP"]
    upnl = a.upnl(swap.mark)
    w0 = req.svc.cfg.swap_wallet
    rows = []
    total = ZERO
    for c in sorted(set(a.spot) | set(a.wallet)):
        if req.get("ccy") and c not in str(req.get("ccy")).split(","):
            continue
        free, locked = a.spot.get(c, [ZERO, ZERO])
        cash = free + locked + a.wallet.get(c, ZERO) - w0.get(c, ZERO)
        pnl = upnl if c == "USDT" else ZERO
        eq = cash + pnl
        if c == "USDT":
            total += eq
        rows.append(
            {
                "ccy": c,
                "eq": rules.dec(eq, 8),
                "cashBal": rules.dec(cash, 8),
                "availBal": rules.dec(free, 8),
                "frozenBal": rules.dec(locked, 8),
                "ordFrozen": rules.dec(locked, 8),
                "upl": rules.dec(pnl, 8),
                "eqUsd": rules.dec(eq, 8) if c == "USDT" else "",
                "uTime": str(req.now),
            }
        )
    return [
        {
            "totalEq": rules.dec(total, 8),
            "isoEq": "0",
            "adjEq": rules.dec(total, 8),
            "imr": rules.dec(a.margin_used(swap.mark), 8),
            "uTime": str(req.now),
            "details": rows,
        }
    ]


def position_row(svc: Any, core: MarketCore, spec: SymbolSpec, a: Account, now: int) -> dict[str, Any]:
    p = a.position(spec.symbol, core.default_leverage)
    ct = svc.ct_val(spec)
    mark = core.mark[spec.symbol]
    return {
        "instType": "SWAP",
        "instId": spec.symbol,
        "mgnMode": svc.margin_mode.get((a.uid, spec.symbol), "cross"),
        "posId": f"{a.uid}{spec.symbol.replace('-', '')}",
        "posSide": "net",
        "pos": rules.plain(p.amt / ct) if p.amt else "0",
        "posCcy": "",
        "availPos": "",
        "avgPx": rules.plain(p.entry) if p.amt else "",
        "upl": rules.dec(p.upnl(mark), 8),
        "lever": str(p.leverage),
        "markPx": rules.plain(mark),
        "last": rules.px(spec, last_ticks(core, spec)),
        "notionalUsd": rules.dec(abs(p.amt) * mark, 8),
        "imr": rules.dec(abs(p.amt) * mark / p.leverage, 8),
        "ccy": spec.quote,
        "liqPx": "",
        "cTime": str(p.update_time or now),
        "uTime": str(p.update_time or now),
    }


def positions(req: Req) -> list[dict[str, Any]]:
    if req.get("instType") not in (None, "SWAP"):
        raise param_error("instType", "positions are served for SWAP")
    core = req.cores["SWAP"]
    if req.get("instId"):
        _, spec = req.inst()
        specs = [spec]
    else:
        specs = [s for s in core.specs.values() if req.account.position(s.symbol, core.default_leverage).amt]
    return [position_row(req.svc, core, s, req.account, req.now) for s in specs]


def _lever_target(req: Req) -> tuple[MarketCore, SymbolSpec, str]:
    core, spec = req.inst()
    if core.market != "SWAP":
        raise SimError(51000, "Parameter instId error: leverage is set on SWAP instruments here", 200)
    mode = req.need("mgnMode")
    if mode not in ("cross", "isolated"):
        raise param_error("mgnMode")
    return core, spec, str(mode)


def set_leverage(req: Req) -> list[dict[str, Any]]:
    core, spec, mode = _lever_target(req)
    lever = req.dec("lever")
    if lever is None or lever != lever.to_integral_value() or not 1 <= lever <= req.svc.cfg.max_leverage:
        raise SimError(51000, f"Parameter lever error: 1..{req.svc.cfg.max_leverage}", 200)
    req.account.position(spec.symbol, core.default_leverage).leverage = int(lever)
    req.svc.margin_mode[(req.account.uid, spec.symbol)] = mode
    return [{"lever": str(int(lever)), "mgnMode": mode, "instId": spec.symbol, "posSide": ""}]


def get_leverage(req: Req) -> list[dict[str, Any]]:
    core, spec, mode = _lever_target(req)
    p = req.account.position(spec.symbol, core.default_leverage)
    return [{"instId": spec.symbol, "mgnMode": mode, "posSide": "net", "lever": str(p.leverage)}]


def config(req: Req) -> list[dict[str, Any]]:
    """The account's configuration as OKX reports it: single-currency margin, net (one-way) mode."""
    return [
        {
            "uid": str(req.account.uid),
            "mainUid": str(req.account.uid),
            "acctLv": "2",
            "posMode": "net_mode",
            "autoLoan": False,
            "greeksType": "PA",
            "level": "Lv1",
            "levelTmp": "",
            "ctIsoMode": "automatic",
            "mgnIsoMode": "automatic",
            "label": "",
            "perm": "read_only,trade",
        }
    ]
