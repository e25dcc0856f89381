"""CLI room, `oms db`: PostgreSQL schema migrations (store room's command group).

Touches the database named by --dsn, env OMS_PG_DSN or `[store].postgres_dsn` (in that order).

    oms db migrate [--dsn DSN] [--to VERSION]     apply pending migrations (idempotent)
    oms db status  [--dsn DSN]                    list migrations and whether each is applied
"""

from __future__ import annotations

import argparse

import psycopg

from oms.errors import ConfigError
from oms.store import migrate as mig
from oms.store.settings import resolve


def _dsn(args: argparse.Namespace) -> str:
    return resolve(args.dsn, None, args.config).postgres_dsn


def _migrate(args: argparse.Namespace) -> int:
    done = mig.migrate(_dsn(args), target=args.to)
    if not done:
        print("schema is up to date")
    for m in done:
        print(f"applied {m.version:04d}_{m.name}")
    return 0


def _status(args: argparse.Namespace) -> int:
    try:
        rows = mig.status(_dsn(args))
    except psycopg.OperationalError as e:
        raise ConfigError(f"cannot connect to PostgreSQL: {str(e).strip()}") from e
    pending = 0
    for m, applied in rows:
        pending += not applied
        print(f"{m.version:04d}_{m.name:<24} {'applied' if applied else 'PENDING'}")
    return 1 if pending else 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("db", help="PostgreSQL schema (migrations)")
    s = p.add_subparsers(dest="db_command", metavar="SUBCOMMAND", required=True)
    for name, func, text in (
        ("migrate", _migrate, "apply pending migrations"),
        ("status", _status, "list migrations (exit 1 if any is pending)"),
    ):
        q = s.add_parser(name, help=text)
        q.add_argument("--dsn", default=None, help="libpq conninfo (default: env OMS_PG_DSN, [store])")
        q.add_argument("--config", default=None, help="configs/oms.toml path")
        if name == "migrate":
            q.add_argument("--to", type=int, default=None, help="stop after this version")
        q.set_defaults(func=func)
