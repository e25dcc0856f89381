"""Binance simulator room: the kit core's events rendered as Binance's stream payloads — user data
(`executionReport`, `outboundAccountPosition`, `ORDER_TRADE_UPDATE`, `ACCOUNT_UPDATE`) and market data
(`bookTicker`, `aggTrade`) — handed to the WebSocket hub.

Touches nothing outside this simulator.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from oms.venues.sim.binance.orders import execution_report, fmt, order_trade_update
from oms.venues.sim.kit.accounts import Account
from oms.venues.sim.kit.matching import MarketCore
from oms.venues.sim.kit.orders import Fill, Order, Print

ZERO = Decimal(0)
MarketOut = Callable[[str, str, dict], None]  # (symbol, kind, payload)
UserOut = Callable[[Account, dict], None]


class BinanceEvents:
    """Implements the kit's `CoreEvents` for one Binance market."""

    def __init__(self, core: MarketCore, market_out: MarketOut, user_out: UserOut) -> None:
        self.core = core
        self.spot = core.market == "spot"
        self.market_out = market_out
        self.user_out = user_out

    def order(self, o: Order, exec_type: str, fill: Fill | None) -> None:
        now = self.core.clock()
        if self.spot:
            self.core.exec_id += 1
            self.user_out(o.account, execution_report(o, exec_type, now, fill, self.core.exec_id))
        else:
            self.user_out(o.account, order_trade_update(o, exec_type, now, fill))

    def balances(self, account: Account, assets: set[str], symbols: set[str], reason: str) -> None:
        now = self.core.clock()
        if self.spot:
            rows = [
                {
                    "a": a,
                    "f": fmt("spot", account.spot.get(a, [ZERO, ZERO])[0]),
                    "l": fmt("spot", account.spot.get(a, [ZERO, ZERO])[1]),
                }
                for a in sorted(assets)
            ]
            self.user_out(account, {"e": "outboundAccountPosition", "E": now, "u": now, "B": rows})
            return
        core = self.core
        bal = [
            {
                "a": a,
                "wb": fmt("usdm", account.wallet.get(a, ZERO), 8),
                "cw": fmt("usdm", account.wallet.get(a, ZERO), 8),
                "bc": "0",
            }
            for a in sorted(assets)
        ]
        pos = []
        sides = ("LONG", "SHORT") if account.dual_side else ("BOTH",)
        for s in sorted(symbols):
            for side in sides:
                p = account.position(s, core.default_leverage, side)
                sp = core.specs[s]
                pos.append(
                    {
                        "s": s,
                        "pa": fmt("usdm", p.amt, sp.qty_precision),
                        "ep": fmt("usdm", p.entry, 8),
                        "bep": fmt("usdm", p.entry, 8),
                        "cr": "0",
                        "up": fmt("usdm", p.upnl(core.mark[s]), 8),
                        "mt": p.margin_type,
                        "iw": "0",
                        "ps": p.side,
                    }
                )
        self.user_out(
            account, {"e": "ACCOUNT_UPDATE", "E": now, "T": now, "a": {"m": reason, "B": bal, "P": pos}}
        )

    def bbo(self, symbol: str, bid: tuple[int, int], ask: tuple[int, int], update_id: int) -> None:
        core = self.core
        spec = core.specs[symbol]
        payload: dict[str, Any] = {
            "u": update_id,
            "s": symbol,
            "b": core.fmt_px(spec, bid[0]),
            "B": core.fmt_qty(spec, bid[1]),
            "a": core.fmt_px(spec, ask[0]),
            "A": core.fmt_qty(spec, ask[1]),
        }
        if not self.spot:
            now = core.clock()
            payload = {"e": "bookTicker", **payload, "T": now, "E": now}
        self.market_out(symbol, "bookTicker", payload)

    def trade(self, symbol: str, p: Print) -> None:
        core = self.core
        spec = core.specs[symbol]
        agg: dict[str, Any] = {
            "e": "aggTrade",
            "E": p.time,
            "s": symbol,
            "a": p.trade_id,
            "p": core.fmt_px(spec, p.price),
            "q": core.fmt_qty(spec, p.lots),
            "f": p.trade_id,
            "l": p.trade_id,
            "T": p.time,
            "m": p.buyer_maker,
        }
        if self.spot:
            agg["M"] = True
        else:
            agg["nq"] = agg["q"]
        self.market_out(symbol, "aggTrade", agg)
