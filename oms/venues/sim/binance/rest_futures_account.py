"""Binance simulator room: USD-M account handlers (leverage, margin type, position mode, account,
balance, positionRisk, commission, listen keys) for the endpoint table in rest_futures.py.

Touches nothing outside this simulator.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from oms.venues.sim.binance.core import SimError
from oms.venues.sim.binance.orders import fmt
from oms.venues.sim.binance.rest_common import Req

ZERO = Decimal(0)


def bool_param(req_params: dict[str, str], name: str) -> bool:
    v = req_params.get(name, "false").lower()
    if v not in ("true", "false"):
        raise SimError(
            -1100, f"Illegal characters found in parameter '{name}'; legal range is 'true, false'."
        )
    return v == "true"


def leverage(req: Req) -> dict[str, Any]:
    spec = req.symbol()
    lev = req.int_param("leverage")
    if lev is None:
        raise SimError(-1102, "Mandatory parameter 'leverage' was not sent, was empty/null, or malformed.")
    if lev < 1 or lev > req.core.cfg.max_leverage:
        raise SimError(-4028, f"Leverage {lev} is not valid")
    req.account.position(spec.symbol, req.core.cfg.default_leverage)
    for p in req.account.legs(spec.symbol):
        p.leverage = lev
    # as Binance: the user data stream tells the account's listeners (ACCOUNT_CONFIG_UPDATE, "ac")
    req.core.user_sink(
        req.account,
        {"e": "ACCOUNT_CONFIG_UPDATE", "E": req.now, "T": req.now, "ac": {"s": spec.symbol, "l": lev}},
    )
    return {"leverage": lev, "maxNotionalValue": str(int(1_000_000_000 / lev)), "symbol": spec.symbol}


def margin_type(req: Req) -> dict[str, Any]:
    spec = req.symbol()
    mt = req.need("marginType").upper()
    if mt not in ("ISOLATED", "CROSSED"):
        raise SimError(-4000, "Invalid marginType.")
    p = req.account.position(spec.symbol, req.core.cfg.default_leverage)
    new = "isolated" if mt == "ISOLATED" else "cross"
    if p.margin_type == new:
        raise SimError(-4046, "No need to change margin type.")
    if any(leg.amt for leg in req.account.legs(spec.symbol)):
        raise SimError(-4048, "Margin type cannot be changed if there exists position.")
    if req.core.open_orders(req.account, spec.symbol):
        raise SimError(-4047, "Margin type cannot be changed if there exists open orders.")
    for leg in req.account.legs(spec.symbol):
        leg.margin_type = new
    return {"code": 200, "msg": "success"}


def dual_get(req: Req) -> dict[str, Any]:
    return {"dualSidePosition": req.account.dual_side}


def dual_set(req: Req) -> dict[str, Any]:
    want = bool_param(req.params, "dualSidePosition")
    if want == req.account.dual_side:
        raise SimError(-4059, "No need to change position side.")
    if any(p.amt for p in req.account.positions.values()):
        raise SimError(-4068, "Position side cannot be changed if there exists position.")
    if req.core.open_orders(req.account):
        raise SimError(-4067, "Position side cannot be changed if there exists open orders.")
    req.account.dual_side = want
    return {"code": 200, "msg": "success"}


def _asset_rows(req: Req) -> tuple[list[dict[str, Any]], dict[str, Decimal]]:
    a, core = req.account, req.core
    upnl = a.upnl(core.mark)
    used = a.margin_used(core.mark)
    rows = []
    totals = {"wallet": ZERO, "upnl": upnl, "used": used}
    for asset, wb in sorted(a.wallet.items()):
        avail = wb + upnl - used if asset == "USDT" else wb
        totals["wallet"] += wb
        rows.append(
            {
                "asset": asset,
                "walletBalance": f"{wb:.8f}",
                "unrealizedProfit": f"{upnl:.8f}",
                "marginBalance": f"{wb + upnl:.8f}",
                "maintMargin": f"{used * Decimal('0.05'):.8f}",
                "initialMargin": f"{used:.8f}",
                "positionInitialMargin": f"{used:.8f}",
                "openOrderInitialMargin": "0.00000000",
                "crossWalletBalance": f"{wb:.8f}",
                "crossUnPnl": f"{upnl:.8f}",
                "availableBalance": f"{avail:.8f}",
                "maxWithdrawAmount": f"{avail:.8f}",
                "marginAvailable": True,
                "updateTime": req.now,
            }
        )
    return rows, totals


def _pos_rows(req: Req, v3: bool) -> list[dict[str, Any]]:
    a, core = req.account, req.core
    out = []
    sides = ("LONG", "SHORT") if a.dual_side else ("BOTH",)
    only = req.get("symbol")  # as Binance: the one symbol when given, else every symbol
    if only:
        req.symbol()  # an unknown symbol is -1121, as the venue answers
    for sym, spec in core.specs.items():
        if only and sym != only:
            continue
        for side in sides:
            p = a.position(sym, core.cfg.default_leverage, side)
            has_open = bool(core.open_orders(a, sym))
            if v3 and not p.amt and not has_open:
                continue
            mark = core.mark[sym]
            row = {
                "symbol": sym,
                "positionAmt": fmt("usdm", p.amt, spec.qty_precision),
                "entryPrice": f"{p.entry:.8f}",
                "breakEvenPrice": f"{p.entry:.8f}",
                "markPrice": f"{mark:.8f}",
                "unRealizedProfit": f"{p.upnl(mark):.8f}",
                "liquidationPrice": "0",
                "marginType": p.margin_type,
                "isolatedMargin": "0.00000000",
                "isAutoAddMargin": "false",
                "positionSide": side,
                "notional": f"{p.amt * mark:.8f}",
                "isolatedWallet": "0",
                "updateTime": p.update_time,
            }
            if not v3:
                row.update(
                    {"leverage": str(p.leverage), "maxNotionalValue": str(int(1_000_000_000 / p.leverage))}
                )
            else:
                row.update(
                    {"initialMargin": f"{abs(p.amt) * mark / p.leverage:.8f}", "marginAsset": spec.quote}
                )
            out.append(row)
    return out


def position_risk_v2(req: Req) -> list[dict[str, Any]]:
    return _pos_rows(req, False)


def position_risk_v3(req: Req) -> list[dict[str, Any]]:
    return _pos_rows(req, True)


def account_v2(req: Req) -> dict[str, Any]:
    assets, t = _asset_rows(req)
    avail = t["wallet"] + t["upnl"] - t["used"]
    positions = [
        {
            "symbol": r["symbol"],
            "initialMargin": "0",
            "maintMargin": "0",
            "unrealizedProfit": r["unRealizedProfit"],
            "positionInitialMargin": "0",
            "openOrderInitialMargin": "0",
            "leverage": r["leverage"],
            "isolated": r["marginType"] == "isolated",
            "entryPrice": r["entryPrice"],
            "maxNotional": r["maxNotionalValue"],
            "positionSide": r["positionSide"],
            "positionAmt": r["positionAmt"],
            "updateTime": r["updateTime"],
        }
        for r in _pos_rows(req, False)
    ]
    return {
        "feeTier": 0,
        "canTrade": True,
        "canDeposit": True,
        "canWithdraw": True,
        "feeBurn": False,
        "updateTime": 0,
        "multiAssetsMargin": False,
        "tradeGroupId": -1,
        "totalInitialMargin": f"{t['used']:.8f}",
        "totalMaintMargin": f"{t['used'] * Decimal('0.05'):.8f}",
        "totalWalletBalance": f"{t['wallet']:.8f}",
        "totalUnrealizedProfit": f"{t['upnl']:.8f}",
        "totalMarginBalance": f"{t['wallet'] + t['upnl']:.8f}",
        "totalPositionInitialMargin": f"{t['used']:.8f}",
        "totalOpenOrderInitialMargin": "0.00000000",
        "totalCrossWalletBalance": f"{t['wallet']:.8f}",
        "totalCrossUnPnl": f"{t['upnl']:.8f}",
        "availableBalance": f"{avail:.8f}",
        "maxWithdrawAmount": f"{avail:.8f}",
        "assets": assets,
        "positions": positions,
    }


def balance(req: Req) -> list[dict[str, Any]]:
    assets, _ = _asset_rows(req)
    return [
        {
            "accountAlias": "SgsR",
            "asset": r["asset"],
            "balance": r["walletBalance"],
            "crossWalletBalance": r["crossWalletBalance"],
            "crossUnPnl": r["crossUnPnl"],
            "availableBalance": r["availableBalance"],
            "maxWithdrawAmount": r["maxWithdrawAmount"],
            "marginAvailable": True,
            "updateTime": req.now,
        }
        for r in assets
    ]


def commission_rate(req: Req) -> dict[str, Any]:
    spec = req.symbol()
    return {
        "symbol": spec.symbol,
        "makerCommissionRate": f"{req.core.maker_fee:f}",
        "takerCommissionRate": f"{req.core.taker_fee:f}",
        "rpiCommissionRate": "0",
    }


def listen_key_new(req: Req) -> dict[str, Any]:
    return {"listenKey": req.svc.listen_new(req.account, req.core.market)}


def listen_key_keep(req: Req) -> dict[str, Any]:
    key = req.get("listenKey") or req.svc.listen_for(req.account, req.core.market)
    req.svc.listen_keep(key)
    return {"listenKey": key}


def listen_key_close(req: Req) -> dict[str, Any]:
    key = req.get("listenKey") or req.svc.listen_for(req.account, req.core.market)
    req.svc.listen_close(key)
    return {}
