"""CLI room, gateway group: `oms order submit|cancel|modify|list|get` through the gateway (oms.client).

Touches only the gRPC connection. Connection flags: --target, --token (OMS_TOKEN), --ca.
"""

from __future__ import annotations

import argparse
import json

from google.protobuf.json_format import MessageToDict

from oms.client import TIFS, TYPES, add_connection_args, client_from_args
from oms.shm.records import KIND_NAMES


def _dump(msg: object) -> str:
    return json.dumps(MessageToDict(msg, preserving_proto_field_name=True))  # type: ignore[arg-type]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("order", help="submit, cancel, modify and list orders through the gateway")
    s = p.add_subparsers(dest="order_cmd", metavar="ACTION", required=True)
    sb = s.add_parser("submit", help="submit one order; prints the engine's ack")
    add_connection_args(sb)
    sb.add_argument("--account", type=int, required=True)
    sb.add_argument("--venue", required=True)
    sb.add_argument("--market", default="")
    sb.add_argument("--symbol", required=True, help="BTC/USDT or BTCUSDT")
    sb.add_argument("--side", required=True, choices=("buy", "sell"))
    sb.add_argument("--qty", required=True, help="decimal quantity")
    sb.add_argument("--price", default="", help="decimal price (limit orders)")
    sb.add_argument("--type", default="limit", choices=sorted(TYPES))
    sb.add_argument("--tif", default="", choices=["", *sorted(TIFS)])
    sb.add_argument("--trigger", default="", help="trigger price (stop / take-profit)")
    sb.add_argument("--reduce-only", action="store_true")
    sb.add_argument("--post-only", action="store_true")
    sb.add_argument("--client-order-id", type=int, default=0)
    sb.add_argument(
        "--trailing-offset", default="", help="trailing distance in price units (trailing_stop_market)"
    )
    ct = sb.add_argument_group(
        "contingent orders",
        "--stop-loss/--take-profit make the order a bracket entry: exits on the other side, held by the "
        "engine until the entry ends, then sized to what it filled. --oco-* adds a second leg (same side and "
        "quantity): whichever fills or triggers first cancels the other.",
    )
    ct.add_argument("--stop-loss", default="", metavar="TRIGGER", help="bracket: stop-market exit at TRIGGER")
    ct.add_argument("--stop-limit", default="", metavar="PRICE", help="bracket: make the stop a stop-limit")
    ct.add_argument("--take-profit", default="", metavar="PRICE", help="bracket: limit exit at PRICE")
    ct.add_argument("--oco-type", default="", choices=["", *sorted(TYPES)], help="OCO: the second leg's type")
    ct.add_argument("--oco-price", default="", help="OCO: the second leg's price")
    ct.add_argument("--oco-trigger", default="", help="OCO: the second leg's trigger price")
    sb.set_defaults(func=_submit)
    c = s.add_parser("cancel", help="cancel by client order id")
    add_connection_args(c)
    c.add_argument("--account", type=int, required=True)
    c.add_argument("client_order_id", type=int)
    c.set_defaults(func=_cancel)
    m = s.add_parser("modify", help="change price and/or quantity")
    add_connection_args(m)
    m.add_argument("--account", type=int, required=True)
    m.add_argument("--venue", required=True)
    m.add_argument("--symbol", required=True)
    m.add_argument("--price", default="")
    m.add_argument("--qty", default="")
    m.add_argument("client_order_id", type=int)
    m.set_defaults(func=_modify)
    ls = s.add_parser("list", help="orders in the gateway's view (newest first)")
    add_connection_args(ls)
    ls.add_argument("--account", type=int, required=True)
    ls.add_argument("--venue", default="")
    ls.add_argument("--symbol", default="")
    ls.add_argument("--open", action="store_true", help="open orders only")
    ls.add_argument("--limit", type=int, default=100)
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=_list)


