"""CLI room, `oms audit`: verify and read the hash-chained audit log (store room's command group).

Touches the database named by --dsn, env OMS_PG_DSN or `[store].postgres_dsn`, read-only.

    oms audit verify [--dsn DSN] [--json]   walk the chain; exit 0 intact, 1 tampered (each bad row named)
    oms audit tail   [--dsn DSN] [-n 20]    the last rows
"""

from __future__ import annotations

import argparse
import json

import psycopg

from oms.errors import ConfigError
from oms.store.audit import AuditLog
from oms.store.settings import resolve


def _log(args: argparse.Namespace) -> AuditLog:
    return AuditLog(resolve(args.dsn, None, args.config).postgres_dsn)


def _verify(args: argparse.Namespace) -> int:
    log = _log(args)
    try:
        rep = log.verify()
    except psycopg.OperationalError as e:
        raise ConfigError(f"cannot connect to PostgreSQL: {str(e).strip()}") from e
    except psycopg.errors.UndefinedTable as e:
        raise ConfigError("no audit tables in this database: run `oms db migrate` first") from e
    finally:
        log.close()
    if args.json:
        print(
            json.dumps(
                {
                    "ok": rep.ok,
                    "rows": rep.rows,
                    "head_id": rep.head_id,
                    "head_hash": rep.head_hash.hex(),
                    "problems": rep.problems,
                }
            )
        )
    elif rep.ok:
        print(f"audit log intact: {rep.rows} rows, head id={rep.head_id} hash={rep.head_hash.hex()}")
    else:
        print(f"audit log TAMPERED: {len(rep.problems)} problem(s) in {rep.rows} rows")
        for p in rep.problems:
            print(f"  {p}")
    return 0 if rep.ok else 1


def _tail(args: argparse.Namespace) -> int:
    log = _log(args)
    try:
        rows = log.rows()[-args.n :]
    except psycopg.OperationalError as e:
        raise ConfigError(f"cannot connect to PostgreSQL: {str(e).strip()}") from e
    finally:
        log.close()
    for r in rows:
        print(
            f"{r.id:>8} {r.ts_ns} {r.actor:<16} {r.action:<20} {r.subject:<28} {r.detail} {r.hash.hex()[:16]}"
        )
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("audit", help="audit log (hash chain): verify, tail")
    s = p.add_subparsers(dest="audit_command", metavar="SUBCOMMAND", required=True)
    v = s.add_parser("verify", help="detect changed, removed or reordered rows (exit 1 if any)")
    v.add_argument("--json", action="store_true", help="one JSON object")
    v.set_defaults(func=_verify)
    t = s.add_parser("tail", help="print the last rows")
    t.add_argument("-n", type=int, default=20)
    t.set_defaults(func=_tail)
    for q in (v, t):
        q.add_argument("--dsn", default=None, help="libpq conninfo (default: env OMS_PG_DSN, [store])")
        q.add_argument("--config", default=None, help="configs/oms.toml path")
