"""OKX simulator room: OKX's rules for the kit — error tables (kit reason → sCode, sMsg), the order
class (ordType → the kit's flags), state words, contract conversion, the v5 JSON renderings of orders,
positions and instruments, and the `books` CRC32 checksum.

Touches nothing outside this simulator. Codes and messages from OKX's v5 error-code docs.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from oms.venues.sim.kit.errors import ErrorTable, SimError
from oms.venues.sim.kit.orders import Order as KitOrder
from oms.venues.sim.kit.spec import SymbolSpec

ZERO = Decimal(0)
ERRORS: ErrorTable = {
    "market_closed": (50001, "Service temporarily unavailable. Please try again later."),
    "duplicate_client_id": (51016, "Duplicated clOrdId"),
    "max_open_orders": (51004, "Order failed. The number of pending orders exceeds the limit."),
    "trigger_immediately": (51280, "SL trigger price must be less than the last price."),
    "post_only_would_take": (51000, "Parameter ordType error: a post_only order would take liquidity"),
    "insufficient_balance": (51008, "Order failed. Insufficient USDT balance in account."),
    "reduce_only_rejected": (51169, "Order failed because you don't have any positions to reduce."),
    "margin_insufficient": (51008, "Order failed. Insufficient USDT margin in account."),
    "order_not_found": (51603, "Order does not exist."),
    "order_not_open": (51603, "Order does not exist."),
    "amend_qty_invalid": (51000, "Parameter newSz error"),
    "modify_qty_too_small": (51503, "Order modification failed: newSz is below the filled size."),
    "modify_unchanged": (51000, "Parameter newSz error: nothing to amend"),
}
CANCEL_FAILED = (51400, "Order cancellation failed as the order has been filled, canceled or does not exist.")
AMEND_FAILED = (51503, "Order modification failed as the order has been filled, canceled or does not exist.")
ORDER_TYPES = {"market": "IOC", "limit": "GTC", "post_only": "GTC", "fok": "FOK", "ioc": "IOC"}
STATES = {
    "NEW": "live",
    "PARTIALLY_FILLED": "partially_filled",
    "FILLED": "filled",
    "CANCELED": "canceled",
    "EXPIRED": "canceled",
    "EXPIRED_IN_MATCH": "canceled",
}


def missing(name: str) -> SimError:
    return SimError(50014, f"Parameter {name} can not be empty.", 400)


def param_error(name: str, why: str = "") -> SimError:
    return SimError(51000, f"Parameter {name} error" + (f": {why}" if why else ""), 200)


@dataclass(eq=False)
class Order(KitOrder):
    """`type` is OKX's ordType (market / limit / post_only / fok / ioc); a fired algo arrives with the
    kit's MARKET / LIMIT and is spelt OKX's way."""

    td_mode: str = "cash"
    tgt_ccy: str = ""

    def __post_init__(self) -> None:
        if self.type in ("MARKET", "LIMIT"):
            self.type = self.type.lower()
            self.tif = ORDER_TYPES[self.type]
        self.limit = self.type != "market"
        self.post_only = self.type == "post_only"


def dec(v: Decimal, places: int) -> str:
    return f"{v:.{places}f}"


def plain(v: Decimal) -> str:
    s = f"{v.normalize():f}"
    return s


def px(spec: SymbolSpec, ticks: int) -> str:
    return dec(spec.tick * ticks, spec.price_precision)


def contracts(spec: SymbolSpec, ct_val: Decimal, lots: int) -> str:
    """A size on the wire: base units for SPOT, contracts (base / ctVal) for SWAP."""
    base = spec.step * lots
    return plain(base / ct_val) if ct_val else plain(base)


def state(o: KitOrder) -> str:
    return STATES[o.status]


def inst_type(spec: SymbolSpec) -> str:
    return spec.market


def order_row(o: KitOrder, ct_val: Decimal, default_leverage: int = 0) -> dict[str, Any]:
    """`default_leverage`: the SWAP core's, for a symbol whose leverage was never set."""
    spec = o.spec
    pos = o.account.positions.get(spec.symbol)
    lever = "" if spec.market == "SPOT" else str(pos.leverage if pos else default_leverage)
    done = o.lots(o.executed)
    avg = o.cum_quote / done if done else ZERO
    fee = sum((f.fee for f in o.fills), ZERO)
    last = o.fills[-1] if o.fills else None
    return {
        "instType": inst_type(spec),
        "instId": spec.symbol,
        "ordId": str(o.order_id),
        "clOrdId": o.client_id,
        "tag": "",
        "px": px(spec, o.price) if o.price else "",
        "sz": contracts(spec, ct_val, o.qty),
        "ordType": o.type,
        "side": "buy" if o.side > 0 else "sell",
        "posSide": "net",
        "tdMode": getattr(o, "td_mode", "cash"),
        "tgtCcy": getattr(o, "tgt_ccy", ""),
        "accFillSz": contracts(spec, ct_val, o.executed),
        "fillPx": px(spec, last.price) if last else "",
        "fillSz": contracts(spec, ct_val, last.lots) if last else "0",
        "fillTime": str(last.time) if last else "",
        "fillFee": ("-" + dec(last.fee, 8)) if last else "0",
        "fillFeeCcy": last.fee_asset if last else "",
        "tradeId": str(last.trade_id) if last else "",
        "execType": ("M" if last.maker else "T") if last else "",
        "avgPx": plain(avg) if done else "",
        "state": state(o),
        "lever": lever,
        "fee": "-" + dec(fee, 8) if fee else "0",
        "feeCcy": (o.fills[0].fee_asset if o.fills else spec.quote),
        "pnl": dec(o.realized_pnl, 8),
        "reduceOnly": "true" if o.reduce_only else "false",
        "algoId": str(o.algo_id) if o.algo_id else "",
        "cancelSource": "",
        "uTime": str(o.update_time or o.time),
        "cTime": str(o.time),
    }