def _contingent(a: argparse.Namespace, c: object) -> object | None:
    """An OCO or bracket request from the submit flags; None for a plain order."""
    from oms.client import order_request

    if not (a.stop_loss or a.take_profit or a.oco_type or a.oco_price or a.oco_trigger):
        return None
    if (a.stop_loss or a.take_profit) and (a.oco_type or a.oco_price or a.oco_trigger):
        raise SystemExit(
            "oms order submit: give bracket flags (--stop-loss/--take-profit) or --oco-*, not both"
        )
    first = order_request(
        a.account, a.venue, a.symbol, a.side, a.qty, price=a.price, order_type=a.type, tif=a.tif,
        market=a.market, trigger_price=a.trigger, reduce_only=a.reduce_only, post_only=a.post_only,
        client_order_id=a.client_order_id, trailing_offset=a.trailing_offset,
    )  # fmt: skip
    if a.oco_type or a.oco_price or a.oco_trigger:
        typ = a.oco_type or ("stop_market" if a.oco_trigger and not a.oco_price else "limit")
        second = order_request(
            a.account, a.venue, a.symbol, a.side, a.qty, price=a.oco_price, order_type=typ,
            market=a.market, trigger_price=a.oco_trigger, reduce_only=a.reduce_only,
        )  # fmt: skip
        return c.submit_oco(first, second)  # type: ignore[attr-defined]
    other = "sell" if a.side == "buy" else "buy"
    stop = take = None
    if a.stop_loss:
        kind = "stop_limit" if a.stop_limit else "stop_market"
        stop = order_request(
            a.account, a.venue, a.symbol, other, "", order_type=kind,
            price=a.stop_limit, trigger_price=a.stop_loss, market=a.market,
        )  # fmt: skip
    if a.take_profit:
        take = order_request(a.account, a.venue, a.symbol, other, "", price=a.take_profit, market=a.market)
    return c.submit_bracket(first, stop, take)  # type: ignore[attr-defined]


def _submit(a: argparse.Namespace) -> int:
    with client_from_args(a) as c:
        linked = _contingent(a, c)
        if linked is not None:
            print(_dump(linked))
            bad = any(x.kind == 22 or x.error for x in linked.acks)  # type: ignore[attr-defined]
            return 1 if bad else 0
        ack = c.submit(
            account=a.account,
            venue=a.venue,
            market=a.market,
            symbol=a.symbol,
            side=a.side,
            quantity=a.qty,
            price=a.price,
            order_type=a.type,
            tif=a.tif,
            trigger_price=a.trigger,
            reduce_only=a.reduce_only,
            post_only=a.post_only,
            client_order_id=a.client_order_id,
            trailing_offset=a.trailing_offset,
        )
    print(_dump(ack))
    return 0 if ack.kind != 22 else 1  # ORDER_REJECTED -> exit 1


def _cancel(a: argparse.Namespace) -> int:
    with client_from_args(a) as c:
        ack = c.cancel(a.account, a.client_order_id)
    print(_dump(ack))
    return 0 if ack.kind == 24 else 1


def _modify(a: argparse.Namespace) -> int:
    with client_from_args(a) as c:
        ack = c.modify(a.account, a.client_order_id, a.venue, a.symbol, a.price, a.qty)
    print(_dump(ack))
    return 0 if ack.kind == 25 else 1


def _list(a: argparse.Namespace) -> int:
    with client_from_args(a) as c:
        orders = c.list_orders(a.account, venue=a.venue, symbol=a.symbol, open_only=a.open, limit=a.limit)
    if a.json:
        print(json.dumps([MessageToDict(o, preserving_proto_field_name=True) for o in orders]))
        return 0
    print(
        f"{'client_order_id':>20} {'venue':8} {'symbol':14} {'side':4} {'price':>12} {'qty':>12} "
        f"{'filled':>12} {'last event':24} open"
    )
    for o in orders:
        print(
            f"{o.client_order_id:>20} {o.venue:8} {o.symbol:14} {'buy' if o.side == 1 else 'sell':4} "
            f"{o.price:>12} {o.quantity:>12} {o.cum_quantity:>12} "
            f"{KIND_NAMES.get(o.last_event, str(o.last_event)):24} "
            f"{'yes' if o.open else 'no'}"
        )
    return 0
