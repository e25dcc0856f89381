"""CLI room, gateway group: `oms certs init|client` — a development CA and TLS certificates.

Touches only the output directory (default var/certs). Logic lives in oms/api/certs.py.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from oms.api import certs


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("certs", help="development CA and TLS certificates for the gateway")
    s = p.add_subparsers(dest="certs_cmd", metavar="ACTION", required=True)
    i = s.add_parser(
        "init", help="create a dev CA, a server certificate (localhost, 127.0.0.1, ::1) and a client one"
    )
    i.add_argument("--out", default="var/certs", help="output directory (default var/certs)")
    i.add_argument("--days", type=int, default=365)
    i.add_argument("--host", action="append", default=[], help="extra server name or IP (repeatable)")
    i.add_argument("--force", action="store_true", help="replace an existing dev CA")
    i.set_defaults(func=_init)
    c = s.add_parser("client", help="issue another client certificate from the dev CA")
    c.add_argument("name")
    c.add_argument("--out", default="var/certs")
    c.add_argument("--days", type=int, default=365)
    c.set_defaults(func=_client)


def _init(args: argparse.Namespace) -> int:
    paths = certs.init(Path(args.out), days=args.days, force=args.force, hosts=tuple(args.host))
    for f in (paths.ca_cert, paths.server_cert, paths.server_key, paths.client_cert(), paths.client_key()):
        print(f)
    return 0


def _client(args: argparse.Namespace) -> int:
    crt, key = certs.client(certs.CertPaths(Path(args.out)), args.name, days=args.days)
    print(crt)
    print(key)
    return 0
