"""CLI room, gateway group: `oms tokens add|list|revoke|rotate` — the gateway's API tokens.

Touches only the token file (default from [gateway].tokens_file, i.e. var/gateway/tokens.json). The
token itself and, for admin tokens, the TOTP secret and its otpauth:// URI are printed once at creation.
"""

from __future__ import annotations

import argparse
import json
import time

import pyotp

from oms.api.tokens import ROLES, TokenStore

DEFAULT = "var/gateway/tokens.json"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("tokens", help="gateway API tokens (hashed at rest, scoped, rate limited)")
    p.add_argument("--file", default=DEFAULT, help=f"token file (default {DEFAULT})")
    s = p.add_subparsers(dest="tokens_cmd", metavar="ACTION", required=True)
    a = s.add_parser("add", help="create a token (printed once)")
    a.add_argument("name")
    a.add_argument("--role", action="append", required=True, choices=ROLES, help="repeatable")
    a.add_argument("--account", action="append", type=int, required=True, help="account id (repeatable)")
    a.add_argument(
        "--cidr", action="append", default=None, help="allowed client CIDR (repeatable; default loopback)"
    )
    a.add_argument("--rate", type=float, default=100.0, help="requests/orders per second (default 100)")
    a.add_argument("--burst", type=int, default=200)
    a.add_argument("--totp", action="store_true", help="enrol a TOTP second factor (always for risk/admin)")
    a.add_argument("--expires-days", type=float, default=0.0, help="0 = never")
    a.add_argument("--json", action="store_true")
    a.set_defaults(func=_add)
    ls = s.add_parser("list", help="list tokens (never shows secrets)")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=_list)
    r = s.add_parser("revoke", help="revoke a token by id")
    r.add_argument("token_id")
    r.set_defaults(func=_revoke)
    ro = s.add_parser("rotate", help="new secret for a token; the old one stays valid --grace seconds")
    ro.add_argument("token_id")
    ro.add_argument("--grace", type=int, default=0)
    ro.set_defaults(func=_rotate)


def _add(args: argparse.Namespace) -> int:
    store = TokenStore(args.file)
    expires = time.time_ns() + int(args.expires_days * 86400e9) if args.expires_days > 0 else 0
    rec, token = store.add(
        args.name,
        args.role,
        args.account,
        args.cidr or ("127.0.0.1/32", "::1/128"),
        rate=args.rate,
        burst=args.burst,
        totp=args.totp,
        expires_ns=expires,
    )
    out = {**rec.public(), "token": token}
    if rec.totp_secret:
        out["totp_secret"] = rec.totp_secret
        out["totp_uri"] = pyotp.TOTP(rec.totp_secret).provisioning_uri(name=rec.name, issuer_name="oms")
    if args.json:
        print(json.dumps(out))
    else:
        for k, v in out.items():
            print(f"{k:12} {v}")
        print("(the token and TOTP secret are shown once; store them now)")
    return 0


def _list(args: argparse.Namespace) -> int:
    recs = [r.public() for r in TokenStore(args.file).list()]
    if args.json:
        print(json.dumps(recs))
        return 0
    print(f"{'id':12} {'name':16} {'roles':20} {'accounts':12} {'rate':>8} {'totp':5} {'state':8} cidrs")
    for r in recs:
        state = (
            "revoked"
            if r["revoked"]
            else ("expired" if r["expires_ns"] and r["expires_ns"] < time.time_ns() else "active")
        )
        print(
            f"{r['id']:12} {r['name'][:16]:16} {','.join(r['roles']):20} "
            f"{','.join(map(str, r['accounts'])):12} {r['rate']:>8g} {'yes' if r['totp'] else 'no':5} "
            f"{state:8} {','.join(r['cidrs'])}"
        )
    return 0


def _revoke(args: argparse.Namespace) -> int:
    rec = TokenStore(args.file).revoke(args.token_id)
    print(f"revoked {rec.id} ({rec.name}); the gateway refuses it within 1 s")
    return 0


def _rotate(args: argparse.Namespace) -> int:
    _, token, until = TokenStore(args.file).rotate(args.token_id, args.grace)
    print(f"token {token}")
    if until:
        print(f"old secret valid until {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(until / 1e9))}")
    return 0
