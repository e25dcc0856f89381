"""CLI room, gateway group: `oms futures leverage|margin-mode` — futures controls through the gateway's Admin
service (role risk or admin, TOTP). Prints the venue's settings read back after the change; a venue
refusal is printed by name (e.g. MARGIN_TYPE_CANNOT_BE_CHANGED_IF_THERE_EXISTS_POSITION) with exit 2.

Touches only the gRPC connection. Connection flags: --target, --token (OMS_TOKEN), --ca, --totp-secret.
"""

from __future__ import annotations

import argparse
import json

from google.protobuf.json_format import MessageToDict

from oms.client import MARGIN_MODES, add_connection_args, client_from_args


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("futures", help="set leverage and margin mode of a futures instrument at the venue")
    s = p.add_subparsers(dest="futures_command", metavar="ACTION", required=True)
    lev = s.add_parser("leverage", help="set the leverage (e.g. 7); prints what the venue then reports")
    mm = s.add_parser("margin-mode", help="set the margin mode: cross or isolated")
    for q in (lev, mm):
        add_connection_args(q)
        q.add_argument("--account", type=int, required=True)
        q.add_argument("--venue", required=True, help="e.g. binance")
        q.add_argument("--market", default="", help="e.g. usdm")
        q.add_argument("--symbol", required=True, help="e.g. BTCUSDT or BTC/USDT:USDT")
        q.add_argument("--reason", default="", help="free text, audited")
        q.add_argument("--json", action="store_true")
    lev.add_argument("leverage", type=int)
    lev.set_defaults(func=_leverage)
    mm.add_argument("mode", choices=sorted(MARGIN_MODES))
    mm.set_defaults(func=_margin_mode)


def _print(ack: object, as_json: bool) -> int:
    d = MessageToDict(ack, preserving_proto_field_name=True)  # type: ignore[arg-type]
    if as_json:
        print(json.dumps(d))
        return 0
    print(
        f"{d.get('venue', '')} {d.get('market', '')} {d.get('symbol', '')}: "
        f"leverage {d.get('leverage', 0)}x, "
        f"margin {d.get('margin_mode', '').removeprefix('MARGIN_MODE_').lower()}, position "
        f"{d.get('position', '0')}, margin {d.get('margin', '0')}, liquidation price "
        f"{d.get('liquidation_price') or 'none'}"
    )
    return 0


def _leverage(a: argparse.Namespace) -> int:
    with client_from_args(a) as c:
        ack = c.set_leverage(a.account, a.venue, a.symbol, a.leverage, market=a.market, reason=a.reason)
    return _print(ack, a.json)


def _margin_mode(a: argparse.Namespace) -> int:
    with client_from_args(a) as c:
        ack = c.set_margin_mode(a.account, a.venue, a.symbol, a.mode, market=a.market, reason=a.reason)
    return _print(ack, a.json)