def instrument_row(spec: SymbolSpec, status: str, ct_val: Decimal, max_leverage: int) -> dict[str, Any]:
    swap = spec.market == "SWAP"
    lot = spec.step / ct_val if swap else spec.step
    return {
        "instType": spec.market,
        "instId": spec.symbol,
        "uly": "BTC-USDT" if swap else "",
        "instFamily": "BTC-USDT" if swap else "",
        "baseCcy": "" if swap else spec.base,
        "quoteCcy": "" if swap else spec.quote,
        "settleCcy": spec.quote if swap else "",
        "ctVal": plain(ct_val) if swap else "",
        "ctMult": "1" if swap else "",
        "ctValCcy": spec.base if swap else "",
        "ctType": "linear" if swap else "",
        "tickSz": plain(spec.tick),
        "lotSz": plain(lot),
        "minSz": plain(spec.min_qty / ct_val if swap else spec.min_qty),
        "maxLmtSz": plain(spec.max_qty / ct_val if swap else spec.max_qty),
        "maxMktSz": plain(spec.max_qty / ct_val if swap else spec.max_qty),
        "lever": str(max_leverage) if swap else "",
        "listTime": "1611916800000",
        "expTime": "",
        "state": "live" if status == "TRADING" else "suspend",
        "alias": "",
        "optType": "",
        "stk": "",
        "category": "1",
    }


def checksum(bids: list[list[str]], asks: list[list[str]]) -> int:
    """OKX `books` checksum: up to 25 levels interleaved `bidPx:bidSz:askPx:askSz:...` with the strings as
    sent; CRC32 as a signed 32-bit integer."""
    parts: list[str] = []
    for i in range(25):
        if i < len(bids):
            parts += [bids[i][0], bids[i][1]]
        if i < len(asks):
            parts += [asks[i][0], asks[i][1]]
    v = zlib.crc32(":".join(parts).encode())
    return v - (1 << 32) if v >= 1 << 31 else v
