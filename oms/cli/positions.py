"""CLI room, gateway group: `oms positions` — positions (and balance changes) from the gateway.

Touches only the gRPC connection.
"""

from __future__ import annotations

import argparse
import json

from google.protobuf.json_format import MessageToDict

from oms.client import add_connection_args, client_from_args


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("positions", help="positions per instrument from fills seen by the gateway")
    add_connection_args(p)
    p.add_argument("--account", type=int, required=True)
    p.add_argument("--venue", default="")
    p.add_argument("--balances", action="store_true", help="also print balance changes per asset")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_run)


def _run(a: argparse.Namespace) -> int:
    with client_from_args(a) as c:
        pos = c.positions(a.account, a.venue)
        bal = c.balances(a.account, a.venue) if a.balances else []
    if a.json:
        print(
            json.dumps(
                {
                    "positions": [MessageToDict(p, preserving_proto_field_name=True) for p in pos],
                    "balances": [MessageToDict(b, preserving_proto_field_name=True) for b in bal],
                }
            )
        )
        return 0
    print(
        f"{'venue':8} {'market':6} {'symbol':16} {'qty':>14} {'avg price':>14} {'realized':>14} {'fees':>10}"
    )
    for p in pos:
        print(
            f"{p.venue:8} {p.market:6} {p.symbol:16} {p.quantity:>14} {p.avg_price:>14} "
            f"{p.realized_pnl:>14} {p.fees or '0':>10}"
        )
    for b in bal:
        print(f"balance change {b.venue}:{b.asset} {b.change}")
    return 0
