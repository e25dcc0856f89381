"""Binance simulator room: USD-M account handlers (leverage and brackets, margin type, position mode,
account v2/v3, account and symbol config, balance, positionRisk v2/v3, income history, commission,
listen keys) for the endpoint table in rest_futures.py. Shapes follow Binance's USD-M docs.

Touches nothing outside this simulator.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from oms.venues.sim.binance.core import SimError
from oms.venues.sim.binance.orders import fmt
from oms.venues.sim.binance.rest_common import Req, history_params

ZERO = Decimal(0)
MAINT_RATE = Decimal("0.004")  # maintenance margin rate of the first leverage bracket


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
    if lev < 1 or lev > req.svc.cfg.max_leverage:
        raise SimError(-4028, f"Leverage {lev} is not valid")
    req.account.position(spec.symbol, req.core.default_leverage)
    for p in req.account.legs(spec.symbol):
        p.leverage = lev
    # as Binance: the user data stream tells the account's listeners (ACCOUNT_CONFIG_UPDATE, "ac")
    req.core.events.user_out(  # type: ignore[attr-defined]  # BinanceEvents.user_out: the user stream
        req.account,
        {"e": "ACCOUNT_CONFIG_UPDATE", "E": req.now, "T": req.now, "ac": {"s": spec.symbol, "l": lev}},
    )
    return {"leverage": lev, "maxNotionalValue": str(int(1_000_000_000 / lev)), "symbol": spec.symbol}


def margin_type(req: Req) -> dict[str, Any]:
    spec = req.symbol()
    mt = req.need("marginType").upper()
    if mt not in ("ISOLATED", "CROSSED"):
        raise SimError(-4000, "Invalid marginType.")
    p = req.account.position(spec.symbol, req.core.default_leverage)
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
    """positionRisk rows: v2 one per symbol (and leg), v3 only those with a position or open orders."""
    a, core = req.account, req.core
    out = []
    sides = ("LONG", "SHORT") if a.dual_side else ("BOTH",)
    only = req.symbol().symbol if req.get("symbol") else None
    for sym, spec in core.specs.items():
        if only is not None and sym != only:
            continue
        for side in sides:
            p = a.position(sym, core.default_leverage, side)
            has_open = bool(core.open_orders(a, sym))
            if v3 and not p.amt and not has_open:
                continue
            mark = core.mark[sym]
            row: dict[str, Any] = {
                "symbol": sym,
                "positionSide": side,
                "positionAmt": fmt("usdm", p.amt, spec.qty_precision),
                "entryPrice": f"{p.entry:.8f}",
                "breakEvenPrice": f"{p.entry:.8f}",
                "markPrice": f"{mark:.8f}",
                "unRealizedProfit": f"{p.upnl(mark):.8f}",
                "liquidationPrice": "0",
                "isolatedMargin": "0.00000000",
                "notional": f"{p.amt * mark:.8f}",
                "isolatedWallet": "0",
                "updateTime": p.update_time,
            }
            if not v3:
                row.update(
                    {
                        "marginType": p.margin_type,
                        "isAutoAddMargin": "false",
                        "leverage": str(p.leverage),
                        "maxNotionalValue": str(int(1_000_000_000 / p.leverage)),
                    }
                )
            else:
                im = abs(p.amt) * mark / p.leverage
                bid = sum(
                    (
                        o.spec.tick * o.price * o.spec.step * o.leaves
                        for o in core.open_orders(a, sym)
                        if o.side > 0
                    ),
                    ZERO,
                )
                ask = sum(
                    (
                        o.spec.tick * o.price * o.spec.step * o.leaves
                        for o in core.open_orders(a, sym)
                        if o.side < 0
                    ),
                    ZERO,
                )
                row.update(
                    {
                        "marginAsset": spec.quote,
                        "initialMargin": f"{im:.8f}",
                        "maintMargin": f"{abs(p.amt) * mark * MAINT_RATE:.8f}",
                        "positionInitialMargin": f"{im:.8f}",
                        "openOrderInitialMargin": f"{(bid + ask) / p.leverage:.8f}",
                        "adl": 0,
                        "bidNotional": f"{bid:.8f}",
                        "askNotional": f"{ask:.8f}",
                    }
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


def account_v3(req: Req) -> dict[str, Any]:
    """GET /fapi/v3/account: totals, assets, and positions only where there is a position or open orders."""
    assets, t = _asset_rows(req)
    avail = t["wallet"] + t["upnl"] - t["used"]
    positions = [
        {
            "symbol": r["symbol"],
            "positionSide": r["positionSide"],
            "positionAmt": r["positionAmt"],
            "unrealizedProfit": r["unRealizedProfit"],
            "isolatedMargin": r["isolatedMargin"],
            "notional": r["notional"],
            "isolatedWallet": r["isolatedWallet"],
            "initialMargin": r["initialMargin"],
            "maintMargin": r["maintMargin"],
            "updateTime": r["updateTime"],
        }
        for r in _pos_rows(req, True)
    ]
    return {
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
        "assets": [{k: v for k, v in a.items() if k != "marginAvailable"} for a in assets],
        "positions": positions,
    }


# (initial leverage, notional floor, notional cap, maintenance margin rate): one table for every symbol
BRACKETS = [
    (125, 0, 50_000, "0.004"),
    (100, 50_000, 600_000, "0.005"),
    (75, 600_000, 3_000_000, "0.0065"),
    (50, 3_000_000, 12_000_000, "0.01"),
    (25, 12_000_000, 70_000_000, "0.02"),
    (20, 70_000_000, 100_000_000, "0.025"),
    (10, 100_000_000, 230_000_000, "0.05"),
    (5, 230_000_000, 480_000_000, "0.1"),
    (4, 480_000_000, 600_000_000, "0.125"),
    (3, 600_000_000, 800_000_000, "0.15"),
    (2, 800_000_000, 1_200_000_000, "0.25"),
    (1, 1_200_000_000, 1_800_000_000, "0.5"),
]


def _brackets() -> list[dict[str, Any]]:
    out, cum, prev = [], Decimal(0), Decimal(0)
    for i, (lev, floor, cap, mmr) in enumerate(BRACKETS, 1):
        rate = Decimal(mmr)
        cum += floor * (rate - prev)  # maintenance amount: continuous across brackets
        prev = rate
        out.append(
            {
                "bracket": i,
                "initialLeverage": lev,
                "notionalCap": cap,
                "notionalFloor": floor,
                "maintMarginRatio": float(rate),
                "cum": float(cum),
            }
        )
    return out


def leverage_bracket(req: Req) -> Any:
    """GET /fapi/v1/leverageBracket: a list for every symbol, one object when `symbol` is sent."""
    if req.get("symbol"):
        return {"symbol": req.symbol().symbol, "notionalCoef": 1.0, "brackets": _brackets()}
    return [{"symbol": s, "notionalCoef": 1.0, "brackets": _brackets()} for s in req.core.specs]


INCOME_TYPES = (
    "TRANSFER",
    "WELCOME_BONUS",
    "REALIZED_PNL",
    "FUNDING_FEE",
    "COMMISSION",
    "INSURANCE_CLEAR",
    "REFERRAL_KICKBACK",
    "COMMISSION_REBATE",
    "API_REBATE",
    "CONTEST_REWARD",
    "CROSS_COLLATERAL_TRANSFER",
    "OPTIONS_PREMIUM_FEE",
    "OPTIONS_SETTLE_PROFIT",
    "INTERNAL_TRANSFER",
    "AUTO_EXCHANGE",
    "DELIVERED_SETTELMENT",
    "COIN_SWAP_DEPOSIT",
    "COIN_SWAP_WITHDRAW",
    "POSITION_LIMIT_INCREASE_FEE",
    "STRATEGY_UMFUTURES_TRANSFER",
    "FEE_RETURN",
    "BFUSD_REWARD",
)


def income(req: Req) -> list[dict[str, Any]]:
    """GET /fapi/v1/income: the account's ledger (realized PnL, commissions) by symbol, incomeType, time
    range (default the last 7 days), `page` and `limit` (default 100, at most 1000), oldest first."""
    sym = req.symbol().symbol if req.get("symbol") else None
    kind = req.get("incomeType")
    if kind is not None and kind not in INCOME_TYPES:
        raise SimError(-1100, "Illegal characters found in parameter 'incomeType'.")
    h = history_params(
        req,
        max_span_ms=200 * 86_400_000,
        id_name="fromId",
        default_limit=100,
        default_window_ms=7 * 86_400_000,
    )
    page_no = req.int_param("page", 1) or 1
    if page_no < 1:
        raise SimError(-1100, "Illegal characters found in parameter 'page'; legal range is '1..'.")
    rows = [
        e
        for e in req.account.ledger
        if (sym is None or e.symbol == sym) and (kind is None or e.kind == kind) and h.within(e.time)
    ]
    if h.start_time is not None or req.get("page") is not None:
        rows = rows[(page_no - 1) * h.limit : page_no * h.limit]
    else:
        rows = rows[-h.limit :]
    return [
        {
            "symbol": e.symbol,
            "incomeType": e.kind,
            "income": f"{e.amount:.8f}",
            "asset": e.asset,
            "info": e.kind if e.kind == "TRANSFER" else "",
            "time": e.time,
            "tranId": e.tran_id,
            "tradeId": str(e.trade_id) if e.trade_id else "",
        }
        for e in rows
    ]


def account_config(req: Req) -> dict[str, Any]:
    return {
        "feeTier": 0,
        "canTrade": True,
        "canDeposit": True,
        "canWithdraw": True,
        "dualSidePosition": req.account.dual_side,
        "updateTime": 0,
        "multiAssetsMargin": False,
        "tradeGroupId": -1,
    }


def symbol_config(req: Req) -> list[dict[str, Any]]:
    only = req.symbol().symbol if req.get("symbol") else None
    out = []
    for sym in req.core.specs:
        if only is not None and sym != only:
            continue
        p = req.account.position(sym, req.core.default_leverage)
        out.append(
            {
                "symbol": sym,
                "marginType": "ISOLATED" if p.margin_type == "isolated" else "CROSSED",
                "isAutoAddMargin": "false",
                "leverage": p.leverage,
                "maxNotionalValue": str(int(1_000_000_000 / p.leverage)),
            }
        )
    return out


def multi_assets_get(req: Req) -> dict[str, Any]:
    return {"multiAssetsMargin": False}
