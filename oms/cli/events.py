"""CLI room, gateway group: `oms events [--follow]` — the gateway's order event stream (StreamEvents).

Touches only the gRPC connection. Without --follow it prints what arrives within --seconds and exits.
"""

from __future__ import annotations

import argparse
import json

from google.protobuf.json_format import MessageToDict

from oms.client import add_connection_args, client_from_args
from oms.shm.records import KIND_NAMES


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("events", help="order events from the gateway (filtered by account/venue/symbol)")
    add_connection_args(p)
    p.add_argument(
        "--account", type=int, action="append", default=[], help="repeatable; default: token scope"
    )
    p.add_argument("--venue", default="")
    p.add_argument("--symbol", default="")
    p.add_argument("--follow", "-f", action="store_true", help="keep streaming until interrupted")
    p.add_argument("--seconds", type=float, default=2.0, help="without --follow: listen this long")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    p.set_defaults(func=_run)


def _run(a: argparse.Namespace) -> int:
    with client_from_args(a) as c:
        for e in c.events(a.account, a.venue, a.symbol, timeout=None if a.follow else a.seconds):
            if a.json:
                print(json.dumps(MessageToDict(e, preserving_proto_field_name=True)), flush=True)
            else:
                print(
                    f"{KIND_NAMES.get(e.kind, e.kind):16} acct={e.account} {e.venue}:{e.symbol} "
                    f"coid={e.client_order_id} px={e.price} qty={e.quantity} cum={e.cum_quantity} "
                    f"leaves={e.leaves_quantity} reason={e.reason}",
                    flush=True,
                )
    return 0
